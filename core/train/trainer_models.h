// The models an objective runs during training: the policy (the model with its adapter)
// and the reference (the base model, without gradients).
#pragma once

#include "core/method/objective.h"

#include <functional>
#include <memory>

namespace tunebench {

class Adapter;
class CausalLM;

// The teacher (distillation) is a frozen model loaded by the run and handed over with setTeacher().
// The reference is the same model with the adapter switched off when the adapter can be,
// else a frozen copy loaded from the model folder (full and partial fine-tuning), made only
// when an objective first asks for it. Used on the training thread only.
class TrainerModels final : public ModelAccess {
public:
    TrainerModels(const CausalLM& model, Adapter& adapter, std::function<std::unique_ptr<CausalLM>()> loadCopy);
    ~TrainerModels() override;

    ForwardOutput policy(const ForwardInput& input) override;
    ForwardOutput reference(const ForwardInput& input) override;
    ForwardOutput teacher(const ForwardInput& input) override;
    // Samples from the policy with core/model/generate; without EOS ids in options, the model's own.
    std::vector<GeneratedSequence> generate(
        const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options) override;

    // Takes the frozen teacher (setRequiresGrad(false) is applied here).
    void setTeacher(std::unique_ptr<CausalLM> teacher);

    // Frees the frozen copy (its numbers are cached); a later reference() loads it again.
    void dropReference();

private:
    const CausalLM& m_model;
    Adapter& m_adapter;
    std::function<std::unique_ptr<CausalLM>()> m_loadCopy;
    std::unique_ptr<CausalLM> m_copy;
    std::unique_ptr<CausalLM> m_teacher;
};

} // namespace tunebench
