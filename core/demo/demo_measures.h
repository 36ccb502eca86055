#pragma once

// The demo's measures, the same for every run afterwards: the run's model (its
// model folder plus its adapter) against the demo model on the held-out target
// cards (loss, exact-match accuracy), on the reference set (loss change, KL)
// and on sampled answers to the probe prompts (distinct-2).

#include "core/demo/demo_result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace tunebench {

class CausalLM;
class PluginRegistry;
class RunStore;
class Tokenizer;
class Workspace;
struct EvalTaskFile;
struct ForgettingResult;
struct RunRecord;

namespace demo {

class DemoMeasures {
public:
    // Loads the demo model (the base every run is measured against) and its tokenizer. dataDir: the build's data/.
    // tasksFile: the demo's evaluation tasks (DemoBuild::evaluationTasksFile); empty for none.
    DemoMeasures(Workspace& workspace, const PluginRegistry& plugins, const std::filesystem::path& modelDir,
        const std::filesystem::path& dataDir, std::uint64_t seed, const std::filesystem::path& tasksFile = {});
    ~DemoMeasures();

    std::int64_t modelParameters() const;
    // Bytes of the demo model's weights with the decoder layers' linear weights (what LoRA's all-linear targets)
    // held as `scheme` (none, nf4, int8) and the rest as they are.
    std::int64_t baseWeightBytes(const std::string& scheme) const;
    // Fills the measure fields of row (targetLoss, targetAccuracy, referenceDeltaLoss, referenceKl, distinct2,
    // and with a tasks file evaluation and evaluationBase). Throws Error when the run has no adapter folder.
    void measure(const RunRecord& run, DemoRun& row);
    bool hasEvaluationTasks() const { return m_tasks != nullptr; }

private:
    // The tasks' results as `tunebench-cli evaluate` prints them ({"tasks": {NAME: {METRIC: value}}}).
    nlohmann::json evaluate(const CausalLM& model) const;
    // The tasks' results of the model a run started from, cached in the workspace as `evaluate --run` caches
    // its base model's (evaluationCacheKey): computed once per model folder.
    nlohmann::json baseEvaluation(const std::filesystem::path& modelDir, const CausalLM& base);

    ForgettingResult score(const CausalLM& tuned, const std::string& file);
    double distinct2(const CausalLM& tuned);

    Workspace& m_workspace;
    const PluginRegistry& m_plugins;
    std::filesystem::path m_modelDir;
    std::filesystem::path m_dataDir;
    std::uint64_t m_seed;
    std::unique_ptr<CausalLM> m_base;
    std::unique_ptr<Tokenizer> m_tokenizer;
    std::unique_ptr<EvalTaskFile> m_tasks;
};

// {"tasks": {NAME: {"n", METRIC: value}}} as "NAME/METRIC" -> value (the count left out).
std::map<std::string, double> flatEvaluation(const nlohmann::json& evaluation);

// Measures are cached (RunManifest) under this key: the demo version and the run.
std::string measuresKey(std::int64_t runId);
// The measure fields of row as cached: {key, target_loss, target_accuracy, reference_delta_loss, reference_kl,
// distinct_2, evaluation, evaluation_base, seconds}, and back.
nlohmann::json measuresToJson(const DemoRun& row, const std::string& key, double seconds);
void measuresFromJson(const nlohmann::json& cached, DemoRun& row);

// trainable / total parameters from the run's start event; nullopt when it has none (a merged run).
std::optional<double> trainableShare(const RunStore& runs, std::int64_t runId);

// The measures as metrics of the run at its last step, under the names training measures use
// (demo/target_loss, demo/target_accuracy, forgetting/delta_loss, forgetting/kl, diversity/distinct_2,
// demo/trainable_share), so the Compare page and reports show them. Once per run: a run that has them keeps them.
void recordMeasureMetrics(Workspace& workspace, std::int64_t runId, const DemoRun& row);

} // namespace demo
} // namespace tunebench
