#pragma once

#include "core/method/parameter_group.h"
#include "core/model/generate.h"

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

struct ForwardInput;
struct ForwardOutput;
struct ModelConfig;
class RewardSet;

// The data an objective trains on. Prompts: online objectives (GRPO), which sample their own completions.
enum class ObjectiveData { Sequences, PreferencePairs, UnpairedPreference, Prompts };

// Token sequences, right-padded. [B, T] each; labels hold -100 where no loss is taken.
struct TokenBatch {
    at::Tensor inputIds;
    at::Tensor attentionMask;
    at::Tensor labels;
    // Packed rows (packing: true): ForwardInput's segmentIds and positionIds,
    // [B, T] each; undefined otherwise. Objectives pass them to the model.
    at::Tensor segmentIds;
    at::Tensor positionIds;
};

// Prompts of prompt data (ObjectiveData::Prompts): token ids as the model is prompted (chat template and its
// generation prompt applied), the rendered text, and each record's fields (its answer and any other field).
struct PromptBatch {
    std::vector<std::vector<std::int32_t>> ids;
    std::vector<std::string> texts;
    std::vector<nlohmann::json> fields;
    std::vector<std::int64_t> examples; // the records' example indices
    c10::Device device { c10::kCPU }; // the model's, where the objective's tensors go
};

// A completion an online objective sampled, with its reward, for the run's samples.
struct CompletionRecord {
    std::int64_t example = 0; // the prompt's example index
    int sampleIndex = 0; // which of its completions
    std::string prompt;
    std::string text;
    double reward = 0; // the weighted total
    std::vector<double> rewards; // each reward function's score, in the run's order
    std::uint64_t seed = 0; // the sampler's seed
};

// What online objectives need from the run besides the models. Set on every batch of such an objective.
struct RolloutContext {
    RewardSet* rewards = nullptr; // the run's reward functions (core/reward/reward_set.h)
    TokenDecoder decode; // token ids to text (the tokenizer's decode)
    std::vector<std::int64_t> eosTokenIds;
    std::optional<std::int64_t> padTokenId;
    std::uint64_t seed = 0; // the run's seed
    // Keeps a training step's completions (the samples table); may be empty.
    std::function<void(std::int64_t step, const std::vector<CompletionRecord>&)> recordCompletions;
};

// One optimiser micro-batch. Sequences for SFT; chosen/rejected (prompt and
// response in each, the prompt masked in labels) for pairs; sequences with
// `desirable` [B] (bool) for unpaired preference data.
struct ObjectiveBatch {
    TokenBatch sequences;
    TokenBatch chosen;
    TokenBatch rejected;
    at::Tensor desirable;
    // When the run precomputed them (precompute_ref_log_probs): what the
    // objective's referenceLogProbs() returned for these examples, [B, K].
    at::Tensor referenceLogProbs;
    // ObjectiveData::Prompts only.
    PromptBatch prompts;
    const RolloutContext* rollout = nullptr;
    // The optimiser step (from 0) and the micro-batch within it this batch trains; -1 outside training steps
    // (evaluation, reference caching).
    std::int64_t step = -1;
    std::int64_t micro = 0;
};

// Runs the models an objective needs. policy() records gradients; reference()
// runs the reference model (the base model with the adapter off, or a frozen
// copy) without them. Only objectives whose needsReference() is true may call
// reference(), and only those whose teacherModel() names a folder may call
// teacher(): that model, loaded once, frozen, run without gradients.
// generate() samples continuations of prompts (token ids) from the policy as
// it is now (core/model/generate.h; no gradients).
class ModelAccess {
public:
    virtual ~ModelAccess() = default;
    virtual ForwardOutput policy(const ForwardInput& input) = 0;
    virtual ForwardOutput reference(const ForwardInput& input) = 0;
    virtual ForwardOutput teacher(const ForwardInput& input);
    virtual std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options)
        = 0;
};

struct LossOutput {
    at::Tensor loss; // scalar, to minimise
    std::int64_t tokens = 0; // tokens the loss was taken over
    std::map<std::string, double> metrics; // logged beside the loss (rewards, accuracy ...)
};

// What is optimised. Implemented by objective plugins; used by the trainer on
// its one training thread.
class Objective {
public:
    virtual ~Objective() = default;
    // Called once with the plugin's resolved parameters.
    virtual void configure(const nlohmann::json& params) = 0;
    virtual ObjectiveData data() const = 0;
    virtual bool needsReference() const { return false; }
    // A model folder whose model teacher() runs (knowledge distillation); empty: none. The trainer
    // loads it once and refuses one whose vocabulary differs from the trained model's.
    virtual std::string teacherModel() const { return {}; }
    // Objectives whose reference enters only through per-example numbers
    // (DPO: the reference log-probs of chosen and rejected) can have them
    // computed in one pass before training and cached in the run folder, so
    // the reference model is not run (nor kept) while training. Returns
    // [B, K] for the batch, computed with models.reference(); loss() then
    // finds them in batch.referenceLogProbs.
    virtual bool canCacheReference() const { return false; }
    virtual at::Tensor referenceLogProbs(const ObjectiveBatch& batch, ModelAccess& models) { return {}; }
    virtual LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) = 0;
    // How many optimiser steps each batch of examples serves (GRPO's num_iterations: the completions sampled
    // for a batch are trained on that many times); the trainer draws the next batch after them.
    virtual std::int64_t stepsPerBatch() const { return 1; }
    // What the objective carries from one step to the next (GRPO's completions between its iterations), saved in
    // checkpoints so a resume continues exactly.
    virtual std::map<std::string, at::Tensor> state() const { return {}; }
    virtual void restoreState(const std::map<std::string, at::Tensor>& state) { }
    // Trainable tensors of the objective's own (a reward model's scalar head on the final hidden state), optimised
    // with the adapter's. attach() makes them once the model is loaded (its configuration and device), before
    // parameterGroups(), which may be called again. Their values must be in state(), so checkpoints keep them and
    // a resume restores them (in place: the optimiser holds these tensors); the run also writes them beside its
    // adapter (runs/<id>/objective.safetensors).
    virtual void attach(const ModelConfig& model, c10::Device device) { }
    virtual std::vector<ParameterGroup> parameterGroups(double weightDecay) const { return {}; }
};

} // namespace tunebench
