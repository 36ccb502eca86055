// IPO (Azar et al.): a squared loss that regresses the log-ratio margin
// h = (log pi(y_w|x) - log ref(y_w|x)) - (log pi(y_l|x) - log ref(y_l|x))
// to 1 / (2 beta): loss = (h - 1/(2 beta))^2, so the margin cannot grow
// without bound as DPO's can. Log-probs are sums over response tokens, as in
// the formula; average_log_prob takes per-token means in the loss, as TRL's
// ipo does (the rewards logged stay beta times the summed log-ratios, as TRL's).

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class IpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_share = params.at("prefix_sharing");
        m_beta = params.at("beta");
        m_average = params.at("average_log_prob");
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
        at::Tensor h = chosenRatio - rejectedRatio;
        if (m_average)
            h = chosenRatio / lp.policyChosen.count.clamp_min(1.0)
                - rejectedRatio / lp.policyRejected.count.clamp_min(1.0);
        LossOutput out;
        out.loss = (h - 1.0 / (2.0 * m_beta)).pow(2).mean();
        out.tokens = h.size(0);
        // The rewards are DPO's (beta times the summed log-ratios) either way, as TRL logs them for ipo, so IPO and
        // DPO runs plot on one scale.
        out.metrics
            = rewardMetrics(m_beta * chosenRatio, m_beta * rejectedRatio, lp.policyChosen.sum, lp.policyRejected.sum);
        return out;
    }

private:
    bool m_share = false;
    double m_beta = 0.1;
    bool m_average = false;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "ipo",
    "1.0.0",
    "objective",
    "IPO: regresses the policy's log-ratio margin over the reference to 1/(2 beta)",
    R"json([
      {"name": "beta", "aliases": ["pref_beta"], "type": "number", "default": 0.1, "minimum": 0.0001,
       "maximum": 100, "help": "the target margin is 1/(2 beta): higher stays closer to the reference"},
      {"name": "average_log_prob", "type": "boolean", "default": false,
       "help": "use per-token mean log-probs instead of sums (as TRL's ipo loss)"},
      {"name": "prefix_sharing", "type": "boolean", "default": false,
       "help": "one forward per pair: the prompt once, both responses kept apart by the attention mask"}
    ])json",
    nullptr,
    []() -> Objective* { return new IpoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
