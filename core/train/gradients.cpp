#include "core/train/gradients.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace tunebench {

GradNorm clipGradNorm(const std::vector<ParameterGroup>& groups, double maxNorm)
{
    at::NoGradGuard noGrad;
    std::vector<at::Tensor> grads;
    for (const auto& g : groups) {
        for (const auto& p : g.parameters) {
            if (p.tensor.grad().defined())
                grads.push_back(p.tensor.grad());
        }
    }
    GradNorm out;
    if (grads.empty())
        return out;
    // Sum of squares in double, on each gradient's device, then one sync.
    at::Tensor total = at::zeros({}, grads.front().options().dtype(at::kDouble));
    for (const auto& grad : grads)
        total = total + grad.to(at::kDouble).pow(2).sum().to(total.device());
    out.norm = std::sqrt(total.item<double>());
    out.finite = std::isfinite(out.norm);
    if (!out.finite || maxNorm <= 0.0)
        return out;
    const double coef = maxNorm / (out.norm + 1e-6);
    if (coef < 1.0) {
        for (auto& grad : grads)
            grad.mul_(coef);
        out.clipped = true;
    }
    return out;
}

} // namespace tunebench
