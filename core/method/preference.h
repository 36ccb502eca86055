#pragma once

// Shared by the preference objectives (dpo, ipo, orpo, simpo, kto): the
// sequence log-probabilities of responses under the policy and the
// reference, and the reward metrics every preference run logs.

#include "core/method/objective.h"

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace tunebench {

// Per sequence, the summed log-probability of the trained tokens (labels not
// -100; position t predicts label t + 1) and their count. logits [B, T, V],
// labels [B, T] -> sum [B] (float32, differentiable), count [B] (float32).
struct SequenceLogProbs {
    at::Tensor sum;
    at::Tensor count;
    at::Tensor mean() const; // sum / max(count, 1)
};
SequenceLogProbs sequenceLogProbs(const at::Tensor& logits, const at::Tensor& labels);

// One forward over chosen and rejected together (padded to one length), split
// back: policy log-probs with gradients; reference ones (no gradients) when
// withReference, taken from batch.referenceLogProbs ([B, 2]: chosen,
// rejected) when the run precomputed them.
struct PairLogProbs {
    SequenceLogProbs policyChosen;
    SequenceLogProbs policyRejected;
    at::Tensor referenceChosen; // [B] sums; undefined without reference
    at::Tensor referenceRejected;
    // With withChosenPrompt: the policy's log-probs of the prompt tokens that
    // follow its first one (ORPO's NLL term covers prompt and chosen response).
    SequenceLogProbs policyChosenPrompt;
};
//
// With sharePrefixForward (prefix sharing), each pair is one sequence: the
// prompt once (segment 0), then the chosen response (segment 1) and the
// rejected one (segment 2), which cannot see each other and both continue the
// prompt's positions; one forward of B rows instead of 2B. Same numbers as
// the two-sequence form (up to float rounding), fewer tokens computed.
PairLogProbs pairLogProbs(const ObjectiveBatch& batch, ModelAccess& models, bool withReference,
    bool sharePrefixForward = false, bool withChosenPrompt = false);
// The reference log-prob sums of chosen and rejected, [B, 2], for the cache.
at::Tensor pairReferenceLogProbs(const ObjectiveBatch& batch, ModelAccess& models);

// Log-probs of one batch of sequences under the policy or (reference) the reference model.
SequenceLogProbs batchLogProbs(const TokenBatch& batch, ModelAccess& models, bool reference);

// The metrics preference runs log: rewards_chosen, rewards_rejected (batch
// means), reward_accuracy (share of pairs with chosen > rejected),
// reward_margin (mean chosen - rejected), logps_chosen, logps_rejected (batch
// means of the policy log-probs given: sums for dpo and ipo, per-token means
// for orpo and simpo, as TRL logs them). All are [B] tensors.
std::map<std::string, double> rewardMetrics(const at::Tensor& rewardsChosen, const at::Tensor& rewardsRejected,
    const at::Tensor& policyChosen, const at::Tensor& policyRejected);

} // namespace tunebench
