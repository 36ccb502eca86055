#include "core/model/llama.h"

#include "core/model/attention.h"
#include "core/model/checkpointing.h"
#include "core/model/kv_cache.h"
#include "core/model/layers.h"

#include <cmath>

namespace tunebench {

LlamaModel::LlamaModel(const ModelConfig& config, ParameterSource& source)
    : CausalLM(config)
    , m_rotary(config)
{
    const ModelConfig& c = this->config();
    const std::int64_t h = c.hiddenSize;
    const std::int64_t qDim = c.numHeads * c.headDim;
    const std::int64_t kvDim = c.numKvHeads * c.headDim;

    addParameter(source, "model.embed_tokens.weight", &m_embed, { c.vocabSize, h }, ParameterRole::Embedding);
    for (std::int64_t i = 0; i < c.numLayers; ++i) {
        auto layer = std::make_unique<Layer>();
        const std::string p = "model.layers." + std::to_string(i) + ".";
        // The order of transformers' named_parameters(): attention, MLP, norms.
        layer->q = addLinear(source, p + "self_attn.q_proj", h, qDim, c.qkvBias);
        layer->k = addLinear(source, p + "self_attn.k_proj", h, kvDim, c.qkvBias);
        layer->v = addLinear(source, p + "self_attn.v_proj", h, kvDim, c.qkvBias);
        layer->o = addLinear(source, p + "self_attn.o_proj", qDim, h, c.outputBias);
        if (c.qkNorm) {
            addParameter(
                source, p + "self_attn.q_norm.weight", &layer->qNorm, { c.headDim }, ParameterRole::NormWeight);
            addParameter(
                source, p + "self_attn.k_norm.weight", &layer->kNorm, { c.headDim }, ParameterRole::NormWeight);
        }
        layer->gate = addLinear(source, p + "mlp.gate_proj", h, c.intermediateSize, c.mlpBias);
        layer->up = addLinear(source, p + "mlp.up_proj", h, c.intermediateSize, c.mlpBias);
        layer->down = addLinear(source, p + "mlp.down_proj", c.intermediateSize, h, c.mlpBias);
        addParameter(source, p + "input_layernorm.weight", &layer->inputNorm, { h }, ParameterRole::NormWeight);
        addParameter(
            source, p + "post_attention_layernorm.weight", &layer->postAttentionNorm, { h }, ParameterRole::NormWeight);
        m_layers.push_back(std::move(layer));
    }
    addParameter(source, "model.norm.weight", &m_norm, { h }, ParameterRole::NormWeight);
    if (!c.tieWordEmbeddings)
        m_lmHead = addLinear(source, "lm_head", h, c.vocabSize, false);
}

at::Tensor LlamaModel::attention(std::int64_t index, const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
    const at::Tensor& sin, const at::Tensor& allowed, const Prepared& prepared, KvCache* cache) const
{
    const ModelConfig& c = config();
    const std::int64_t batch = x.size(0);
    const std::int64_t tokens = x.size(1);
    // [B, T, heads * D] -> [B, T, heads, D]; the per-head norm acts on D.
    at::Tensor q = layer.q->forward(x).view({ batch, tokens, c.numHeads, c.headDim });
    at::Tensor k = layer.k->forward(x).view({ batch, tokens, c.numKvHeads, c.headDim });
    at::Tensor v = layer.v->forward(x).view({ batch, tokens, c.numKvHeads, c.headDim });
    if (c.qkNorm) {
        q = rmsNorm(q, layer.qNorm, c.normEps);
        k = rmsNorm(k, layer.kNorm, c.normEps);
    }
    q = applyRotary(q.transpose(1, 2), cos, sin); // [B, H, T, D]
    k = applyRotary(k.transpose(1, 2), cos, sin); // [B, Hkv, T, D]
    v = v.transpose(1, 2);
    std::tie(k, v) = attentionKeysValues(prepared, index, k, v, cache); // [B, Hkv, S, D]
    const at::Tensor out = groupedAttention(q, k, v, allowed, 1.0 / std::sqrt(static_cast<double>(c.headDim)));
    return layer.o->forward(out);
}

ForwardOutput LlamaModel::forward(const ForwardInput& input) const
{
    const ModelConfig& c = config();
    const Prepared p = prepare(input);
    const std::int64_t batch = input.inputIds.size(0);
    const std::int64_t tokens = p.virtualTokens + input.inputIds.size(1); // N: virtual and caller's
    const std::int64_t keys = p.pastLength + tokens;
    const at::Device device = m_embed.device();

    ForwardOutput out;
    at::Tensor x = withVirtualTokens(p, at::embedding(m_embed, input.inputIds.to(device).to(at::kLong))); // [B, N, H]
    if (input.outputHiddenStates)
        out.hiddenStates.push_back(callerTokens(p, x));
    const auto [cos, sin] = m_rotary.cosSin(p.positionIds.to(device), x.scalar_type()); // [B, N, D]

    at::Tensor fullMask = causalAttentionMask(p.keyMask, batch, tokens, keys, std::nullopt, device);
    if (p.segmentMask.defined())
        fullMask = fullMask.logical_and(p.segmentMask.to(device));
    at::Tensor windowMask;
    for (std::int64_t i = 0; i < c.numLayers; ++i) {
        const Layer& layer = *m_layers[static_cast<std::size_t>(i)];
        const bool sliding = c.layerUsesSlidingWindow(i);
        if (sliding && !windowMask.defined()) {
            windowMask = causalAttentionMask(p.keyMask, batch, tokens, keys, c.slidingWindow, device);
            if (p.segmentMask.defined())
                windowMask = windowMask.logical_and(p.segmentMask.to(device));
        }
        const at::Tensor& allowed = sliding ? windowMask : fullMask;

        // Captured by value: a checkpointed layer runs again during backward, after this
        // forward has returned.
        const LayerFunction decoderLayer = [this, i, &layer, cos = cos, sin = sin, allowed = allowed, p,
                                               cache = input.cache](const at::Tensor& h) {
            const ModelConfig& cfg = config();
            const at::Tensor a
                = h + attention(i, layer, rmsNorm(h, layer.inputNorm, cfg.normEps), cos, sin, allowed, p, cache);
            const at::Tensor m = rmsNorm(a, layer.postAttentionNorm, cfg.normEps);
            return a + layer.down->forward(activation(layer.gate->forward(m), cfg.hiddenAct) * layer.up->forward(m));
        };
        x = gradientCheckpointing() && !input.cache ? checkpointedLayer(decoderLayer, x) : decoderLayer(x);
        if (input.outputHiddenStates && i + 1 < c.numLayers)
            out.hiddenStates.push_back(callerTokens(p, x));
    }
    x = rmsNorm(x, m_norm, c.normEps); // [B, N, H]
    if (input.outputLastVirtualLogits) {
        if (const at::Tensor last = lastVirtualToken(p, x); last.defined())
            out.lastVirtualLogits = m_lmHead ? m_lmHead->forward(last) : at::linear(last, m_embed); // [B, V]
    }
    x = callerTokens(p, x); // [B, T, H]
    if (input.outputHiddenStates)
        out.hiddenStates.push_back(x);
    if (input.lastPositionOnly)
        x = x.narrow(1, x.size(1) - 1, 1);
    if (input.deferLogits && (!m_lmHead || (!m_lmHead->hook() && !m_lmHead->hasBias()))) {
        out.finalHidden = x;
        out.headWeight = m_lmHead ? m_lmHead->weightOutIn() : m_embed;
        return out;
    }
    out.logits = m_lmHead ? m_lmHead->forward(x) : at::linear(x, m_embed); // [B, T, V]
    return out;
}

} // namespace tunebench
