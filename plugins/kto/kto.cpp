// KTO (Ethayarajh et al.): unpaired desirable / undesirable completions.
// r = log pi(y|x) - log ref(y|x) (sums over the completion's tokens); z0 is a
// batch estimate of KL(pi || ref), from mismatched pairs (prompt i with the
// completion of example i-1: the batch's completions rotated by one, as TRL's
// KTOTrainer pairs them), clamped at 0 and not differentiated.
// loss = lambda_D (1 - sigma(beta (r - z0))) for desirable
// examples and lambda_U (1 - sigma(beta (z0 - r))) for undesirable ones, i.e.
// lambda_y - v; the batch mean. With a batch of one, z0 comes from the example
// itself (no mismatched pair exists).

#include "core/method/plugin_api.h"
#include "core/method/preference.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <vector>

namespace {

using namespace tunebench;

// Prompt i joined with the completion of example (i - 1) mod B, right-padded.
TokenBatch mismatched(const TokenBatch& b)
{
    const at::Tensor ids = b.inputIds.to(at::kCPU).contiguous();
    const at::Tensor labels = b.labels.to(at::kCPU).contiguous();
    const at::Tensor mask = b.attentionMask.to(at::kCPU).contiguous();
    const auto idAll = ids.accessor<std::int64_t, 2>();
    const auto labelAll = labels.accessor<std::int64_t, 2>();
    const auto maskAll = mask.accessor<std::int64_t, 2>();
    const std::int64_t n = ids.size(0);
    std::vector<std::vector<std::int64_t>> prompts(static_cast<std::size_t>(n)), completions(prompts.size());
    for (std::int64_t i = 0; i < n; ++i) {
        const auto idRow = idAll[i];
        const auto labelRow = labelAll[i];
        const auto maskRow = maskAll[i];
        for (std::int64_t t = 0; t < ids.size(1); ++t) {
            if (maskRow[t] == 0)
                continue;
            (labelRow[t] == -100 ? prompts : completions)[static_cast<std::size_t>(i)].push_back(idRow[t]);
        }
    }
    std::int64_t longest = 0;
    for (std::int64_t i = 0; i < n; ++i)
        longest = std::max<std::int64_t>(longest,
            static_cast<std::int64_t>(prompts[static_cast<std::size_t>(i)].size()
                + completions[static_cast<std::size_t>((i + n - 1) % n)].size()));
    TokenBatch out { at::zeros({ n, longest }, at::kLong), at::zeros({ n, longest }, at::kLong),
        at::full({ n, longest }, -100, at::kLong) };
    for (std::int64_t i = 0; i < n; ++i) {
        const auto& p = prompts[static_cast<std::size_t>(i)];
        const auto& c = completions[static_cast<std::size_t>((i + n - 1) % n)];
        std::int64_t t = 0;
        for (auto id : p) {
            out.inputIds[i][t] = id;
            out.attentionMask[i][t++] = 1;
        }
        for (auto id : c) {
            out.inputIds[i][t] = id;
            out.labels[i][t] = id;
            out.attentionMask[i][t++] = 1;
        }
    }
    const auto device = b.inputIds.device();
    return { out.inputIds.to(device), out.attentionMask.to(device), out.labels.to(device) };
}

class KtoObjective final : public Objective {
public:
    void configure(const nlohmann::json& params) override
    {
        m_beta = params.at("beta");
        m_desirableWeight = params.at("desirable_weight");
        m_undesirableWeight = params.at("undesirable_weight");
    }
    ObjectiveData data() const override { return ObjectiveData::UnpairedPreference; }
    bool needsReference() const override { return true; }

    LossOutput loss(const ObjectiveBatch& batch, ModelAccess& models) override
    {
        const TokenBatch& seqs = batch.sequences;
        const SequenceLogProbs policy = batchLogProbs(seqs, models, false);
        const at::Tensor reference = batchLogProbs(seqs, models, true).sum.detach();
        const at::Tensor r = policy.sum - reference; // [B]
        at::Tensor z0;
        {
            at::NoGradGuard noGrad;
            if (seqs.inputIds.size(0) > 1) {
                const TokenBatch kl = mismatched(seqs);
                z0 = (batchLogProbs(kl, models, false).sum - batchLogProbs(kl, models, true).sum).mean();
            } else {
                z0 = r.detach().mean();
            }
            z0 = z0.clamp_min(0.0);
        }
        const at::Tensor desirable = batch.desirable.to(r.device());
        const at::Tensor losses = at::where(desirable, m_desirableWeight * (1.0 - at::sigmoid(m_beta * (r - z0))),
            m_undesirableWeight * (1.0 - at::sigmoid(m_beta * (z0 - r))));
        LossOutput out;
        out.loss = losses.mean();
        out.tokens = r.size(0);
        const at::Tensor rewards = (m_beta * r).detach();
        const at::Tensor logps = policy.sum.detach();
        const std::int64_t nDesirable = desirable.sum().item<std::int64_t>();
        const std::int64_t nUndesirable = r.size(0) - nDesirable;
        // As TRL logs them: desirable examples are "chosen", undesirable ones "rejected".
        if (nDesirable > 0) {
            out.metrics["rewards_chosen"] = rewards.masked_select(desirable).mean().item<double>();
            out.metrics["logps_chosen"] = logps.masked_select(desirable).mean().item<double>();
        }
        if (nUndesirable > 0) {
            out.metrics["rewards_rejected"] = rewards.masked_select(~desirable).mean().item<double>();
            out.metrics["logps_rejected"] = logps.masked_select(~desirable).mean().item<double>();
        }
        if (nDesirable > 0 && nUndesirable > 0)
            out.metrics["reward_margin"] = out.metrics["rewards_chosen"] - out.metrics["rewards_rejected"];
        out.metrics["kl"] = z0.item<double>();
        return out;
    }

private:
    double m_beta = 0.1;
    double m_desirableWeight = 1.0;
    double m_undesirableWeight = 1.0;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "kto",
    "1.0.0",
    "objective",
    "KTO: prospect-theoretic loss on unpaired desirable and undesirable completions",
    R"json([
      {"name": "beta", "aliases": ["pref_beta", "kto_beta"], "type": "number", "default": 0.1, "minimum": 0.0001,
       "maximum": 100, "help": "scale of the implied reward; higher stays closer to the reference"},
      {"name": "desirable_weight", "aliases": ["kto_chosen_weight"], "type": "number", "default": 1.0,
       "minimum": 0, "maximum": 100, "help": "lambda_D: weight of desirable examples"},
      {"name": "undesirable_weight", "aliases": ["kto_rejected_weight"], "type": "number", "default": 1.0,
       "minimum": 0, "maximum": 100, "help": "lambda_U: weight of undesirable examples"}
    ])json",
    nullptr,
    []() -> Objective* { return new KtoObjective(); },
    nullptr,
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
