// Supervised fine-tuning: token cross-entropy on the trained tokens (the
// responses, unless train_on_prompt), each position predicting the next.
// Behind prompt tuning's virtual tokens the last of them predicts the first
// token, as in PEFT (which labels the virtual positions -100 and keeps every
// label of the input): a trained first token (text records, train_on_prompt)
// counts too.

#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class SftObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override { m_labelSmoothing = params.at("label_smoothing"); }
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
        const ForwardOutput output = models.policy(input);
        const at::Tensor& logits = output.logits; // [B, T, V]
        const std::int64_t vocab = logits.size(-1);
        // Position t predicts token t + 1; the last virtual token, when there is one, token 0.
        at::Tensor predicted = logits.narrow(1, 0, logits.size(1) - 1);
        at::Tensor target = b.labels.narrow(1, 1, b.labels.size(1) - 1);
        if (output.lastVirtualLogits.defined()) {
            predicted = at::cat({ output.lastVirtualLogits.unsqueeze(1), predicted }, 1);
            target = b.labels;
        }
        predicted = predicted.reshape({ -1, vocab });
        target = target.reshape({ -1 });
        LossOutput out;
        out.tokens = target.ne(-100).sum().item<std::int64_t>();
        if (out.tokens == 0) {
            out.loss = (logits.sum() * 0.0).to(at::kFloat);
            return out;
        }
        out.loss
            = at::cross_entropy_loss(predicted.to(at::kFloat), target, {}, at::Reduction::Mean, -100, m_labelSmoothing);
        return out;
    }

private:
    double m_labelSmoothing = 0.0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "sft",
    "1.0.0",
    "objective",
    "Supervised fine-tuning: next-token cross-entropy on the responses",
    R"([{"name": "label_smoothing", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1,
        "help": "share of probability spread over the vocabulary"}])",
    nullptr,
    []() -> Objective* { return new SftObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
