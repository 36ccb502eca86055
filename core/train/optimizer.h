#pragma once

#include "core/method/parameter_group.h"

#include <ATen/core/Tensor.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// An optimiser over named parameter groups. Called from the training thread
// only. State is exposed as named tensors ("<param>.exp_avg", ...) plus a step
// count, so a checkpoint stores it in safetensors and resumes exactly.
class Optimizer {
public:
    virtual ~Optimizer() = default;

    // Applies one update with this learning rate (times each group's lrScale).
    // Parameters without a gradient are skipped. Advances the step count.
    virtual void step(double lr) = 0;
    void zeroGrad();
    std::int64_t stepCount() const { return m_steps; }

    // Everything needed to continue exactly; restoreState throws InputError
    // when a parameter's state is missing or has another shape.
    virtual std::map<std::string, at::Tensor> state() const = 0;
    virtual void restoreState(const std::map<std::string, at::Tensor>& state) = 0;

    const std::vector<ParameterGroup>& groups() const { return m_groups; }

protected:
    explicit Optimizer(std::vector<ParameterGroup> groups);

    std::vector<ParameterGroup> m_groups;
    std::int64_t m_steps = 0;
};

struct AdamWOptions {
    double beta1 = 0.9;
    double beta2 = 0.999;
    double eps = 1e-8;
    // One fused kernel per parameter group where the LibTorch has it (2.4+: CUDA and CPU), as
    // torch.optim.AdamW(fused=True); the same update up to float rounding. Elsewhere, or off,
    // an update per parameter.
    bool fused = true;
};

// AdamW with decoupled weight decay (Loshchilov & Hutter), as torch.optim.AdamW:
// p -= lr*wd*p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
std::unique_ptr<Optimizer> makeAdamW(std::vector<ParameterGroup> groups, AdamWOptions options = {});

struct SgdOptions {
    double momentum = 0.0;
    bool nesterov = false;
};

// SGD as torch.optim.SGD (weight decay added to the gradient, dampening 0).
std::unique_ptr<Optimizer> makeSgd(std::vector<ParameterGroup> groups, SgdOptions options = {});

} // namespace tunebench
