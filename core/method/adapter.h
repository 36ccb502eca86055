#pragma once

#include "core/method/parameter_group.h"
#include "core/method/peft_form.h"

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class CausalLM;
struct ModelConfig;

// Encodes text with the run's tokenizer, special tokens added as
// transformers' tokenizer(text) adds them.
using TextEncoder = std::function<std::vector<std::int32_t>(const std::string& text)>;

struct AdapterSetup {
    CausalLM& model;
    nlohmann::json params; // the plugin's parameters, resolved against its schema
    std::uint64_t seed = 0;
    // For adapters initialised from text (prompt tuning), valid during
    // attach() only; empty when the caller has no tokenizer (tests), so such
    // an adapter must then say which parameter takes token ids instead.
    TextEncoder encodeText = {};
};

// What is trained: an adapter attaches to a model (inserting hooks into its
// named linear layers, or choosing which of its parameters train) and owns
// the trainable tensors. Implemented by adapter plugins; used by the trainer
// on its one training thread.
class Adapter {
public:
    virtual ~Adapter() = default;

    // Attaches to the model. Called once, before anything else. Throws
    // InputError when a parameter does not fit the model (naming it), e.g. a
    // target module the architecture does not have.
    virtual void attach(const AdapterSetup& setup) = 0;

    // The tensors the optimiser updates, grouped by weight decay and learning
    // rate scale (layer-wise decay). Names are the tensors' names in
    // checkpoints. Valid after attach; stable across calls.
    virtual std::vector<ParameterGroup> parameterGroups(double weightDecay) const = 0;

    // A training stage (an epoch) begins; stage counts from 0. Adapters that
    // change what trains during a run (half fine-tuning) do it here.
    virtual void beginStage(std::int64_t stage) { }

    // After each optimiser step (step counts from 1, the steps done so far).
    // Adapters that change their tensors between steps (sparse fine-tuning:
    // the dense phase ends, the update is masked and the weights reset) do it
    // here and return true when the optimiser's state no longer fits: the
    // trainer then builds a fresh optimiser over parameterGroups().
    virtual bool afterStep(std::int64_t step) { return false; }

    // Switching the adapter off gives back the base model (the reference model
    // of preference objectives, without a second copy of the weights).
    virtual bool canDisable() const { return false; }
    virtual void setEnabled(bool enabled) { }

    // Folding the adapter into the base weights (LoRA: W0 += s B A), so the
    // bare model computes what model plus adapter computed. After merge() the
    // adapter is detached from the model (its hooks removed) and only state()
    // stays valid. Methods with nothing to fold (full, freeze, BitFit) return
    // false from canMerge: their tensors already are the model's.
    virtual bool canMerge() const { return false; }
    virtual void merge() { }

    // The adapter's tensors (what a checkpoint stores and an export writes) and
    // their restoration. restoreState throws InputError for a missing tensor
    // or a shape that differs.
    virtual AdapterState state() const = 0;
    virtual void restoreState(const AdapterState& state) = 0;

    // The PEFT form (core/method/peft_form.h), for plugins whose descriptor
    // names a peftType; neither needs attach(). toPeft converts a saved state
    // (what state() returned, with the parameters it was trained with,
    // resolved against the schema) for a base model of the given config; it
    // throws InputError naming a missing tensor. fromPeft answers a folder of
    // the plugin's peftType: nullopt when it is not this plugin's to take (a
    // LORA folder with use_dora is DoRA's), else the plugin's parameters (the
    // caller resolves them against the schema), after renaming in `tensors`
    // whatever PEFT names differently from state(). It throws InputError
    // naming the field for a config it takes but cannot represent exactly.
    virtual PeftForm toPeft(const nlohmann::json& params, const AdapterState& state, const ModelConfig& model) const;
    virtual std::optional<nlohmann::json> fromPeft(const PeftImport& folder, AdapterState& tensors) const
    {
        return std::nullopt;
    }
};

} // namespace tunebench
