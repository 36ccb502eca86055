#pragma once

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

struct ForwardInput;
struct ForwardOutput;
struct GeneratedSequence; // core/model/generate.h
struct GenerationOptions;

// The data an objective trains on.
enum class ObjectiveData { Sequences, PreferencePairs, UnpairedPreference };

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
};

} // namespace tunebench
