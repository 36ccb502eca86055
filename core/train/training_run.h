// One training run as named stages, in the order runTraining (trainer.cpp) calls them:
//
//   TrainingRun run(config, plugins, options);   // model, methods, examples, adapter, optimiser
//   run.resume();                                // only with options.resume
//   run.cacheReference();                        // only with precompute_ref_log_probs
//   run.begin();                                 // start event, measures at the start
//   while (!run.done()) run.step();              // one optimiser step, its logging, eval, checkpoint
//   return run.finish();                         // last checkpoint, adapter, measures, finished event
//
// Each stage is a member function over the run's state (the members below), so a test can
// drive them one by one. Used on one thread.
#pragma once

#include "core/train/lr_schedule.h"
#include "core/train/throughput.h"
#include "core/train/trainer.h"

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Adapter;
class BatchWriter;
class CausalLM;
class ChatTemplate;
class CheckpointStore;
class DataOrder;
class DataParallel;
class Objective;
class RewardSet;
struct RolloutContext;
class Optimizer;
class Tokenizer;
class TrainerModels;
class TrainingExamples;
class TrainingMeasures;
struct CheckpointData;
struct LossOutput;
struct ObjectiveBatch;
struct ParameterGroup;

class TrainingRun {
public:
    // Loads the model, its tokenizer and chat template, the objective and adapter plugins and
    // the examples; attaches the adapter (from init_adapter when given) and builds the optimiser
    // and schedule; opens the store writer and the checkpoint folder. Throws InputError for a
    // configuration, model or dataset that does not fit.
    TrainingRun(const TrainConfig& config, const PluginRegistry& plugins, const TrainerOptions& options);
    ~TrainingRun();
    TrainingRun(const TrainingRun&) = delete;
    TrainingRun& operator=(const TrainingRun&) = delete;

    // Continues from the newest checkpoint: adapter, optimiser, RNG and counters.
    void resume();
    // Computes the reference numbers once, before any step (so from the base model), or reads
    // them back from the run folder; afterwards no reference model is kept.
    void cacheReference();
    // The start event and the measures taken before the first step.
    void begin();
    // Whether the run has reached its last step or stopped early.
    bool done() const;
    // One optimiser step over gradient_accumulation_steps micro-batches, then its step event,
    // evaluation, checkpoint and measures as scheduled. A non-finite loss or gradient skips the
    // step (nan_policy: skip) or checkpoints the last good state and throws TrainingError.
    void step();
    // The loss over the eval split, token-weighted; nullopt without one.
    std::optional<double> evaluate();
    // Saves the last checkpoint and the adapter, takes the closing measures (not for a
    // cancelled run), records the finished event and flushes the store.
    TrainResult finish(TrainResult::Status status = TrainResult::Status::Finished);

    // Whether to stop now for a cancel request: on several processes, when any rank got one (so all
    // stop at the same step).
    bool cancelRequested(bool requestedHere);

    std::int64_t stepNumber() const { return m_step; }
    std::int64_t totalSteps() const { return m_totalSteps; }

private:
    struct Accumulated; // what the micro-batches of one step add up to
    Accumulated accumulateGradients(std::int64_t firstMicro);
    Accumulated zerothOrderEstimate(std::int64_t firstMicro); // optim: mezo
    void skipOrStop(const std::string& what);
    void logStep(const Accumulated& a, double lr, std::int64_t firstMicro, double seconds, double gradNorm);
    void evaluateIfDue();
    LossOutput lossOf(const ObjectiveBatch& batch);
    void rebuildOptimizer();
    void setUpRollouts(const PluginRegistry& plugins);
    CheckpointData snapshot() const;
    void saveCheckpoint();
    void writeAdapter() const;
    void record(const nlohmann::json& event);
    void emit(const nlohmann::json& event) const;
    void metric(const std::string& name, double value);

    const TrainConfig& m_config;
    const TrainerOptions& m_options;
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Tokenizer> m_tokenizer;
    std::unique_ptr<ChatTemplate> m_chatTemplate; // null without one
    std::unique_ptr<Objective> m_objective;
    std::unique_ptr<Adapter> m_adapter;
    std::unique_ptr<TrainingExamples> m_examples;
    std::vector<ParameterGroup> m_groups;
    std::unique_ptr<Optimizer> m_optimizer;
    std::unique_ptr<DataOrder> m_order;
    std::unique_ptr<BatchWriter> m_writer; // null without a workspace and run id
    std::unique_ptr<CheckpointStore> m_checkpoints;
    std::unique_ptr<TrainerModels> m_models;
    std::unique_ptr<TrainingMeasures> m_measures;
    std::unique_ptr<RewardSet> m_rewards; // online objectives only
    std::unique_ptr<RolloutContext> m_rollout;
    std::unique_ptr<DataParallel> m_parallel; // null for one process
    bool m_lead = true; // writes the store, events, checkpoints and measures (rank 0)
    std::int64_t m_microPerStep = 1; // gradient_accumulation_steps x world size
    c10::DeviceType m_deviceType;
    bool m_autocast = false; // mixed_precision: bf16

    TrainResult m_result;
    std::int64_t m_stepsPerEpoch = 1;
    std::int64_t m_stepsPerBatch = 1; // Objective::stepsPerBatch
    std::int64_t m_totalSteps = 1;
    LrSchedule m_schedule;
    std::int64_t m_step = 0;
    std::int64_t m_lastStage = -1;
    std::optional<PeakFlops> m_peakFlops; // measured or looked up at the first logged step
    std::optional<double> m_bestEval;
    std::map<std::string, double> m_evalMetrics; // the objective's metrics at the last evaluation
    std::int64_t m_evalsWithoutImprovement = 0;
    std::int64_t m_skippedSteps = 0;
    double m_lastLoss;
    bool m_stoppedEarly = false;
};

} // namespace tunebench
