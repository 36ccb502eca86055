#include "core/train/trainer_models.h"

#include "core/method/adapter.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"

#include <ATen/core/grad_mode.h>

namespace tunebench {

TrainerModels::TrainerModels(
    const CausalLM& model, Adapter& adapter, std::function<std::unique_ptr<CausalLM>()> loadCopy)
    : m_model(model)
    , m_adapter(adapter)
    , m_loadCopy(std::move(loadCopy))
{ }

TrainerModels::~TrainerModels() = default;

ForwardOutput TrainerModels::policy(const ForwardInput& input)
{
    return m_model.forward(input);
}

std::vector<GeneratedSequence> TrainerModels::generate(
    const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options)
{
    return tunebench::generate(m_model, prompts, options);
}

ForwardOutput TrainerModels::reference(const ForwardInput& input)
{
    at::NoGradGuard noGrad;
    if (!m_adapter.canDisable()) {
        if (!m_copy) {
            m_copy = m_loadCopy();
            m_copy->setRequiresGrad(false);
        }
        return m_copy->forward(input);
    }
    m_adapter.setEnabled(false);
    struct Restore {
        Adapter& a;
        ~Restore() { a.setEnabled(true); }
    } restore { m_adapter };
    return m_model.forward(input);
}

void TrainerModels::dropReference()
{
    m_copy.reset();
}

} // namespace tunebench
