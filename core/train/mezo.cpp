#include "core/train/mezo.h"

#include "core/util/error.h"
#include "core/util/splitmix64.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <mutex>

namespace tunebench {

namespace {

constexpr const char* kStepKey = "optimizer.step";

at::Tensor cpuRngState()
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void setCpuRngState(const at::Tensor& state)
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

} // namespace

MezoOptimizer::MezoOptimizer(std::vector<ParameterGroup> groups, MezoOptions options)
    : Optimizer(std::move(groups))
    , m_options(options)
{
    if (!(m_options.eps > 0))
        throw InputError("mezo_eps must be above 0");
}

std::uint64_t MezoOptimizer::stepSeed(std::uint64_t seed, std::int64_t step)
{
    // Two SplitMix64 rounds keep neighbouring steps' and seeds' generators apart.
    SplitMix64 mix(seed ^ (0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(step + 1)));
    mix.next();
    return mix.next();
}

void MezoOptimizer::perturb(double scale)
{
    at::NoGradGuard noGrad;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(stepSeed(m_options.seed, m_steps));
    for (const auto& g : m_groups) {
        for (const auto& p : g.parameters) {
            const at::Tensor z = at::randn(p.tensor.sizes(), gen, at::TensorOptions().dtype(at::kFloat));
            at::Tensor param = p.tensor;
            param.add_(z.to(param.options()), scale);
        }
    }
}

MezoEstimate MezoOptimizer::estimate(const std::function<double()>& loss)
{
    MezoEstimate e;
    const at::Tensor rng = cpuRngState();
    perturb(m_options.eps);
    e.lossPlus = loss();
    setCpuRngState(rng);
    perturb(-2.0 * m_options.eps);
    e.lossMinus = loss();
    perturb(m_options.eps);
    e.projectedGrad = (e.lossPlus - e.lossMinus) / (2.0 * m_options.eps);
    m_projectedGrad = e.projectedGrad;
    m_estimated = true;
    return e;
}

void MezoOptimizer::step(double lr)
{
    if (!m_estimated)
        throw std::logic_error("MezoOptimizer::step without an estimate: call estimate() first");
    at::NoGradGuard noGrad;
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(stepSeed(m_options.seed, m_steps));
    for (const auto& g : m_groups) {
        const double groupLr = lr * g.lrScale;
        for (const auto& p : g.parameters) {
            const at::Tensor z = at::randn(p.tensor.sizes(), gen, at::TensorOptions().dtype(at::kFloat));
            at::Tensor param = p.tensor;
            if (g.weightDecay != 0.0)
                param.mul_(1.0 - groupLr * g.weightDecay);
            param.add_(z.to(param.options()), -groupLr * m_projectedGrad);
        }
    }
    m_estimated = false;
    ++m_steps;
}

std::map<std::string, at::Tensor> MezoOptimizer::state() const
{
    // The step count is all: each step's z comes from the seed and the count.
    return { { kStepKey, at::scalar_tensor(m_steps, at::kLong) } };
}

void MezoOptimizer::restoreState(const std::map<std::string, at::Tensor>& state)
{
    auto it = state.find(kStepKey);
    if (it == state.end())
        throw InputError(std::string("optimizer state has no entry '") + kStepKey + "'");
    m_steps = it->second.item<std::int64_t>();
    m_estimated = false;
}

std::unique_ptr<MezoOptimizer> makeMezo(std::vector<ParameterGroup> groups, MezoOptions options)
{
    return std::make_unique<MezoOptimizer>(std::move(groups), options);
}

} // namespace tunebench
