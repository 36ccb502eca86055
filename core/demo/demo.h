#pragma once

// The bundled demo (`tunebench-cli demo`): builds what is missing in a
// workspace (a byte-level BPE tokenizer trained on the generated corpus, a
// small Llama pretrained on it, the demo datasets), runs the presets in
// resources/demo that reproduce findings from the literature in miniature,
// and measures every run the same way afterwards.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;

namespace demo {

// What a child `tunebench-cli` process gave back.
struct CommandOutcome {
    int exitCode = -1;
    std::string out;
    std::string err;
};

struct DemoOptions {
    std::filesystem::path workspace; // created when missing
    std::filesystem::path presetsDir; // resources/demo
    bool fresh = false; // rebuild the model and data, train every preset again
    bool quick = false; // a small model, corpus and few steps (tests)
    std::vector<std::string> only; // preset names; empty: all
    std::uint64_t seed = 1234;
    std::int64_t threads = 0; // intra-op threads of every run (the `threads` key); 0: one per core
    std::function<void(const std::string&)> progress; // one line of progress (stderr)
    // Runs `tunebench-cli ARGS...` as a child process (the merge presets).
    std::function<CommandOutcome(const std::vector<std::string>& args)> runCommand;
};

// One row of the demo's result.
struct DemoRun {
    std::string name; // the preset's name
    std::string adapter; // the adapter, or the merge method for a merged run
    std::string objective;
    std::int64_t runId = 0;
    std::string finding; // the finding the preset illustrates (its `demo.finding`)
    double targetLoss = 0; // mean loss per answer token on the target task's evaluation set
    double targetAccuracy = 0; // share of evaluation cards produced exactly (greedy)
    double referenceDeltaLoss = 0; // reference-set loss after minus before
    double referenceKl = 0; // KL(base || tuned) per reference token
    double distinct2 = 0; // distinct-2 of sampled answers to the probe prompts
    double trainableShare = 0; // trainable / total parameters (a merged run: its parents')
    std::optional<double> intruderDimensions; // from the run's weight analysis, when it has one
    bool reused = false; // finished in an earlier demo and measured then
};

struct DemoStage {
    std::string name;
    double seconds = 0;
    bool cached = false;
};

struct DemoResult {
    std::filesystem::path modelDir;
    std::filesystem::path dataDir;
    bool modelCached = false;
    std::int64_t modelParameters = 0;
    std::vector<DemoRun> runs;
    std::vector<std::string> skipped; // presets not run, with the reason
    std::vector<DemoStage> stages;

    // {"runs": [{"name", "adapter", "objective", "target_loss", "reference_delta_loss", "distinct_2",
    // "trainable_share"}, ...]}
    nlohmann::json toJson() const;
    // The same as a readable table, with the extra columns (accuracy, KL, intruder dimensions).
    std::string table() const;
};

// Runs the demo. Throws InputError naming the preset file and field for a bad
// preset, and Error (or TrainingError) when a step fails; a run that fails is
// recorded as failed in the workspace first.
DemoResult runDemo(const DemoOptions& options, const PluginRegistry& plugins);

} // namespace demo
} // namespace tunebench
