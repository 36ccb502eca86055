#include "core/train/trainer_models.h"

#include "core/method/adapter.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/util/error.h"

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

ForwardOutput TrainerModels::teacher(const ForwardInput& input)
{
    if (!m_teacher)
        throw InputError("the objective asked for a teacher model but names none (teacherModel())");
    at::NoGradGuard noGrad;
    return m_teacher->forward(input);
}

std::vector<GeneratedSequence> TrainerModels::generate(
    const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options)
{
    if (!options.eosTokenIds.empty())
        return tunebench::generate(m_model, prompts, options);
    GenerationOptions withEos = options;
    withEos.eosTokenIds = m_model.config().eosTokenIds;
    return tunebench::generate(m_model, prompts, withEos);
}

void TrainerModels::setTeacher(std::unique_ptr<CausalLM> teacher)
{
    if (teacher)
        teacher->setRequiresGrad(false);
    m_teacher = std::move(teacher);
}

void TrainerModels::dropReference()
{
    m_copy.reset();
}

} // namespace tunebench
