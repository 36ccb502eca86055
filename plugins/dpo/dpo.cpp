// DPO (Rafailov et al.): with h = (log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x)),
// loss = -log sigma(beta h); with label_smoothing eps (cDPO, Mitchell), the
// labels are trusted with probability 1 - eps:
// loss = -(1 - eps) log sigma(beta h) - eps log sigma(-beta h).
// Rewards: beta times each response's log-ratio.

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class DpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_share = params.at("prefix_sharing");
        m_beta = params.at("beta");
        m_labelSmoothing = params.at("label_smoothing");
    }
    ObjectiveData data() const override { return ObjectiveData::PreferencePairs; }
    bool needsReference() const override { return true; }
    bool canCacheReference() const override { return true; }
    at::Tensor referenceLogProbs(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        return pairReferenceLogProbs(batch, models);
    }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const PairLogProbs lp = pairLogProbs(batch, models, true, m_share);
        const at::Tensor chosenRatio = lp.policyChosen.sum - lp.referenceChosen; // [B]
        const at::Tensor rejectedRatio = lp.policyRejected.sum - lp.referenceRejected;
        const at::Tensor h = chosenRatio - rejectedRatio;
        const at::Tensor losses
            = -(1.0 - m_labelSmoothing) * at::log_sigmoid(m_beta * h) - m_labelSmoothing * at::log_sigmoid(-m_beta * h);
        LossOutput out;
        out.loss = losses.mean();
        out.tokens = h.size(0); // pairs: the trainer weighs micro-batches by them
        out.metrics
            = rewardMetrics(m_beta * chosenRatio, m_beta * rejectedRatio, lp.policyChosen.sum, lp.policyRejected.sum);
        return out;
    }

private:
    bool m_share = false;
    double m_beta = 0.1;
    double m_labelSmoothing = 0.0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "dpo",
    "1.0.0",
    "objective",
    "DPO: a logistic loss on the policy's log-ratio margin over the reference (cDPO with label_smoothing)",
    R"json([
      {"name": "beta", "aliases": ["pref_beta", "dpo_beta"], "type": "number", "default": 0.1, "minimum": 0.0001,
       "maximum": 100, "help": "strength of the KL constraint to the reference: higher stays closer"},
      {"name": "label_smoothing", "aliases": ["dpo_label_smoothing"], "type": "number", "default": 0.0,
       "minimum": 0, "maximum": 0.5, "help": "cDPO: the share of preference labels assumed flipped"},
      {"name": "prefix_sharing", "type": "boolean", "default": false,
       "help": "one forward per pair: the prompt once, both responses kept apart by the attention mask"}
    ])json",
    nullptr,
    []() -> Objective* { return new DpoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
