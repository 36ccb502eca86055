// GRPO's mathematics, apart from sampling (plugins/grpo): group-normalised advantages and the clipped ratio loss
// with its KL term, as DeepSeekMath's GRPO and TRL's GRPOTrainer define them (METHODS.md).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string_view>

namespace tunebench {

// grpo: each sequence's masked token mean, then the mean over sequences. dr_grpo: the masked token sum over
// (sequences x max_completion_length), a constant. dapo: the masked token mean over the whole batch.
enum class GrpoLossType { Grpo, DrGrpo, Dapo };
GrpoLossType grpoLossTypeFromString(std::string_view name); // throws InputError naming loss_type

struct GroupAdvantages {
    at::Tensor advantages; // [N]
    double zeroStdShare = 0; // the share of groups whose rewards are all equal (no learning signal)
    double rewardStd = 0; // the mean of the groups' standard deviations
};

// rewards [N] in groups of groupSize consecutive completions (one prompt's): r - mean(group), divided by
// (std(group) + 1e-4) when scale (std unbiased, as torch.std). scale false: Dr. GRPO. Throws InputError when N
// is not a multiple of groupSize.
GroupAdvantages groupAdvantages(const at::Tensor& rewards, std::int64_t groupSize, bool scale);

struct GrpoLossOptions {
    GrpoLossType type = GrpoLossType::Grpo;
    double epsilonLow = 0.2; // ratio clipped to [1 - epsilonLow, 1 + epsilonHigh]
    double epsilonHigh = 0.2;
    double beta = 0.0; // weight of the k3 KL estimate to the reference; 0: none
    std::int64_t maxCompletionLength = 256; // dr_grpo's constant
};

struct GrpoLoss {
    at::Tensor loss; // scalar
    double kl = 0; // the masked token mean of the k3 estimate (0 when beta is 0)
    double clipRatio = 0; // the masked token share clipped (low with negative, high with positive advantage)
    double lowClipRatio = 0;
    double highClipRatio = 0;
};

// logProbs [N, C]: the policy's per-token log-probabilities of the completions (with gradient); oldLogProbs
// [N, C]: those of the policy that sampled them (undefined: logProbs detached, i.e. one update per generation);
// refLogProbs [N, C]: the reference's (needed when beta > 0); advantages [N]; mask [N, C] (1 on completion tokens).
// Per token: -min(ratio A, clip(ratio) A) + beta (exp(ref - logp) - (ref - logp) - 1), ratio = exp(logp - old),
// then reduced as the loss type says.
// Embedding diversity of groups of completions: each completion's hidden states [N, C, H] mean-pooled over its
// tokens (mask [N, C]), and per group of groupSize consecutive completions 1 - the mean cosine similarity of its
// pairs, averaged over the groups. Completions without a token are left out of their group; a group with fewer
// than two left counts not. Returns -1 when no group counts.
double groupEmbeddingDiversity(const at::Tensor& hidden, const at::Tensor& mask, std::int64_t groupSize);

GrpoLoss grpoLoss(const at::Tensor& logProbs, const at::Tensor& oldLogProbs, const at::Tensor& refLogProbs,
    const at::Tensor& advantages, const at::Tensor& mask, const GrpoLossOptions& options);

} // namespace tunebench
