// ORPO (Hong et al.): no reference model. loss = SFT loss on the chosen
// response - lambda log sigma(log odds(y_w|x) - log odds(y_l|x)), with
// odds = p / (1 - p) and p = exp(mean token log-prob of the response).
// Rewards (for the shared plots): lambda times the mean token log-probs.

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>

namespace {

using namespace tunebench;

// log(p / (1 - p)) from log p (< 0): log p - log(1 - exp(log p)).
at::Tensor logOdds(const at::Tensor& logp)
{
    return logp - at::log1p(-at::exp(logp.clamp_max(-1e-6)));
}

class OrpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_share = params.at("prefix_sharing");
        m_lambda = params.at("lambda");
    }
    ObjectiveData data() const override { return ObjectiveData::PreferencePairs; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const PairLogProbs lp = pairLogProbs(batch, models, false, m_share);
        const at::Tensor chosenMean = lp.policyChosen.mean(); // [B]
        const at::Tensor rejectedMean = lp.policyRejected.mean();
        // The SFT term: token cross-entropy over every chosen response token of the batch.
        const at::Tensor nll = -lp.policyChosen.sum.sum() / lp.policyChosen.count.sum().clamp_min(1.0);
        const at::Tensor ratio = at::log_sigmoid(logOdds(chosenMean) - logOdds(rejectedMean)); // [B]
        LossOutput out;
        out.loss = nll - m_lambda * ratio.mean();
        out.tokens = chosenMean.size(0);
        out.metrics
            = rewardMetrics(m_lambda * chosenMean, m_lambda * rejectedMean, lp.policyChosen.sum, lp.policyRejected.sum);
        out.metrics["nll_loss"] = nll.item<double>();
        out.metrics["log_odds_ratio"] = ratio.mean().item<double>();
        return out;
    }

private:
    bool m_share = false;
    double m_lambda = 0.1;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "orpo",
    "1.0.0",
    "objective",
    "ORPO: SFT on the chosen response plus an odds-ratio penalty on the rejected one; no reference model",
    R"json([
      {"name": "lambda", "aliases": ["orpo_lambda", "orpo_beta"], "type": "number", "default": 0.1, "minimum": 0,
       "maximum": 100, "help": "weight of the odds-ratio term against the SFT loss"},
      {"name": "prefix_sharing", "type": "boolean", "default": false,
       "help": "one forward per pair: the prompt once, both responses kept apart by the attention mask"}
    ])json",
    nullptr,
    []() -> Objective* { return new OrpoObjective(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
