// A reward model (Ouyang et al.; TRL's RewardTrainer): a scalar head score [1, H] on the final hidden state of a
// response's last non-padding token gives r(x, y); on preference pairs the Bradley-Terry loss
// loss = -log sigma(r_chosen - r_rejected - margin), plus center_rewards_coefficient * mean((r_chosen + r_rejected)^2)
// (Eisenstein et al.) which keeps the rewards centred on zero. The head trains with the adapter (LoRA, full ...).
// Metrics: accuracy (share of pairs with r_chosen > r_rejected) and margin (mean r_chosen - r_rejected).

#include "core/method/plugin_api.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/reward/reward_model_loss.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

// Hugging Face's name of the head in a sequence-classification model (LlamaForSequenceClassification's `score`).
constexpr const char* kHeadName = "score.weight";

class RewardModelObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_margin = params.at("margin");
        m_center = params.at("center_rewards_coefficient");
    }
    ObjectiveData data() const override { return ObjectiveData::PreferencePairs; }

    void attach(const ModelConfig& model, c10::Device device) override
    {
        // Drawn from the run's seeded generator, as transformers initialises `score` (normal, initializer_range).
        at::Tensor head = at::empty({ 1, model.hiddenSize }, at::kFloat);
        head.normal_(0.0, model.initializerRange);
        m_head = head.to(device).set_requires_grad(true);
    }
    std::vector<ParameterGroup> parameterGroups(double weightDecay) const override
    {
        return { ParameterGroup { { NamedParameter { kHeadName, m_head } }, weightDecay, 1.0 } };
    }
    std::map<std::string, at::Tensor> state() const override { return { { kHeadName, m_head.detach().clone() } }; }
    void restoreState(const std::map<std::string, at::Tensor>& state) override
    {
        const auto it = state.find(kHeadName);
        if (it == state.end())
            throw InputError("the checkpoint holds no reward head (objective." + std::string(kHeadName)
                + "); it was not saved by a reward_model run");
        if (!it->second.sizes().equals(m_head.sizes()))
            throw InputError("the checkpoint's reward head (objective." + std::string(kHeadName)
                + ") does not fit this model's hidden size");
        at::NoGradGuard noGrad;
        m_head.copy_(it->second); // in place: the optimiser holds this tensor
    }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const std::int64_t pairs = batch.chosen.inputIds.size(0);
        const at::Tensor rewards = scores(batch, models); // [2B]: chosen, then rejected
        const BradleyTerryLoss bt
            = bradleyTerryLoss(rewards.slice(0, 0, pairs), rewards.slice(0, pairs), m_margin, m_center);
        LossOutput out;
        out.loss = bt.loss;
        out.tokens = pairs; // pairs: the trainer weighs micro-batches by them
        out.metrics = bt.metrics;
        return out;
    }

private:
    // The reward of every chosen and rejected sequence, in one forward over both (right-padded to one length).
    at::Tensor scores(const ObjectiveBatch& batch, ModelAccess& models) const
    {
        const TokenBatch& c = batch.chosen;
        const TokenBatch& r = batch.rejected;
        const std::int64_t length = std::max(c.inputIds.size(1), r.inputIds.size(1));
        auto pad = [length](const at::Tensor& t) { return at::constant_pad_nd(t, { 0, length - t.size(1) }, 0); };
        auto maskOf = [](const TokenBatch& b) {
            return b.attentionMask.defined() ? b.attentionMask : at::ones_like(b.inputIds);
        };
        ForwardInput in;
        in.inputIds = at::cat({ pad(c.inputIds), pad(r.inputIds) });
        in.attentionMask = at::cat({ pad(maskOf(c)), pad(maskOf(r)) });
        in.deferLogits = true; // the vocabulary projection is not needed where it can be left out
        in.outputHiddenStates = true;
        const ForwardOutput out = models.policy(in);
        const at::Tensor hidden = out.finalHidden.defined() ? out.finalHidden : out.hiddenStates.back(); // [2B, T, H]
        // Right padding: the last real token is at (number of real tokens - 1).
        const at::Tensor last = (in.attentionMask.to(at::kLong).sum(1) - 1).clamp_min(0);
        const at::Tensor index = last.view({ -1, 1, 1 }).expand({ -1, 1, hidden.size(2) });
        const at::Tensor picked = hidden.gather(1, index).squeeze(1).to(at::kFloat); // [2B, H]
        return at::matmul(picked, m_head.t()).squeeze(-1);
    }

    double m_margin = 0.0;
    double m_center = 0.0;
    at::Tensor m_head; // [1, H], float32, trainable
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "reward_model",
    "1.0.0",
    "objective",
    "Reward model: a scalar head on the last token's hidden state, trained with the Bradley-Terry loss on "
    "preference pairs",
    R"json([
      {"name": "margin", "type": "number", "default": 0.0, "minimum": -100, "maximum": 100,
       "help": "subtracted from r_chosen - r_rejected inside the loss: the chosen response must win by this much"},
      {"name": "center_rewards_coefficient", "type": "number", "default": 0.0, "minimum": 0, "maximum": 100,
       "help": "weight of mean((r_chosen + r_rejected)^2), which keeps the rewards centred on zero"}
    ])json",
    nullptr,
    []() -> Objective* { return new RewardModelObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
