// ORPO (Hong et al.): no reference model. loss = NLL of the chosen sequence
// - lambda log sigma(log odds(y_w|x) - log odds(y_l|x)), with
// odds = p / (1 - p) and p = exp(mean token log-prob of the response). The NLL
// covers the prompt and the chosen response, as the ORPO authors' code and TRL
// compute it (prompt_loss: false keeps the response only).
// Rewards (for the shared plots): lambda times the mean token log-probs.

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>

#include <cmath>

namespace {

using namespace tunebench;

// log(p / (1 - p)) from log p (< 0): log p - log(1 - exp(log p)). log1p(-exp(x)) loses digits where exp(x) is
// near 1, log(-expm1(x)) where it is near 0: each is used on its side of -ln 2.
at::Tensor logOdds(const at::Tensor& logp)
{
    const at::Tensor x = logp.clamp_max(-1e-6);
    const at::Tensor log1mexp = at::where(x < -std::log(2.0), at::log1p(-at::exp(x)), at::log(-at::expm1(x)));
    return x - log1mexp;
}

class OrpoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_share = params.at("prefix_sharing");
        m_lambda = params.at("lambda");
        m_promptLoss = params.at("prompt_loss");
    }
    ObjectiveData data() const override { return ObjectiveData::PreferencePairs; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const PairLogProbs lp = pairLogProbs(batch, models, false, m_share, m_promptLoss);
        const at::Tensor chosenMean = lp.policyChosen.mean(); // [B]
        const at::Tensor rejectedMean = lp.policyRejected.mean();
        // The SFT term: token cross-entropy over every trained token of the batch's chosen sequences.
        at::Tensor logpSum = lp.policyChosen.sum.sum();
        at::Tensor tokens = lp.policyChosen.count.sum();
        if (m_promptLoss) {
            logpSum = logpSum + lp.policyChosenPrompt.sum.sum();
            tokens = tokens + lp.policyChosenPrompt.count.sum();
        }
        const at::Tensor nll = -logpSum / tokens.clamp_min(1.0);
        const at::Tensor logOddsRatio = logOdds(chosenMean) - logOdds(rejectedMean); // [B]
        const at::Tensor ratio = at::log_sigmoid(logOddsRatio);
        LossOutput out;
        out.loss = nll - m_lambda * ratio.mean();
        out.tokens = chosenMean.size(0);
        // logps_*: the per-token means the odds use, as TRL logs them for ORPO.
        out.metrics = rewardMetrics(m_lambda * chosenMean, m_lambda * rejectedMean, chosenMean, rejectedMean);
        out.metrics["nll_loss"] = nll.item<double>();
        out.metrics["log_odds_ratio"] = ratio.mean().item<double>();
        out.metrics["log_odds_chosen"] = logOddsRatio.mean().item<double>();
        return out;
    }

private:
    bool m_share = false;
    double m_lambda = 0.1;
    bool m_promptLoss = true;
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
      {"name": "prompt_loss", "type": "boolean", "default": true,
       "help": "the SFT term covers the prompt tokens too, as in the ORPO authors' code and TRL; off: the chosen response only"},
      {"name": "prefix_sharing", "type": "boolean", "default": false,
       "help": "one forward per pair: the prompt once, both responses kept apart by the attention mask"}
    ])json",
    nullptr,
    []() -> Objective* { return new OrpoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
