// A reward model's training loss (plugins/reward_model_objective), as TRL's RewardTrainer defines it.
#pragma once

#include <ATen/core/Tensor.h>

#include <map>
#include <string>

namespace tunebench {

struct BradleyTerryLoss {
    at::Tensor loss; // scalar, differentiable in both reward tensors
    // accuracy: the share of pairs with r_chosen > r_rejected; margin: mean(r_chosen - r_rejected);
    // rewards_chosen, rewards_rejected: their means.
    std::map<std::string, double> metrics;
};

// rewardsChosen, rewardsRejected [B]: mean(-log sigma(r_c - r_r - margin)), plus
// centerCoefficient * mean((r_c + r_r)^2) when it is above 0.
BradleyTerryLoss bradleyTerryLoss(
    const at::Tensor& rewardsChosen, const at::Tensor& rewardsRejected, double margin, double centerCoefficient);

} // namespace tunebench
