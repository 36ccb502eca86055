#pragma once

#include "core/train/train_config.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Adapter;
class BatchWriter;
class CausalLM;
class ChatTemplate;
class Tokenizer;
class Workspace;

// What fine-tuning does besides the loss, measured while a run trains
// (METHODS.md, "Measures"; keys in TrainConfig):
//  - samples: samples_per_prompt samples of each sample prompt (seed = the
//    run's seed + the prompt's index, so every evaluation draws alike), stored
//    in the samples table and sent as a `samples` event; their diversity as
//    metrics diversity/distinct_1..4, ead_1..4, self_bleu, the per_input_*
//    variants, embedding_distance (mean pairwise cosine distance of the base
//    model's mean-pooled last hidden states; per_input_embedding_distance too)
//    and token_entropy (the tuned model's next-token entropy where it drew);
//  - forgetting on a reference set: forgetting/loss, base_loss, delta_loss,
//    delta_perplexity, kl and, with probes, probe_accuracy and
//    probe_accuracy_delta; the base model's numbers are cached per workspace;
//  - weight space at checkpoints and at the end: per linear layer, the update
//    of its effective weight (adapter included), its effective rank and the
//    intruder dimensions; weights/update_norm, relative_update,
//    effective_rank (mean over changed layers) and intruder_dimensions.
//  - evaluation tasks (core/evaluation/evaluate.h): eval/<task>/<metric> of the model at the start, every
//    evaluation_steps and at the end, eval_base/<task>/<metric> of the base model at step 0 (cached per
//    workspace) and eval_delta/<task>/<metric> (model minus base) at each evaluation.
// Each measurement is a `measure` event and metrics at its step. The share of
// wall time the measures took since the run started is the metric
// measure_time_share. A scheduled measurement (not those at the start and the
// end, which always run) waits unless the share projected to the end of the run
// (the time spent, this measurement and the one at the end, each as long as its
// kind took last time, against the elapsed time plus the remaining steps at the
// mean step time) stays within measure_time_budget.
class TrainingMeasures {
public:
    struct Context {
        const TrainConfig& config;
        const CausalLM& model;
        Adapter& adapter;
        const Tokenizer& tokenizer;
        const ChatTemplate* chatTemplate = nullptr;
        Workspace* workspace = nullptr; // caches the base model's forgetting numbers
        std::optional<std::int64_t> runId;
        BatchWriter* writer = nullptr; // metrics and samples (with runId)
        std::function<void(const nlohmann::json&)> record; // an event, stored and sent
        std::function<void(const nlohmann::json&)> emit; // an event, sent only
        // A frozen copy of the base model, for adapters that cannot be switched off.
        std::function<std::unique_ptr<CausalLM>()> loadBase;
    };

    // Reads the sample prompts, the reference set and the evaluation tasks
    // (InputError naming the file and line for a bad one), so a run fails
    // before training.
    explicit TrainingMeasures(Context context);
    ~TrainingMeasures();
    TrainingMeasures(const TrainingMeasures&) = delete;
    TrainingMeasures& operator=(const TrainingMeasures&) = delete;

    bool enabled() const;

    // Before the first step of a new run (nothing when resuming).
    void atStart(std::int64_t step);
    // After each optimiser step; checkpointSaved when the trainer saved one at this step.
    void afterStep(std::int64_t step, std::int64_t totalSteps, bool checkpointSaved);
    // After the last step: everything that is on, then a `measures` summary event.
    void atEnd(std::int64_t step);

    double seconds() const { return m_seconds; }
    double timeShare() const;

private:
    enum What { Samples = 1, Forgetting = 2, Weights = 4, Evaluation = 8 };
    void measure(std::int64_t step, int what);
    void sampleAndDiversity(std::int64_t step);
    void forgetting(std::int64_t step);
    void weights(std::int64_t step);
    void evaluation(std::int64_t step);
    const CausalLM& select(bool base);
    void metric(std::int64_t step, const std::string& name, double value);

    struct Data;
    Data& d() { return *m_data; }
    Context m_context;
    std::unique_ptr<Data> m_data;
    std::chrono::steady_clock::time_point m_started;
    double m_seconds = 0;
    std::int64_t m_measurements = 0;
    std::int64_t m_deferred = 0;
    std::int64_t m_firstStep = 0;
    double m_lastCost[Evaluation + 1] = {}; // seconds the last measurement of each kind took
};

} // namespace tunebench
