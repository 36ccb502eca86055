#include "core/reward/reward_model_loss.h"

#include <ATen/ATen.h>

namespace tunebench {

BradleyTerryLoss bradleyTerryLoss(
    const at::Tensor& rewardsChosen, const at::Tensor& rewardsRejected, double margin, double centerCoefficient)
{
    const at::Tensor diff = rewardsChosen - rewardsRejected;
    BradleyTerryLoss out;
    out.loss = -at::log_sigmoid(diff - margin).mean();
    if (centerCoefficient > 0)
        out.loss = out.loss + centerCoefficient * (rewardsChosen + rewardsRejected).pow(2).mean();
    const at::Tensor d = diff.detach().to(at::kDouble);
    out.metrics
        = { { "accuracy", (d > 0).to(at::kDouble).mean().item<double>() }, { "margin", d.mean().item<double>() },
              { "rewards_chosen", rewardsChosen.detach().to(at::kDouble).mean().item<double>() },
              { "rewards_rejected", rewardsRejected.detach().to(at::kDouble).mean().item<double>() } };
    return out;
}

} // namespace tunebench
