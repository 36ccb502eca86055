#include "core/reward/grpo_loss.h"

#include "core/util/error.h"

#include <ATen/ATen.h>

namespace tunebench {

GrpoLossType grpoLossTypeFromString(std::string_view name)
{
    if (name == "grpo")
        return GrpoLossType::Grpo;
    if (name == "dr_grpo")
        return GrpoLossType::DrGrpo;
    if (name == "dapo")
        return GrpoLossType::Dapo;
    throw InputError("loss_type: unknown '" + std::string(name) + "' (expected grpo, dr_grpo or dapo)");
}

GroupAdvantages groupAdvantages(const at::Tensor& rewards, std::int64_t groupSize, bool scale)
{
    const std::int64_t n = rewards.size(0);
    if (groupSize < 1 || n % groupSize != 0)
        throw InputError(
            "GRPO: " + std::to_string(n) + " rewards do not split into groups of " + std::to_string(groupSize));
    const at::Tensor grouped = rewards.to(at::kDouble).view({ n / groupSize, groupSize }); // [P, G]
    const at::Tensor mean = grouped.mean(1, true);
    // One completion per prompt has no spread: its std is taken as 0 (torch would give NaN), so its advantage is 0.
    const std::int64_t dims[] = { 1 };
    const at::Tensor spread = groupSize > 1 ? grouped.std(at::IntArrayRef(dims), /*unbiased=*/true, /*keepdim=*/true)
                                            : at::zeros_like(mean);
    at::Tensor adv = grouped - mean;
    if (scale)
        adv = adv / (spread + 1e-4);
    GroupAdvantages out;
    out.advantages = adv.reshape({ n }).to(rewards.scalar_type());
    out.zeroStdShare = at::isclose(spread, at::zeros_like(spread)).to(at::kDouble).mean().item<double>();
    out.rewardStd = spread.mean().item<double>();
    return out;
}

GrpoLoss grpoLoss(const at::Tensor& logProbs, const at::Tensor& oldLogProbs, const at::Tensor& refLogProbs,
    const at::Tensor& advantages, const at::Tensor& mask, const GrpoLossOptions& options)
{
    const at::Tensor m = mask.to(logProbs.scalar_type()); // [N, C]
    const at::Tensor old = oldLogProbs.defined() ? oldLogProbs : logProbs.detach();
    const at::Tensor ratio = at::exp(logProbs - old); // [N, C]
    const at::Tensor clipped = at::clamp(ratio, 1.0 - options.epsilonLow, 1.0 + options.epsilonHigh);
    const at::Tensor a = advantages.to(logProbs.scalar_type()).unsqueeze(1); // [N, 1]
    at::Tensor perToken = -at::min(ratio * a, clipped * a);
    at::Tensor kl;
    if (options.beta != 0.0) {
        if (!refLogProbs.defined())
            throw InputError("GRPO: beta > 0 needs the reference log-probabilities");
        const at::Tensor d = refLogProbs - logProbs;
        kl = at::exp(d) - d - 1.0; // k3: unbiased, always >= 0
        perToken = perToken + options.beta * kl;
    }
    const at::Tensor tokens = m.sum().clamp_min(1.0);
    GrpoLoss out;
    switch (options.type) {
    case GrpoLossType::Grpo:
        out.loss = ((perToken * m).sum(1) / m.sum(1).clamp_min(1.0)).mean();
        break;
    case GrpoLossType::DrGrpo:
        out.loss = (perToken * m).sum() / static_cast<double>(perToken.size(0) * options.maxCompletionLength);
        break;
    case GrpoLossType::Dapo:
        out.loss = (perToken * m).sum() / tokens;
        break;
    }
    const at::NoGradGuard noGrad;
    auto share = [&](const at::Tensor& x) { return ((x.to(m.scalar_type()) * m).sum() / tokens).item<double>(); };
    const at::Tensor low = (ratio < 1.0 - options.epsilonLow) & (a < 0);
    const at::Tensor high = (ratio > 1.0 + options.epsilonHigh) & (a > 0);
    out.lowClipRatio = share(low);
    out.highClipRatio = share(high);
    out.clipRatio = share(low | high);
    out.kl = kl.defined() ? share(kl.detach()) : 0.0;
    return out;
}

double groupEmbeddingDiversity(const at::Tensor& hidden, const at::Tensor& mask, std::int64_t groupSize)
{
    const at::NoGradGuard noGrad;
    const at::Tensor m = mask.to(hidden.device(), at::kDouble); // [N, C]
    const at::Tensor counts = m.sum(1); // [N]
    const at::Tensor pooled = (hidden.to(at::kDouble) * m.unsqueeze(-1)).sum(1) / counts.clamp_min(1.0).unsqueeze(-1);
    const at::Tensor unit = (pooled / pooled.pow(2).sum(-1, true).sqrt().clamp_min(1e-12)).to(at::kCPU);
    const at::Tensor present = (counts > 0).to(at::kCPU);
    const std::int64_t n = hidden.size(0);
    double sum = 0;
    int groups = 0;
    for (std::int64_t first = 0; groupSize > 0 && first < n; first += groupSize) {
        const std::int64_t end = std::min(n, first + groupSize);
        const at::Tensor keep = present.slice(0, first, end).nonzero().squeeze(-1) + first;
        const std::int64_t k = keep.size(0);
        if (k < 2)
            continue;
        const at::Tensor u = unit.index_select(0, keep); // [k, H]
        const at::Tensor cosine = at::matmul(u, u.t()); // [k, k], 1 on the diagonal
        const double pairs = static_cast<double>(k * (k - 1));
        const double meanSimilarity = ((cosine.sum() - cosine.diagonal().sum()) / pairs).item<double>();
        sum += 1.0 - meanSimilarity;
        ++groups;
    }
    return groups > 0 ? sum / groups : -1.0;
}

} // namespace tunebench
