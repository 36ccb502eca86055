// Supervised fine-tuning: token cross-entropy on the trained tokens (the
// responses, unless train_on_prompt), each position predicting the next.
// Behind prompt tuning's virtual tokens the last of them predicts the first
// token, as in PEFT (which labels the virtual positions -100 and keeps every
// label of the input): a trained first token (text records, train_on_prompt)
// counts too. Where the logits of a batch would be large (vocabularies of 128k-150k) the
// loss makes them a chunk of tokens at a time (loss_chunk_tokens).

#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/linear_cross_entropy.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class SftObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_labelSmoothing = params.at("label_smoothing");
        // Resolved parameters have it; a caller that builds them by hand may leave it out.
        m_chunkTokens = params.value("loss_chunk_tokens", std::int64_t(0));
    }
    ObjectiveData data() const override { return ObjectiveData::Sequences; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const TokenBatch& b = batch.sequences;
        ForwardInput input;
        input.inputIds = b.inputIds;
        input.attentionMask = b.attentionMask;
        input.segmentIds = b.segmentIds; // packed rows
        input.positionIds = b.positionIds;
        input.outputLastVirtualLogits = true;
        input.deferLogits = true;
        const ForwardOutput output = models.policy(input);
        // Position t predicts token t + 1; the last virtual token, when there is one, token 0.
        const bool virtualFirst = output.lastVirtualLogits.defined();
        const at::Tensor target
            = (virtualFirst ? b.labels : b.labels.narrow(1, 1, b.labels.size(1) - 1)).reshape({ -1 });
        LossOutput out;
        out.tokens = target.ne(-100).sum().item<std::int64_t>();
        if (!output.logits.defined()) {
            // Deferred: the logits are made here, all at once when they are small, else a chunk of
            // tokens at a time with their gradients (linear_cross_entropy.h).
            const at::Tensor& hidden = output.finalHidden; // [B, T, H]
            const at::Tensor& weight = output.headWeight; // [V, H]
            const std::int64_t positions = b.labels.numel();
            const std::int64_t chunk = m_chunkTokens > 0 ? m_chunkTokens : crossEntropyChunkTokens(weight.size(0));
            if (out.tokens == 0) {
                out.loss = (hidden.sum() * 0.0).to(at::kFloat);
                return out;
            }
            if (positions <= chunk) {
                ForwardOutput full = output;
                full.logits = at::linear(hidden, weight);
                return fromLogits(full, target, out.tokens);
            }
            at::Tensor h = hidden.narrow(1, 0, hidden.size(1) - 1).reshape({ -1, hidden.size(-1) });
            at::Tensor sum;
            if (virtualFirst) {
                // The virtual token's prediction of token 0 ([B, V], small) in the usual way.
                const at::Tensor first = b.labels.select(1, 0);
                sum = at::cross_entropy_loss(
                    output.lastVirtualLogits.to(at::kFloat), first, {}, at::Reduction::Sum, -100, m_labelSmoothing);
                sum = sum
                    + linearCrossEntropySum(h, weight, b.labels.narrow(1, 1, b.labels.size(1) - 1).reshape({ -1 }),
                        m_labelSmoothing, chunk);
            } else {
                sum = linearCrossEntropySum(h, weight, target, m_labelSmoothing, chunk);
            }
            out.loss = sum / static_cast<double>(out.tokens);
            return out;
        }
        return fromLogits(output, target, out.tokens);
    }

private:
    LossOutput fromLogits(const ForwardOutput& output, const at::Tensor& target, std::int64_t tokens) const
    {
        const at::Tensor& logits = output.logits; // [B, T, V]
        const std::int64_t vocab = logits.size(-1);
        at::Tensor predicted = logits.narrow(1, 0, logits.size(1) - 1);
        if (output.lastVirtualLogits.defined())
            predicted = at::cat({ output.lastVirtualLogits.unsqueeze(1), predicted }, 1);
        predicted = predicted.reshape({ -1, vocab });
        LossOutput out;
        out.tokens = tokens;
        if (tokens == 0) {
            out.loss = (logits.sum() * 0.0).to(at::kFloat);
            return out;
        }
        out.loss
            = at::cross_entropy_loss(predicted.to(at::kFloat), target, {}, at::Reduction::Mean, -100, m_labelSmoothing);
        return out;
    }

    double m_labelSmoothing = 0.0;
    std::int64_t m_chunkTokens = 0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "sft",
    "1.0.0",
    "objective",
    "Supervised fine-tuning: next-token cross-entropy on the responses",
    R"([{"name": "label_smoothing", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
        "help": "share of probability spread over the vocabulary"},
       {"name": "loss_chunk_tokens", "type": "integer", "default": 0, "minimum": 0,
        "help": "a batch with more positions than this makes its logits this many tokens at a time in the loss (with their gradients) instead of all at once; 0: 2^25 / vocabulary, 128 MiB of float32 logits"}])",
    nullptr,
    []() -> Objective* { return new SftObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
