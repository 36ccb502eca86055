#pragma once

#include "core/reward/reward_set.h"
#include "core/distributed/distributed_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;

// A training run's configuration, with the keys users know from Hugging Face
// TrainingArguments and PEFT (flat, as in a YAML file):
//   model, dataset (a file) or dataset_id (a workspace dataset), adapter (or
//   method), objective, learning_rate, num_train_epochs, max_steps,
//   per_device_train_batch_size, gradient_accumulation_steps, lr_scheduler_type,
//   warmup_ratio, warmup_steps, weight_decay, max_grad_norm, optim, adam_beta1,
//   adam_beta2, adam_epsilon, mezo_eps, seed, cutoff_len, train_on_prompt, packing, gradient_checkpointing, val_size,
//   eval_steps, logging_steps, save_steps, save_total_limit,
//   early_stopping_patience, early_stopping_threshold, nan_policy, precompute_ref_log_probs,
//   device, mixed_precision, threads, and the measures taken while training (core/train/measures.h): sample_prompts,
//   sample_steps, samples_per_prompt, sample_max_new_tokens, sample_temperature, sample_top_p,
//   forgetting_reference, forgetting_steps, weight_analysis, evaluation_tasks, evaluation_steps,
//   evaluation_limit (or the section evaluation: {tasks, steps, limit}), measure_time_budget,
// plus the chosen adapter's and objective's own parameters (lora_r, beta ...), and for online objectives the
// reward functions, rewards: [{type: numeric, weight: 1.0}, {type: regex, pattern: "...", weight: 0.2}].
struct TrainConfig {
    std::string name;
    std::string model;
    std::string dataset; // a file path, or empty
    std::optional<std::int64_t> datasetId;
    std::string datasetFormat; // empty: detected
    std::string adapter = "full";
    std::string objective = "sft";
    nlohmann::json adapterParams = nlohmann::json::object(); // resolved by the plugin's schema
    nlohmann::json objectiveParams = nlohmann::json::object();
    // Online objectives (grpo): the reward functions and their weights, `rewards: [{type, weight, ...}]`.
    std::vector<RewardSpec> rewards;
    std::string initAdapter; // a PEFT folder, a run adapter folder or a run id the adapter starts from; empty: none

    double learningRate = 5e-5;
    double numTrainEpochs = 1.0;
    std::int64_t maxSteps = -1; // > 0 overrides epochs
    std::int64_t batchSize = 8;
    std::int64_t gradientAccumulationSteps = 1;
    std::string lrSchedulerType = "linear";
    double warmupRatio = 0.0;
    std::int64_t warmupSteps = 0; // > 0 overrides warmup_ratio
    double weightDecay = 0.0;
    double maxGradNorm = 1.0; // <= 0: no clipping
    std::string optim = "adamw_torch"; // adamw_torch (also "adamw"), sgd or mezo (core/train/mezo.h)
    double adamBeta1 = 0.9;
    double adamBeta2 = 0.999;
    double adamEpsilon = 1e-8;
    double sgdMomentum = 0.0;
    double mezoEps = 1e-3; // optim: mezo
    std::uint64_t seed = 42;
    std::int64_t cutoffLen = 1024;
    bool trainOnPrompt = false;
    bool packing = false; // short examples share rows of cutoff_len tokens (kept apart by attention)
    bool gradientCheckpointing = false; // activation checkpointing per decoder layer (CausalLM)
    double valSize = 0.0; // share of the data held out for evaluation
    std::int64_t evalSteps = 0; // 0: evaluate at the end of each epoch (when val_size > 0)
    std::int64_t loggingSteps = 1;
    std::int64_t saveSteps = 0; // 0: checkpoint at the end only
    std::int64_t saveTotalLimit = 2;
    std::int64_t earlyStoppingPatience = 0; // evaluations without improvement; 0: off
    double earlyStoppingThreshold = 0.0;
    std::string nanPolicy = "stop"; // stop or skip
    bool precomputeRefLogProbs = false; // reference numbers computed once and cached in the run folder
    std::string device = "cpu";
    std::string mixedPrecision = "none"; // none, or bf16: forward and loss under bfloat16 autocast
    std::int64_t threads = 0; // 0: one per core
    DistributedConfig distributed; // `distributed:` section: processes, hosts and rendezvous of a data-parallel run

    // Measures while training (core/train/measures.h). Sampling and diversity
    // run when there are prompts: the list, or the file they are read from.
    std::vector<std::string> samplePrompts;
    std::string samplePromptsFile; // one prompt a line (or a JSON object with "prompt")
    std::int64_t sampleSteps = 0; // every N steps besides start and end; 0: start and end only
    std::int64_t samplesPerPrompt = 4;
    std::int64_t sampleMaxNewTokens = 32;
    double sampleTemperature = 1.0;
    double sampleTopP = 1.0;
    std::string forgettingReference; // a reference set file; empty: no forgetting measures
    std::int64_t forgettingSteps = 0; // every N steps besides start and end
    bool weightAnalysis = false; // at checkpoints and at the end
    // Evaluation tasks (core/evaluation): `evaluation: {tasks, steps, limit}` in a run file.
    std::string evaluationTasks; // a tasks file; empty: no evaluation
    std::int64_t evaluationSteps = 0; // every N steps besides start and end
    std::int64_t evaluationLimit = 0; // the first N records of each task; 0: all
    double measureTimeBudget = 0.1; // scheduled measures wait unless the projected share of wall time stays within this

    // Parses a configuration (as read from YAML or JSON). Every key must be
    // known to the trainer or to the chosen adapter's or objective's schema:
    // an unknown key is an InputError naming it (with the closest known key),
    // as is a value of the wrong type or range. `source` names the file.
    static TrainConfig fromJson(const nlohmann::json& config, const PluginRegistry& plugins, const std::string& source);

    // Makes the evaluation tasks path of a configuration read from configFile absolute (relative paths are
    // relative to the file's folder), so the configuration stored in a workspace still finds it.
    static void resolvePaths(nlohmann::json& config, const std::filesystem::path& configFile);

    // The configuration as JSON with every value resolved (defaults filled in),
    // as stored with the run.
    nlohmann::json toJson() const;
};

} // namespace tunebench
