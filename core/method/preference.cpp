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
    const std::int64_t b = logits.size(0);
    const std::int64_t t = logits.size(1);
    const std::int64_t vocab = logits.size(2);
    // The fused cross-entropy (log-softmax and pick in one kernel, ignore index -100) is several times faster,
    // forward and backward, than log_softmax + gather over the full [B, T, V].
    const at::Tensor predicted = logits.narrow(1, 0, t - 1).to(at::kFloat).reshape({ -1, vocab }); // [B (T-1), V]
    const at::Tensor target = labels.narrow(1, 1, t - 1).reshape({ -1 }); // [B (T-1)]
    const at::Tensor tokenLogp
        = -at::cross_entropy_loss(predicted, target, {}, at::Reduction::None, -100).view({ b, t - 1 });
    const at::Tensor weights = labels.narrow(1, 1, t - 1).ne(-100).to(at::kFloat);
    return { tokenLogp.sum(1), weights.sum(1) };
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

namespace {

// One row per pair: prompt, chosen response, rejected response, with the
// gather indices that read each response's token log-probs back out of it.
struct SharedPairs {
    ForwardInput input;
    at::Tensor promptLabels; // [B, L]: the prompt's ids in segment 0, -100 elsewhere
    at::Tensor chosenFrom; // [B, C]: the row position whose logits predict chosen token k
    at::Tensor chosenTarget; // [B, C]: that token (0 where invalid)
    at::Tensor chosenValid; // [B, C] float
    at::Tensor rejectedFrom;
    at::Tensor rejectedTarget;
    at::Tensor rejectedValid;
};

// Long for a reason: the shared-prefix layout of chosen and rejected sequences is computed in one pass over
// both batches, whose index tensors depend on each other.
SharedPairs sharedPairs(const TokenBatch& chosen, const TokenBatch& rejected)
{
    const at::Tensor cIds = chosen.inputIds.to(at::kCPU).contiguous();
    const at::Tensor cLabels = chosen.labels.to(at::kCPU).contiguous();
    const at::Tensor cMask = chosen.attentionMask.to(at::kCPU).contiguous();
    const at::Tensor rLabels = rejected.labels.to(at::kCPU).contiguous();
    const at::Tensor rMask = rejected.attentionMask.to(at::kCPU).contiguous();
    const std::int64_t n = cIds.size(0);
    const auto ci = cIds.accessor<std::int64_t, 2>();
    const auto cl = cLabels.accessor<std::int64_t, 2>();
    const auto cm = cMask.accessor<std::int64_t, 2>();
    const auto rl = rLabels.accessor<std::int64_t, 2>();
    const auto rm = rMask.accessor<std::int64_t, 2>();
    struct Row {
        std::vector<std::int64_t> ids, segments, positions;
        std::vector<std::int64_t> chosenFrom, chosenTarget, rejectedFrom, rejectedTarget;
    };
    std::vector<Row> rows(static_cast<std::size_t>(n));
    std::int64_t longest = 1, longestChosen = 1, longestRejected = 1;
    for (std::int64_t b = 0; b < n; ++b) {
        Row& row = rows[static_cast<std::size_t>(b)];
        // The prompt: the leading masked tokens (both sequences share it).
        std::int64_t p = 0;
        while (p < cIds.size(1) && cm[b][p] == 1 && cl[b][p] == -100)
            ++p;
        for (std::int64_t t = 0; t < p; ++t) {
            row.ids.push_back(ci[b][t]);
            row.segments.push_back(0);
            row.positions.push_back(t);
        }
        // Token t of a response (at sequence position t) is predicted by position t - 1: the last prompt token
        // for the first response token, else the response's own previous token.
        auto addResponse
            = [&](const at::TensorAccessor<std::int64_t, 1>& labels, const at::TensorAccessor<std::int64_t, 1>& mask,
                  std::int64_t length, std::int64_t segment, std::vector<std::int64_t>& from,
                  std::vector<std::int64_t>& target) {
                  const auto start = static_cast<std::int64_t>(row.ids.size());
                  for (std::int64_t t = p; t < length && mask[t] == 1; ++t) {
                      row.ids.push_back(labels[t] == -100 ? 0 : labels[t]);
                      row.segments.push_back(segment);
                      row.positions.push_back(t);
                      if (t > 0 && labels[t] != -100) {
                          from.push_back(t == p ? p - 1 : start + (t - p) - 1);
                          target.push_back(labels[t]);
                      }
                  }
              };
        addResponse(cl[b], cm[b], cIds.size(1), 1, row.chosenFrom, row.chosenTarget);
        addResponse(rl[b], rm[b], rLabels.size(1), 2, row.rejectedFrom, row.rejectedTarget);
        longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(row.ids.size()));
        longestChosen = std::max<std::int64_t>(longestChosen, static_cast<std::int64_t>(row.chosenFrom.size()));
        longestRejected = std::max<std::int64_t>(longestRejected, static_cast<std::int64_t>(row.rejectedFrom.size()));
    }
    const auto longs = at::TensorOptions().dtype(at::kLong);
    at::Tensor ids = at::zeros({ n, longest }, longs), mask = at::zeros({ n, longest }, longs);
    at::Tensor segments = at::zeros({ n, longest }, longs), positions = at::zeros({ n, longest }, longs);
    at::Tensor promptLabels = at::full({ n, longest }, -100, longs);
    SharedPairs out;
    out.chosenFrom = at::zeros({ n, longestChosen }, longs);
    out.chosenTarget = at::zeros({ n, longestChosen }, longs);
    out.chosenValid = at::zeros({ n, longestChosen }, at::kFloat);
    out.rejectedFrom = at::zeros({ n, longestRejected }, longs);
    out.rejectedTarget = at::zeros({ n, longestRejected }, longs);
    out.rejectedValid = at::zeros({ n, longestRejected }, at::kFloat);
    for (std::int64_t b = 0; b < n; ++b) {
        const Row& row = rows[static_cast<std::size_t>(b)];
        for (std::size_t t = 0; t < row.ids.size(); ++t) {
            const auto i = static_cast<std::int64_t>(t);
            ids[b][i] = row.ids[t];
            mask[b][i] = 1;
            segments[b][i] = row.segments[t];
            positions[b][i] = row.positions[t];
            if (row.segments[t] == 0)
                promptLabels[b][i] = row.ids[t];
        }
        for (std::size_t k = 0; k < row.chosenFrom.size(); ++k) {
            out.chosenFrom[b][static_cast<std::int64_t>(k)] = row.chosenFrom[k];
            out.chosenTarget[b][static_cast<std::int64_t>(k)] = row.chosenTarget[k];
            out.chosenValid[b][static_cast<std::int64_t>(k)] = 1.0;
        }
        for (std::size_t k = 0; k < row.rejectedFrom.size(); ++k) {
            out.rejectedFrom[b][static_cast<std::int64_t>(k)] = row.rejectedFrom[k];
            out.rejectedTarget[b][static_cast<std::int64_t>(k)] = row.rejectedTarget[k];
            out.rejectedValid[b][static_cast<std::int64_t>(k)] = 1.0;
        }
    }
    const auto device = chosen.inputIds.device();
    out.input.inputIds = ids.to(device);
    out.input.attentionMask = mask.to(device);
    out.input.segmentIds = segments.to(device);
    out.input.positionIds = positions.to(device);
    out.promptLabels = promptLabels.to(device);
    for (at::Tensor* t : { &out.chosenFrom, &out.chosenTarget, &out.chosenValid, &out.rejectedFrom, &out.rejectedTarget,
             &out.rejectedValid })
        *t = t->to(device);
    return out;
}

// Summed log-probs of the gathered tokens: logits [B, L, V], from/target/valid [B, K].
SequenceLogProbs gatheredLogProbs(
    const at::Tensor& logits, const at::Tensor& from, const at::Tensor& target, const at::Tensor& valid)
{
    const std::int64_t vocab = logits.size(-1);
    const at::Tensor rows = logits.gather(1, from.unsqueeze(-1).expand({ -1, -1, vocab })); // [B, K, V]
    const at::Tensor nll = at::cross_entropy_loss(
        rows.to(at::kFloat).reshape({ -1, vocab }), target.reshape({ -1 }), {}, at::Reduction::None);
    return { (-nll.view(target.sizes()) * valid).sum(1), valid.sum(1) };
}

} // namespace

PairLogProbs pairLogProbs(const ObjectiveBatch& batch, ModelAccess& models, bool withReference, bool sharePrefixForward,
    bool withChosenPrompt)
{
    if (sharePrefixForward) {
        const SharedPairs shared = sharedPairs(batch.chosen, batch.rejected);
        PairLogProbs out;
        const at::Tensor logits = models.policy(shared.input).logits;
        out.policyChosen = gatheredLogProbs(logits, shared.chosenFrom, shared.chosenTarget, shared.chosenValid);
        out.policyRejected = gatheredLogProbs(logits, shared.rejectedFrom, shared.rejectedTarget, shared.rejectedValid);
        if (withChosenPrompt)
            out.policyChosenPrompt = sequenceLogProbs(logits, shared.promptLabels);
        if (withReference && batch.referenceLogProbs.defined()) {
            out.referenceChosen = batch.referenceLogProbs.select(1, 0).to(logits.device());
            out.referenceRejected = batch.referenceLogProbs.select(1, 1).to(logits.device());
        } else if (withReference) {
            const at::Tensor ref = models.reference(shared.input).logits;
            out.referenceChosen
                = gatheredLogProbs(ref, shared.chosenFrom, shared.chosenTarget, shared.chosenValid).sum.detach();
            out.referenceRejected
                = gatheredLogProbs(ref, shared.rejectedFrom, shared.rejectedTarget, shared.rejectedValid).sum.detach();
        }
        return out;
    }

    const std::int64_t n = batch.chosen.inputIds.size(0);
    const TokenBatch both = stack(batch.chosen, batch.rejected);
    PairLogProbs out;
    const at::Tensor logits = models.policy(inputOf(both)).logits;
    const SequenceLogProbs policy = sequenceLogProbs(logits, both.labels);
    out.policyChosen = { policy.sum.narrow(0, 0, n), policy.count.narrow(0, 0, n) };
    out.policyRejected = { policy.sum.narrow(0, n, n), policy.count.narrow(0, n, n) };
    if (withChosenPrompt) {
        // The chosen rows' real tokens outside the response: the prompt.
        const at::Tensor chosenIds = both.inputIds.narrow(0, 0, n);
        const at::Tensor isPrompt
            = both.attentionMask.narrow(0, 0, n).eq(1).logical_and(both.labels.narrow(0, 0, n).eq(-100));
        out.policyChosenPrompt
            = sequenceLogProbs(logits.narrow(0, 0, n), at::where(isPrompt, chosenIds, at::full_like(chosenIds, -100)));
    }
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
