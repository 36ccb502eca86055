#include "core/method/preference.h"

#include "core/model/causal_lm.h"

#include <ATen/ATen.h>

namespace tunebench {

at::Tensor SequenceLogProbs::mean() const
{
    return sum / count.clamp_min(1.0);
}

SequenceLogProbs sequenceLogProbs(const at::Tensor& logits, const at::Tensor& labels)
{
    const std::int64_t t = logits.size(1);
    const at::Tensor predicted = logits.narrow(1, 0, t - 1).to(at::kFloat); // [B, T-1, V]
    const at::Tensor target = labels.narrow(1, 1, t - 1); // [B, T-1]
    const at::Tensor trained = target.ne(-100);
    const at::Tensor safeTarget = at::where(trained, target, at::zeros_like(target));
    const at::Tensor tokenLogp = predicted.log_softmax(-1).gather(-1, safeTarget.unsqueeze(-1)).squeeze(-1); // [B, T-1]
    const at::Tensor weights = trained.to(at::kFloat);
    return { (tokenLogp * weights).sum(1), weights.sum(1) };
}

namespace {

// Stacks two right-padded batches into one [2B, max(T)] batch.
TokenBatch stack(const TokenBatch& a, const TokenBatch& b)
{
    const std::int64_t t = std::max(a.inputIds.size(1), b.inputIds.size(1));
    auto pad = [t](const at::Tensor& x, std::int64_t value) {
        return x.size(1) == t ? x : at::constant_pad_nd(x, { 0, t - x.size(1) }, value);
    };
    // Padding ids are masked out, so any id works; 0 keeps embeddings in range.
    return { at::cat({ pad(a.inputIds, 0), pad(b.inputIds, 0) }),
        at::cat({ pad(a.attentionMask, 0), pad(b.attentionMask, 0) }),
        at::cat({ pad(a.labels, -100), pad(b.labels, -100) }) };
}

ForwardInput inputOf(const TokenBatch& b)
{
    ForwardInput in;
    in.inputIds = b.inputIds;
    in.attentionMask = b.attentionMask;
    return in;
}

} // namespace

SequenceLogProbs batchLogProbs(const TokenBatch& batch, ModelAccess& models, bool reference)
{
    const ForwardInput in = inputOf(batch);
    const at::Tensor logits = reference ? models.reference(in).logits : models.policy(in).logits;
    return sequenceLogProbs(logits, batch.labels);
}

PairLogProbs pairLogProbs(const ObjectiveBatch& batch, ModelAccess& models, bool withReference)
{
    const std::int64_t n = batch.chosen.inputIds.size(0);
    const TokenBatch both = stack(batch.chosen, batch.rejected);
    PairLogProbs out;
    const SequenceLogProbs policy = batchLogProbs(both, models, false);
    out.policyChosen = { policy.sum.narrow(0, 0, n), policy.count.narrow(0, 0, n) };
    out.policyRejected = { policy.sum.narrow(0, n, n), policy.count.narrow(0, n, n) };
    if (withReference && batch.referenceLogProbs.defined()) {
        out.referenceChosen = batch.referenceLogProbs.select(1, 0).to(policy.sum.device());
        out.referenceRejected = batch.referenceLogProbs.select(1, 1).to(policy.sum.device());
    } else if (withReference) {
        const SequenceLogProbs ref = batchLogProbs(both, models, true);
        out.referenceChosen = ref.sum.narrow(0, 0, n).detach();
        out.referenceRejected = ref.sum.narrow(0, n, n).detach();
    }
    return out;
}

at::Tensor pairReferenceLogProbs(const ObjectiveBatch& batch, ModelAccess& models)
{
    const std::int64_t n = batch.chosen.inputIds.size(0);
    const SequenceLogProbs ref = batchLogProbs(stack(batch.chosen, batch.rejected), models, true);
    return at::stack({ ref.sum.narrow(0, 0, n), ref.sum.narrow(0, n, n) }, 1).detach(); // [B, 2]
}

std::map<std::string, double> rewardMetrics(const at::Tensor& rewardsChosen, const at::Tensor& rewardsRejected,
    const at::Tensor& policyChosen, const at::Tensor& policyRejected)
{
    const at::Tensor c = rewardsChosen.detach();
    const at::Tensor r = rewardsRejected.detach();
    return { { "rewards_chosen", c.mean().item<double>() }, { "rewards_rejected", r.mean().item<double>() },
        { "reward_accuracy", c.gt(r).to(at::kFloat).mean().item<double>() },
        { "reward_margin", (c - r).mean().item<double>() },
        { "logps_chosen", policyChosen.detach().mean().item<double>() },
        { "logps_rejected", policyRejected.detach().mean().item<double>() } };
}

} // namespace tunebench
