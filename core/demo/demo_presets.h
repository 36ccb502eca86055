#pragma once

// The demo's presets (resources/demo/*.yaml, in file-name order): a run
// configuration in the trainer's format with a `demo` section saying which
// finding it illustrates and what the demo supplies (the model and data), or a
// merge of earlier presets' runs.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::demo {

struct Preset {
    std::filesystem::path file;
    std::string name;
    std::string finding;
    std::string hash; // SHA-256 of the file: a changed preset trains again
    bool merge = false;
    // Training presets: the run configuration without the demo section, and its data.
    nlohmann::json config;
    std::string dataset = "target"; // target | preference | sums (prompts with answers, for grpo)
    std::string modelFrom; // another preset whose model (base + adapter, merged) this one starts from
    // demo.seeds: the preset is repeated once per seed (training.seed set), as a sweep over seeds would run
    // it. The first seed keeps the preset's name, the k-th is `<name>_seed<k>`; all share `group` (the name
    // in the file), under which the demo's table gives mean, std and a 95% interval across the seeds.
    std::string group;
    std::optional<std::int64_t> seed;
    // Merge presets: the method, the presets whose runs are merged, and demo.args as merge parameters
    // (weights, scaling, density, beta, gamma, alpha; checked against the method) and eval dataset.
    std::string method;
    std::vector<std::string> parents;
    nlohmann::json mergeParams = nlohmann::json::object();
    std::string evalDataset;
};

// Reads one preset. Throws InputError naming the file and the field (demo.kind, demo.runs, demo.args.beta ...).
Preset loadPreset(const std::filesystem::path& file);

// Every *.yaml / *.yml preset of dir in file-name order, a preset with demo.seeds expanded into one preset per
// seed; a name defined twice, or a merge or model_from naming a preset that does not come before, is an
// InputError naming the file.
std::vector<Preset> loadPresets(const std::filesystem::path& dir);

// The presets to run for the names asked for (--only; a seeded preset's group name selects all its seeds),
// with the earlier presets they need (merged runs, model_from), in file order; all of them when `only` is empty. An
// unknown name is an InputError listing the presets.
std::vector<const Preset*> selectPresets(const std::vector<Preset>& presets, const std::vector<std::string>& only);

// Quick mode (tests) cuts a training preset to max(3, max_steps / 15) steps and one warmup step.
void shortenForQuick(nlohmann::json& config);

} // namespace tunebench::demo
