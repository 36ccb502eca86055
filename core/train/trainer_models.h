// The models an objective runs during training: the policy (the model with its adapter)
// and the reference (the base model, without gradients).
#pragma once

#include "core/method/objective.h"

#include <functional>
#include <memory>

namespace tunebench {

class Adapter;
class CausalLM;

// The reference is the same model with the adapter switched off when the adapter can be,
// else a frozen copy loaded from the model folder (full and partial fine-tuning), made only
// when an objective first asks for it. Used on the training thread only.
class TrainerModels final : public ModelAccess {
public:
    TrainerModels(const CausalLM& model, Adapter& adapter, std::function<std::unique_ptr<CausalLM>()> loadCopy);
    ~TrainerModels() override;

    ForwardOutput policy(const ForwardInput& input) override;
    ForwardOutput reference(const ForwardInput& input) override;
    // Samples from the policy (the model with its adapter on) with a KV cache.
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options) override;

    // Frees the frozen copy (its numbers are cached); a later reference() loads it again.
    void dropReference();

private:
    const CausalLM& m_model;
    Adapter& m_adapter;
    std::function<std::unique_ptr<CausalLM>()> m_loadCopy;
    std::unique_ptr<CausalLM> m_copy;
};

} // namespace tunebench
