#include "core/model/causal_lm.h"

#include "core/model/gpt2.h"
#include "core/model/kv_cache.h"
#include "core/model/llama.h"
#include "core/util/error.h"

namespace tunebench {

CausalLM::CausalLM(ModelConfig config)
    : m_config(std::move(config))
{ }

void CausalLM::addParameter(ParameterSource& source, const std::string& name, at::Tensor* slot,
    std::vector<std::int64_t> shape, ParameterRole role)
{
    *slot = source.make(name, shape, role);
    m_slots.push_back({ name, slot });
}

Linear* CausalLM::addLinear(ParameterSource& source, const std::string& name, std::int64_t in, std::int64_t out,
    bool bias, Linear::Layout layout)
{
    auto layer = std::make_unique<Linear>(name, in, out, bias, layout);
    const std::vector<std::int64_t> shape = layout == Linear::Layout::OutIn ? std::vector<std::int64_t> { out, in }
                                                                            : std::vector<std::int64_t> { in, out };
    addParameter(source, name + ".weight", &layer->weight(), shape,
        layout == Linear::Layout::OutIn ? ParameterRole::LinearWeight : ParameterRole::Conv1DWeight);
    if (bias)
        addParameter(source, name + ".bias", &layer->bias(), { out }, ParameterRole::LinearBias);
    m_linears.push_back(std::move(layer));
    return m_linears.back().get();
}

std::vector<std::pair<std::string, at::Tensor>> CausalLM::namedParameters() const
{
    std::vector<std::pair<std::string, at::Tensor>> out;
    out.reserve(m_slots.size());
    for (const Slot& s : m_slots)
        out.emplace_back(s.name, *s.tensor);
    return out;
}

std::vector<std::string> CausalLM::parameterNames() const
{
    std::vector<std::string> out;
    out.reserve(m_slots.size());
    for (const Slot& s : m_slots)
        out.push_back(s.name);
    return out;
}

bool CausalLM::hasParameter(const std::string& name) const
{
    for (const Slot& s : m_slots) {
        if (s.name == name)
            return true;
    }
    return false;
}

at::Tensor CausalLM::parameter(const std::string& name) const
{
    for (const Slot& s : m_slots) {
        if (s.name == name)
            return *s.tensor;
    }
    throw InputError("the model has no parameter named '" + name + "'");
}

void CausalLM::setParameter(const std::string& name, const at::Tensor& value)
{
    for (Slot& s : m_slots) {
        if (s.name != name)
            continue;
        if (!value.defined() || value.sizes() != s.tensor->sizes())
            throw InputError("parameter '" + name + "' has shape " + c10::str(s.tensor->sizes()) + ", got "
                + (value.defined() ? c10::str(value.sizes()) : std::string("an undefined tensor")));
        *s.tensor = value.to(s.tensor->device(), s.tensor->scalar_type());
        return;
    }
    throw InputError("the model has no parameter named '" + name + "'");
}

std::vector<Linear*> CausalLM::linears() const
{
    std::vector<Linear*> out;
    out.reserve(m_linears.size());
    for (const auto& l : m_linears)
        out.push_back(l.get());
    return out;
}

Linear* CausalLM::linear(const std::string& name) const
{
    for (const auto& l : m_linears) {
        if (l->name() == name)
            return l.get();
    }
    return nullptr;
}

at::Device CausalLM::device() const
{
    return m_slots.empty() ? at::Device(at::kCPU) : m_slots.front().tensor->device();
}

at::ScalarType CausalLM::dtype() const
{
    return m_slots.empty() ? at::kFloat : m_slots.front().tensor->scalar_type();
}

void CausalLM::to(at::Device device, at::ScalarType dtype)
{
    for (Slot& s : m_slots) {
        const bool grad = s.tensor->requires_grad();
        // detach: the moved tensor must be a leaf again, not a copy node in a graph.
        *s.tensor = s.tensor->detach().to(device, dtype);
        if (grad)
            s.tensor->requires_grad_(true);
    }
}

void CausalLM::setRequiresGrad(bool requiresGrad)
{
    for (Slot& s : m_slots)
        s.tensor->requires_grad_(requiresGrad);
}

std::int64_t CausalLM::parameterCount() const
{
    std::int64_t n = 0;
    for (const Slot& s : m_slots)
        n += s.tensor->numel();
    return n;
}

CausalLM::Prepared CausalLM::prepare(const ForwardInput& input) const
{
    const at::Tensor& ids = input.inputIds;
    if (!ids.defined() || ids.dim() != 2 || ids.size(0) == 0 || ids.size(1) == 0)
        throw InputError("model input ids must be a non-empty [batch, tokens] tensor, got "
            + (ids.defined() ? c10::str(ids.sizes()) : std::string("nothing")));
    if (at::isFloatingType(ids.scalar_type()) || ids.scalar_type() == at::kBool)
        throw InputError("model input ids must be integers");
    const std::int64_t batch = ids.size(0);
    const std::int64_t tokens = ids.size(1);
    const auto minMax = at::aminmax(ids);
    const auto lowest = std::get<0>(minMax).item<std::int64_t>();
    const auto highest = std::get<1>(minMax).item<std::int64_t>();
    if (lowest < 0 || highest >= m_config.vocabSize)
        throw InputError("token id " + std::to_string(lowest < 0 ? lowest : highest) + " is outside the vocabulary [0, "
            + std::to_string(m_config.vocabSize) + ")");

    Prepared p;
    if (input.cache) {
        if (input.cache->numLayers() != m_config.numLayers)
            throw InputError("the KV cache has " + std::to_string(input.cache->numLayers()) + " layers, the model "
                + std::to_string(m_config.numLayers));
        p.pastLength = input.cache->length();
    }
    const std::int64_t keys = p.pastLength + tokens;
    const auto longs = at::TensorOptions().dtype(at::kLong).device(ids.device());
    if (input.attentionMask.defined()) {
        const at::Tensor& m = input.attentionMask;
        if (m.dim() != 2 || m.size(0) != batch || m.size(1) != keys)
            throw InputError("the attention mask must be [batch, cached + new tokens] = "
                + c10::str(at::IntArrayRef({ batch, keys })) + ", got " + c10::str(m.sizes()));
        p.keyMask = m.to(ids.device()).to(at::kLong);
    }
    if (input.positionIds.defined()) {
        if (input.positionIds.sizes() != ids.sizes())
            throw InputError("position ids must have the input ids' shape " + c10::str(ids.sizes()) + ", got "
                + c10::str(input.positionIds.sizes()));
        p.positionIds = input.positionIds.to(ids.device()).to(at::kLong);
        if (at::any(p.positionIds < 0).item<bool>())
            throw InputError("position ids must not be negative");
    } else if (p.keyMask.defined()) {
        at::Tensor positions = p.keyMask.cumsum(1) - 1;
        positions = positions.masked_fill(p.keyMask == 0, 1);
        p.positionIds = positions.narrow(1, p.pastLength, tokens);
    } else {
        p.positionIds = at::arange(p.pastLength, keys, longs).unsqueeze(0).expand({ batch, tokens });
    }
    return p;
}

std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, ParameterSource& source)
{
    validateModelConfig(config, "model config");
    if (config.architecture == Architecture::Gpt2)
        return std::make_unique<Gpt2Model>(config, source);
    return std::make_unique<LlamaModel>(config, source);
}

} // namespace tunebench
