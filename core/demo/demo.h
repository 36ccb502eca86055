#pragma once

// The bundled demo (`tunebench-cli demo`): builds what is missing in a
// workspace (demo_build: the generated data, a byte-level BPE tokenizer
// trained on it, a small Llama pretrained on it, the demo datasets), runs the
// presets in resources/demo (demo_presets) that reproduce findings from the
// literature in miniature, training and merging in this process (demo_runs),
// and measures every run the same way afterwards (demo_measures). The result
// is a row per run (demo_result).

#include "core/demo/demo_result.h"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;

namespace demo {

// The name --only gives the demo's two-stage pipeline (demo_pipeline.h).
inline constexpr const char* kPipelineName = "pipeline";

struct DemoOptions {
    std::filesystem::path workspace; // created when missing
    std::filesystem::path presetsDir; // resources/demo
    bool fresh = false; // rebuild the model and data, train every preset again
    bool quick = false; // a small model, corpus and few steps (tests)
    std::vector<std::string> only; // preset names and kPipelineName; empty: all
    std::uint64_t seed = 1234;
    std::int64_t threads = 0; // intra-op threads of every run (the `threads` key); 0: one per core
    std::function<void(const std::string&)> progress; // one line of progress (stderr)
};

// Runs the demo. Throws InputError naming the preset file and field for a bad
// preset, and Error (or TrainingError) when a step fails; a run that fails is
// recorded as failed in the workspace first.
DemoResult runDemo(const DemoOptions& options, const PluginRegistry& plugins);

} // namespace demo
} // namespace tunebench
