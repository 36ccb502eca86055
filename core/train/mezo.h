// MeZO (Malladi et al. 2023, "Fine-Tuning Language Models with Just Forward Passes"): zeroth-order SPSA
// with the seed trick. Each step draws z ~ N(0, I) over the trainable parameters from one per-step seed,
// evaluates the loss at theta + eps z and theta - eps z, and estimates the projected gradient
// g = (L+ - L-) / (2 eps); the update theta -= lr (g z + wd theta) draws the same z again from the seed.
// No z is stored, no gradient is computed, no autograd graph is built: the memory is inference's.
#pragma once

#include "core/train/optimizer.h"

#include <cstdint>
#include <functional>

namespace tunebench {

struct MezoOptions {
    double eps = 1e-3; // perturbation scale
    std::uint64_t seed = 42; // with the step count, fixes every step's z
};

struct MezoEstimate {
    double lossPlus = 0; // L(theta + eps z)
    double lossMinus = 0; // L(theta - eps z)
    double projectedGrad = 0; // (L+ - L-) / (2 eps)
};

class MezoOptimizer final : public Optimizer {
public:
    MezoOptimizer(std::vector<ParameterGroup> groups, MezoOptions options);

    // The seed of step `step` (0-based, the step count before the update): z of every parameter, in the
    // groups' order, is drawn as float32 at::randn of its shape from one CPU generator seeded with it, then
    // moved to the parameter's device and dtype (the same z on every device).
    static std::uint64_t stepSeed(std::uint64_t seed, std::int64_t step);

    // Runs loss() at theta + eps z and at theta - eps z, with the CPU random state of the first call given
    // again to the second (same dropout masks), and puts theta back (up to float rounding, as MeZO does).
    // The estimate is what the next step() applies.
    MezoEstimate estimate(const std::function<double()>& loss);
    // theta -= lr * lrScale * (g z + weightDecay theta) with the last estimate's g; advances the step count.
    void step(double lr) override;

    std::map<std::string, at::Tensor> state() const override;
    void restoreState(const std::map<std::string, at::Tensor>& state) override;

private:
    // theta += scale * z for every trainable parameter, z drawn again from the step's seed.
    void perturb(double scale);

    MezoOptions m_options;
    double m_projectedGrad = 0;
    bool m_estimated = false;
};

std::unique_ptr<MezoOptimizer> makeMezo(std::vector<ParameterGroup> groups, MezoOptions options = {});

} // namespace tunebench
