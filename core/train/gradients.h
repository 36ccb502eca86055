#pragma once

#include "core/train/optimizer.h"

#include <vector>

namespace tunebench {

struct GradNorm {
    double norm = 0.0; // the global L2 norm before clipping
    bool finite = true; // false when any gradient holds NaN or Inf
    bool clipped = false;
};

// Global L2 norm of the gradients of these groups, and clipping to maxNorm as
// torch.nn.utils.clip_grad_norm_ does (scale by maxNorm / (norm + 1e-6) when
// that is below 1). maxNorm <= 0 only measures. Non-finite gradients are
// reported and left untouched so the caller can stop or skip the step.
GradNorm clipGradNorm(const std::vector<ParameterGroup>& groups, double maxNorm);

} // namespace tunebench
