// SimPO (Meng et al.): no reference model; the reward is the length-normalised
// log-probability, r(y) = beta / |y| log pi(y|x), and the loss asks for a
// margin gamma: loss = -log sigma(r(y_w) - r(y_l) - gamma).

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

class SimpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_share = params.at("prefix_sharing");
        m_beta = params.at("beta");
        m_gamma = params.at("gamma");
    }
    ObjectiveData data() const override { return ObjectiveData::PreferencePairs; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const PairLogProbs lp = pairLogProbs(batch, models, false, m_share);
        const at::Tensor chosen = m_beta * lp.policyChosen.mean(); // [B]
        const at::Tensor rejected = m_beta * lp.policyRejected.mean();
        LossOutput out;
        out.loss = -at::log_sigmoid(chosen - rejected - m_gamma).mean();
        out.tokens = chosen.size(0);
        // logps_*: the per-token means the rewards use, as TRL logs them for SimPO.
        out.metrics = rewardMetrics(chosen, rejected, lp.policyChosen.mean(), lp.policyRejected.mean());
        return out;
    }

private:
    bool m_share = false;
    double m_beta = 2.0;
    double m_gamma = 1.0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "simpo",
    "1.0.0",
    "objective",
    "SimPO: a margin loss on length-normalised log-probabilities; no reference model",
    R"json([
      {"name": "beta", "aliases": ["simpo_beta"], "type": "number", "default": 2.0, "minimum": 0.0001,
       "maximum": 100, "help": "scale of the length-normalised reward"},
      {"name": "gamma", "aliases": ["simpo_gamma"], "type": "number", "default": 1.0, "minimum": 0, "maximum": 100,
       "help": "target reward margin between chosen and rejected"},
      {"name": "prefix_sharing", "type": "boolean", "default": false,
       "help": "one forward per pair: the prompt once, both responses kept apart by the attention mask"}
    ])json",
    nullptr,
    []() -> Objective* { return new SimpoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
