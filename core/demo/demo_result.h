#pragma once

// What the demo gives back: a row per preset run with its measures, and the
// JSON line and table `tunebench-cli demo` prints from them.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::demo {

// One row of the demo's result.
struct DemoRun {
    std::string name; // the preset's name
    std::string group; // the preset's name in its file: the seeds of one preset share it (demo.seeds)
    std::optional<std::int64_t> seed; // the seed demo.seeds gave this run
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
    // LoRA runs: MiB of the frozen base weights as the run held them (float32, or the linear layers
    // quantised with quantize_base).
    std::optional<double> baseWeightMiB;
    std::string quantizeBase; // the run's quantize_base when not none
    // GRPO runs: reward_mean and distinct_2 of the sampled groups over the first and the last quarter of the
    // steps (at most 5 steps each; one step each in a run of under 8 steps).
    std::optional<double> rewardBefore, rewardAfter;
    std::optional<double> groupDistinct2Before, groupDistinct2After;
    // The demo's evaluation tasks (facts as multiple choice, sums as generation): "TASK/METRIC" -> value for the
    // run's model, and for the demo model it started from (the same for every run whose model is the demo's).
    std::map<std::string, double> evaluation;
    std::map<std::string, double> evaluationBase;
    bool reused = false; // finished in an earlier demo and measured then
};

struct DemoStage {
    std::string name;
    double seconds = 0;
    bool cached = false;
};

// The demo's two-stage pipeline and its forgetting matrix (demo_pipeline.h).
struct DemoPipeline {
    std::int64_t id = 0; // the workspace pipeline
    std::string name;
    std::filesystem::path file; // the pipeline file the demo wrote
    std::vector<std::string> stages;
    std::vector<std::int64_t> runIds; // each stage's run
    std::vector<std::string> columns; // "STAGE METRIC"
    std::vector<std::vector<double>> rows; // rows[0]: the demo model; rows[j]: after stage j
    nlohmann::json measures = nlohmann::json::array(); // average, bwt, forgetting, fwt per direction
    bool reused = false;
};

struct DemoResult {
    std::filesystem::path modelDir;
    std::filesystem::path dataDir;
    bool modelCached = false;
    std::int64_t modelParameters = 0;
    std::vector<DemoRun> runs;
    std::vector<DemoStage> stages;
    std::optional<DemoPipeline> pipeline;

    // {"runs": [{"name", "group", "adapter", "objective", "target_loss", "reference_delta_loss", "distinct_2",
    // "trainable_share"[, "seed"][, "evaluation": {"TASK/METRIC": value}]}, ...]}, and where presets ran over several
    // seeds "groups": [{"name", "n", "seeds", "runs", "metrics": {M: {"n", "mean", "std", "ci95": [low, high]}}}] and
    // "comparisons": [{"a", "b", "metrics": {M: {"test", "difference", "ci95", "p", "effect_size", "effect",
    // "verdict"}}}] for every two such groups (a paired t test when both ran the same seeds, else Welch's).
    nlohmann::json toJson() const;
    // The same as a readable table, with the extra columns (accuracy, KL, intruder dimensions), then the
    // seed groups' mean +- std with 95% t intervals and the tests between them.
    std::string table() const;
};

} // namespace tunebench::demo
