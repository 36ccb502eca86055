#include "core/model/causal_lm.h"

#include "core/model/gpt2.h"
#include "core/model/kv_cache.h"
#include "core/model/llama.h"
#include "core/util/error.h"

#include <algorithm>

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
        // detach: the moved tensor must be a leaf again, not the output of a copy in a graph.
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

void CausalLM::setInputPrefixHook(std::shared_ptr<const InputPrefixHook> hook)
{
    m_inputPrefix = std::move(hook);
}

const std::shared_ptr<const InputPrefixHook>& CausalLM::inputPrefixHook() const
{
    return m_inputPrefix;
}

void CausalLM::setAttentionPrefixHook(std::shared_ptr<const AttentionPrefixHook> hook)
{
    m_attentionPrefix = std::move(hook);
}

const std::shared_ptr<const AttentionPrefixHook>& CausalLM::attentionPrefixHook() const
{
    return m_attentionPrefix;
}

std::int64_t CausalLM::virtualTokenCount() const
{
    return (m_inputPrefix ? std::max<std::int64_t>(0, m_inputPrefix->length()) : 0)
        + (m_attentionPrefix ? std::max<std::int64_t>(0, m_attentionPrefix->length()) : 0);
}

// Long for a reason: positions, padding, masks, rope tables and virtual-token prefixes are derived from the same
// batch shapes in one pass; apart they would hand a dozen tensors to each other.
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
    // Virtual positions in front of the caller's tokens: those already cached,
    // or, for a new sequence, those the hooks put in now.
    std::int64_t virtualLength = p.pastLength > 0 ? input.cache->virtualLength() : 0;
    if (p.pastLength == 0) {
        if (m_attentionPrefix && m_attentionPrefix->length() > 0) {
            const std::int64_t n = m_attentionPrefix->length();
            p.attentionPrefix = m_attentionPrefix->keysValues();
            const std::vector<std::int64_t> expected { m_config.numLayers, 2, m_config.numKvHeads, n,
                m_config.headDim };
            if (!p.attentionPrefix.defined() || p.attentionPrefix.sizes() != at::IntArrayRef(expected))
                throw Error("the attention prefix hook gave keys and values of shape "
                    + (p.attentionPrefix.defined() ? c10::str(p.attentionPrefix.sizes()) : std::string("(none)"))
                    + ", the model needs [layers, 2, kv heads, length, head dim] = "
                    + c10::str(at::IntArrayRef(expected)));
            p.pastLength = n;
        }
        if (m_inputPrefix && m_inputPrefix->length() > 0) {
            p.virtualTokens = m_inputPrefix->length();
            p.promptEmbeddings = m_inputPrefix->embeddings();
            if (!p.promptEmbeddings.defined() || p.promptEmbeddings.dim() != 2
                || p.promptEmbeddings.size(0) != p.virtualTokens || p.promptEmbeddings.size(1) != m_config.hiddenSize)
                throw Error("the input prefix hook gave embeddings of shape "
                    + (p.promptEmbeddings.defined() ? c10::str(p.promptEmbeddings.sizes()) : std::string("(none)"))
                    + ", the model needs [length, hidden] = "
                    + c10::str(at::IntArrayRef({ p.virtualTokens, m_config.hiddenSize })));
        }
        virtualLength = p.pastLength + p.virtualTokens;
        if (input.cache)
            input.cache->setVirtualLength(virtualLength);
    }
    const std::int64_t queries = p.virtualTokens + tokens;
    const std::int64_t keys = p.pastLength + queries;
    const std::int64_t given = keys - virtualLength; // what the caller's mask covers
    const auto longs = at::TensorOptions().dtype(at::kLong).device(ids.device());
    if (input.attentionMask.defined()) {
        const at::Tensor& m = input.attentionMask;
        if (m.dim() != 2 || m.size(0) != batch || m.size(1) != given)
            throw InputError("the attention mask must be [batch, cached + new tokens] = "
                + c10::str(at::IntArrayRef({ batch, given })) + ", got " + c10::str(m.sizes()));
        p.keyMask = m.to(ids.device()).to(at::kLong);
        if (virtualLength > 0)
            p.keyMask = at::cat({ at::ones({ batch, virtualLength }, longs), p.keyMask }, 1);
    }
    if (input.positionIds.defined()) {
        if (input.positionIds.sizes() != ids.sizes())
            throw InputError("position ids must have the input ids' shape " + c10::str(ids.sizes()) + ", got "
                + c10::str(input.positionIds.sizes()));
        p.positionIds = input.positionIds.to(ids.device()).to(at::kLong);
        if (at::any(p.positionIds < 0).item<bool>())
            throw InputError("position ids must not be negative");
        if (virtualLength > 0)
            p.positionIds = p.positionIds + virtualLength;
        if (p.virtualTokens > 0)
            p.positionIds = at::cat({ at::arange(p.pastLength, p.pastLength + p.virtualTokens, longs)
                                            .unsqueeze(0)
                                            .expand({ batch, p.virtualTokens }),
                                        p.positionIds },
                1);
    } else if (p.keyMask.defined()) {
        at::Tensor positions = p.keyMask.cumsum(1) - 1;
        positions = positions.masked_fill(p.keyMask == 0, 1);
        p.positionIds = positions.narrow(1, p.pastLength, queries);
    } else {
        p.positionIds = at::arange(p.pastLength, keys, longs).unsqueeze(0).expand({ batch, queries });
    }
    if (input.segmentIds.defined()) {
        if (input.segmentIds.sizes() != ids.sizes())
            throw InputError("segment ids must have the input ids' shape " + c10::str(ids.sizes()) + ", got "
                + c10::str(input.segmentIds.sizes()));
        if (keys - virtualLength != tokens)
            throw InputError("segment ids are for a new sequence; this forward continues cached positions");
        const at::Tensor segments = input.segmentIds.to(ids.device()).to(at::kLong);
        const at::Tensor querySegments
            = virtualLength > 0 ? at::cat({ at::zeros({ batch, queries - tokens }, longs), segments }, 1) : segments;
        const at::Tensor keySegments
            = virtualLength > 0 ? at::cat({ at::zeros({ batch, virtualLength }, longs), segments }, 1) : segments;
        // [B, N, 1] vs [B, 1, S]: the same segment, or a key in the shared segment 0.
        p.segmentMask = (querySegments.unsqueeze(2) == keySegments.unsqueeze(1))
                            .logical_or(keySegments.unsqueeze(1) == 0)
                            .unsqueeze(1);
    }
    return p;
}

at::Tensor CausalLM::withVirtualTokens(const Prepared& p, const at::Tensor& x)
{
    if (p.virtualTokens == 0)
        return x;
    const at::Tensor prompt = p.promptEmbeddings.to(x.device(), x.scalar_type()); // [V, H]
    return at::cat({ prompt.unsqueeze(0).expand({ x.size(0), -1, -1 }), x }, 1); // [B, V + T, H]
}

at::Tensor CausalLM::callerTokens(const Prepared& p, const at::Tensor& x)
{
    if (p.virtualTokens == 0)
        return x;
    return x.narrow(1, p.virtualTokens, x.size(1) - p.virtualTokens);
}

at::Tensor CausalLM::lastVirtualToken(const Prepared& p, const at::Tensor& x)
{
    if (p.virtualTokens == 0)
        return {};
    return x.select(1, p.virtualTokens - 1);
}

std::pair<at::Tensor, at::Tensor> CausalLM::attentionKeysValues(
    const Prepared& p, std::int64_t layer, const at::Tensor& k, const at::Tensor& v, KvCache* cache)
{
    at::Tensor keys = k;
    at::Tensor values = v;
    if (p.attentionPrefix.defined()) {
        const at::Tensor prefix = p.attentionPrefix.select(0, layer).to(k.device(), k.scalar_type()); // [2, Hkv, P, D]
        const at::Tensor prefixKeys
            = prefix.select(0, 0).unsqueeze(0).expand({ k.size(0), -1, -1, -1 }); // [B, Hkv, P, D]
        const at::Tensor prefixValues = prefix.select(0, 1).unsqueeze(0).expand({ k.size(0), -1, -1, -1 });
        if (cache) {
            cache->append(layer, prefixKeys, prefixValues);
        } else {
            keys = at::cat({ prefixKeys, k }, 2);
            values = at::cat({ prefixValues, v }, 2);
        }
    }
    if (cache)
        return cache->append(layer, keys, values);
    return { keys, values };
}

std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, ParameterSource& source)
{
    validateModelConfig(config, "model config");
    if (config.architecture == Architecture::Gpt2)
        return std::make_unique<Gpt2Model>(config, source);
    return std::make_unique<LlamaModel>(config, source);
}

} // namespace tunebench
