#include "core/model/gpt2.h"

#include "core/model/attention.h"
#include "core/model/checkpointing.h"
#include "core/model/kv_cache.h"
#include "core/model/layers.h"
#include "core/util/error.h"

#include <cmath>

namespace tunebench {

Gpt2Model::Gpt2Model(const ModelConfig& config, ParameterSource& source)
    : CausalLM(config)
{
    const ModelConfig& c = this->config();
    const std::int64_t h = c.hiddenSize;
    using L = Linear::Layout;
    addParameter(source, "transformer.wte.weight", &m_wte, { c.vocabSize, h }, ParameterRole::Embedding);
    addParameter(
        source, "transformer.wpe.weight", &m_wpe, { c.maxPositionEmbeddings, h }, ParameterRole::PositionEmbedding);
    for (std::int64_t i = 0; i < c.numLayers; ++i) {
        auto layer = std::make_unique<Layer>();
        const std::string p = "transformer.h." + std::to_string(i) + ".";
        addParameter(source, p + "ln_1.weight", &layer->ln1Weight, { h }, ParameterRole::NormWeight);
        addParameter(source, p + "ln_1.bias", &layer->ln1Bias, { h }, ParameterRole::NormBias);
        layer->qkv = addLinear(source, p + "attn.c_attn", h, 3 * h, true, L::InOut);
        layer->attnProj = addLinear(source, p + "attn.c_proj", h, h, true, L::InOut);
        addParameter(source, p + "ln_2.weight", &layer->ln2Weight, { h }, ParameterRole::NormWeight);
        addParameter(source, p + "ln_2.bias", &layer->ln2Bias, { h }, ParameterRole::NormBias);
        layer->fc = addLinear(source, p + "mlp.c_fc", h, c.intermediateSize, true, L::InOut);
        layer->mlpProj = addLinear(source, p + "mlp.c_proj", c.intermediateSize, h, true, L::InOut);
        m_layers.push_back(std::move(layer));
    }
    addParameter(source, "transformer.ln_f.weight", &m_lnfWeight, { h }, ParameterRole::NormWeight);
    addParameter(source, "transformer.ln_f.bias", &m_lnfBias, { h }, ParameterRole::NormBias);
    if (!c.tieWordEmbeddings)
        m_lmHead = addLinear(source, "lm_head", h, c.vocabSize, false);
}

ForwardOutput Gpt2Model::forward(const ForwardInput& input) const
{
    const ModelConfig& c = config();
    const Prepared p = prepare(input);
    const std::int64_t batch = input.inputIds.size(0);
    const std::int64_t tokens = p.virtualTokens + input.inputIds.size(1); // N: virtual and caller's
    const std::int64_t keys = p.pastLength + tokens;
    const std::int64_t heads = c.numHeads;
    const std::int64_t headDim = c.headDim;
    const at::Device device = m_wte.device();

    const at::Tensor positions = p.positionIds.to(device);
    const std::int64_t maxPosition = positions.max().item<std::int64_t>();
    if (maxPosition >= c.maxPositionEmbeddings)
        throw InputError("position " + std::to_string(maxPosition)
            + " is past GPT-2's learned positions (n_positions = " + std::to_string(c.maxPositionEmbeddings) + ")");

    ForwardOutput out;
    // Virtual tokens get position embeddings like any token, as GPT2Model adds wpe to whatever inputs_embeds it gets.
    at::Tensor x = withVirtualTokens(p, at::embedding(m_wte, input.inputIds.to(device).to(at::kLong)))
        + at::embedding(m_wpe, positions); // [B, N, H]
    if (input.outputHiddenStates)
        out.hiddenStates.push_back(callerTokens(p, x));
    at::Tensor allowed = causalAttentionMask(p.keyMask, batch, tokens, keys, std::nullopt, device);
    if (p.segmentMask.defined())
        allowed = allowed.logical_and(p.segmentMask.to(device));

    for (std::int64_t i = 0; i < c.numLayers; ++i) {
        const Layer& layer = *m_layers[static_cast<std::size_t>(i)];
        // Captured by value: a checkpointed layer runs again during backward, after this
        // forward has returned.
        const LayerFunction decoderLayer = [this, i, &layer, allowed = allowed, p, cache = input.cache, batch, heads,
                                               headDim](const at::Tensor& h) {
            const ModelConfig& cfg = config();
            const std::int64_t n = h.size(1);
            const at::Tensor a = layerNorm(h, layer.ln1Weight, layer.ln1Bias, cfg.normEps);
            const auto qkv = layer.qkv->forward(a).split(cfg.hiddenSize, -1); // 3 x [B, T, H]
            auto toHeads = [&](const at::Tensor& t) { return t.view({ batch, n, heads, headDim }).transpose(1, 2); };
            at::Tensor q = toHeads(qkv[0]); // [B, heads, N, D]
            at::Tensor k = toHeads(qkv[1]);
            at::Tensor v = toHeads(qkv[2]);
            std::tie(k, v) = attentionKeysValues(p, i, k, v, cache); // [B, heads, S, D]
            double scale = cfg.scaleAttnWeights ? 1.0 / std::sqrt(static_cast<double>(headDim)) : 1.0;
            if (cfg.scaleAttnByInverseLayerIdx)
                scale /= static_cast<double>(i + 1);
            const at::Tensor y = h + layer.attnProj->forward(groupedAttention(q, k, v, allowed, scale));
            const at::Tensor m = layerNorm(y, layer.ln2Weight, layer.ln2Bias, cfg.normEps);
            return y + layer.mlpProj->forward(activation(layer.fc->forward(m), cfg.hiddenAct));
        };
        x = gradientCheckpointing() && !input.cache ? checkpointedLayer(decoderLayer, x) : decoderLayer(x);
        if (input.outputHiddenStates && i + 1 < c.numLayers)
            out.hiddenStates.push_back(callerTokens(p, x));
    }
    x = layerNorm(x, m_lnfWeight, m_lnfBias, c.normEps); // [B, N, H]
    if (input.outputLastVirtualLogits) {
        if (const at::Tensor last = lastVirtualToken(p, x); last.defined())
            out.lastVirtualLogits = m_lmHead ? m_lmHead->forward(last) : at::linear(last, m_wte); // [B, V]
    }
    x = callerTokens(p, x); // [B, T, H]
    if (input.outputHiddenStates)
        out.hiddenStates.push_back(x);
    if (input.lastPositionOnly)
        x = x.narrow(1, x.size(1) - 1, 1);
    if (input.deferLogits && (!m_lmHead || (!m_lmHead->hook() && !m_lmHead->hasBias()))) {
        out.finalHidden = x;
        out.headWeight = m_lmHead ? m_lmHead->weightOutIn() : m_wte;
        return out;
    }
    out.logits = m_lmHead ? m_lmHead->forward(x) : at::linear(x, m_wte); // [B, T, V]
    return out;
}

} // namespace tunebench
