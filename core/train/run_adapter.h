#pragma once

// A run's adapter folder (runs/<id>/adapter): its one reader and writer, and the
// adapter loaded back onto a model: what `measure forgetting --adapter` evaluates,
// `export --format merged` folds in and `init_adapter` continues from.

#include "core/method/adapter.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace tunebench {

class PluginRegistry;

// The folder as the trainer, a merge and an import write it: adapter_config.json (the plugin, its
// resolved parameters, the seed, the base model folder, and any further keys a writer records, such
// as a merge's lineage) and adapter.safetensors (the adapter's state, {"format": "pt"}).
struct RunAdapterFiles {
    std::string adapter;
    nlohmann::json params = nlohmann::json::object();
    std::uint64_t seed = 0;
    std::string model; // the base model folder recorded with it (may be empty)
    AdapterState state;
    nlohmann::json extra = nlohmann::json::object(); // further keys of adapter_config.json ("merge": lineage)

    // Reads dir/adapter_config.json and dir/adapter.safetensors. Throws InputError naming the file and field.
    static RunAdapterFiles read(const std::filesystem::path& dir);
    // Writes both files into a folder beside dir and renames it into place, so a reader sees the whole
    // folder or none. Throws Error naming the path when it cannot be written.
    void write(const std::filesystem::path& dir) const;
    // Whether dir holds such a folder (both files present).
    static bool exists(const std::filesystem::path& dir);
};

// Attaches the adapter a run saved in `dir` (runs/<id>/adapter: adapter.safetensors and adapter_config.json naming
// the plugin, its parameters and seed) to `model` and restores its tensors. Throws InputError naming the file when
// the folder is not such a folder, or the plugin is missing.
// modelDir: the model folder, whose tokenizer adapters initialised from text (prompt tuning) attach with.
std::unique_ptr<Adapter> loadRunAdapter(const std::filesystem::path& dir, CausalLM& model,
    const PluginRegistry& plugins, const std::filesystem::path& modelDir);

// Writes the run's model with its adapter folded in as a Hugging Face folder (safetensors, sharded above
// maxShardBytes when given, config.json, tokenizer files from the base folder), so Tunebench and transformers load it
// without the adapter. Adapters that train the model's own tensors (full, freeze, BitFit, HFT, sparse) are written
// with those tensors; adapters that merge (the LoRA family, IA3) are merged; prompt and prefix tuning cannot be
// folded into weights (InputError). Returns the adapter's name.
std::string exportMergedModel(const std::filesystem::path& baseModel, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins, std::optional<std::uint64_t> maxShardBytes = {});

} // namespace tunebench
