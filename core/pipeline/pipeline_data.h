#pragma once

// A pipeline's data: each stage's dataset split into the examples it trains on and the held-out examples the
// forgetting matrix measures (splitTrainEval with the pipeline's held_out and the stage's seed), and the
// replayed examples mixed into a stage's training data.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;
class Workspace;
struct PipelineSpec;

// Replay's draw: count = min(poolSize, round(share x stageExamples)) indexes into the pool, the first `count`
// of a Fisher-Yates shuffle driven by SplitMix64(seed) (position t swapped with t + floor(u (poolSize - t))),
// in draw order.
std::vector<std::size_t> drawReplay(std::size_t poolSize, std::size_t stageExamples, double share, std::uint64_t seed);

struct PreparedStageData {
    std::filesystem::path trainFile; // JSON Lines: the stage's training examples, then the replayed ones
    std::filesystem::path heldOutFile; // JSON Lines: the stage's held-out examples
    std::string format; // the dataset format (text, instruction, chat ...)
    std::size_t trainExamples = 0; // the stage's own
    std::size_t replayed = 0;
    std::size_t heldOut = 0;
};

// Writes folder/stage-N/train.jsonl and heldout.jsonl for every stage (the same files for the same inputs, so a
// resumed pipeline trains on what it trained on). Throws InputError naming the file and stage: a dataset that
// cannot be read, too small to hold out an example, a clm stage on data that is not text, replay without an
// earlier stage of the same format.
std::vector<PreparedStageData> preparePipelineData(
    const PipelineSpec& spec, const PluginRegistry& plugins, Workspace* workspace, const std::filesystem::path& folder);

} // namespace tunebench
