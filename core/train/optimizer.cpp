#include "core/train/optimizer.h"

#include "core/torch_compat.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace tunebench {

namespace {

constexpr const char* kStepKey = "optimizer.step";

at::Tensor takeState(const std::map<std::string, at::Tensor>& state, const std::string& key, const at::Tensor& like)
{
    auto it = state.find(key);
    if (it == state.end())
        throw InputError("optimizer state has no entry '" + key + "'");
    if (it->second.sizes() != like.sizes())
        throw InputError("optimizer state '" + key + "' has shape " + c10::str(it->second.sizes())
            + ", the parameter has " + c10::str(like.sizes()));
    return it->second.to(like.options()).clone();
}

std::int64_t takeStep(const std::map<std::string, at::Tensor>& state)
{
    auto it = state.find(kStepKey);
    if (it == state.end())
        throw InputError(std::string("optimizer state has no entry '") + kStepKey + "'");
    return it->second.item<std::int64_t>();
}

class AdamW final : public Optimizer {
public:
    AdamW(std::vector<ParameterGroup> groups, AdamWOptions options)
        : Optimizer(std::move(groups))
        , m_options(options)
    {
        for (const auto& g : m_groups) {
            for (const auto& p : g.parameters) {
                m_expAvg[p.name] = at::zeros_like(p.tensor, at::MemoryFormat::Preserve);
                m_expAvgSq[p.name] = at::zeros_like(p.tensor, at::MemoryFormat::Preserve);
            }
        }
    }

    void step(double lr) override
    {
        at::NoGradGuard noGrad;
        ++m_steps;
        const double t = static_cast<double>(m_steps);
        const double biasCorrection1 = 1.0 - std::pow(m_options.beta1, t);
        const double biasCorrection2 = 1.0 - std::pow(m_options.beta2, t);
        const double stepSize = lr / biasCorrection1;
        const double sqrtBc2 = std::sqrt(biasCorrection2);
        for (const auto& g : m_groups) {
            const double groupLr = lr * g.lrScale;
            if (m_options.fused && fusedStep(g, groupLr, t))
                continue;
            for (const auto& p : g.parameters) {
                const at::Tensor& grad = p.tensor.grad();
                if (!grad.defined())
                    continue;
                at::Tensor param = p.tensor;
                if (g.weightDecay != 0.0)
                    param.mul_(1.0 - groupLr * g.weightDecay);
                at::Tensor& m = m_expAvg[p.name];
                at::Tensor& v = m_expAvgSq[p.name];
                m.lerp_(grad, 1.0 - m_options.beta1);
                v.mul_(m_options.beta2).addcmul_(grad, grad, 1.0 - m_options.beta2);
                at::Tensor denom = (v.sqrt() / sqrtBc2).add_(m_options.eps);
                param.addcdiv_(m, denom, -stepSize * g.lrScale);
            }
        }
    }

    std::map<std::string, at::Tensor> state() const override
    {
        std::map<std::string, at::Tensor> out;
        for (const auto& [name, m] : m_expAvg)
            out[name + ".exp_avg"] = m;
        for (const auto& [name, v] : m_expAvgSq)
            out[name + ".exp_avg_sq"] = v;
        out[kStepKey] = at::scalar_tensor(m_steps, at::kLong);
        return out;
    }

    void restoreState(const std::map<std::string, at::Tensor>& state) override
    {
        const std::int64_t steps = takeStep(state);
        std::map<std::string, at::Tensor> m, v;
        for (const auto& g : m_groups) {
            for (const auto& p : g.parameters) {
                m[p.name] = takeState(state, p.name + ".exp_avg", p.tensor);
                v[p.name] = takeState(state, p.name + ".exp_avg_sq", p.tensor);
            }
        }
        m_expAvg = std::move(m);
        m_expAvgSq = std::move(v);
        m_steps = steps;
    }

private:
    // One fused kernel for a group whose parameters share a device and floating dtype
    // (LibTorch 2.4+, core/torch_compat.h); false where that path does not apply.
    bool fusedStep(const ParameterGroup& g, double groupLr, double t)
    {
        std::vector<at::Tensor> params, grads, m, v, steps;
        for (const auto& p : g.parameters) {
            const at::Tensor& grad = p.tensor.grad();
            if (!grad.defined())
                continue;
            if (!params.empty()
                && (p.tensor.device() != params.front().device()
                    || p.tensor.scalar_type() != params.front().scalar_type()))
                return false;
            params.push_back(p.tensor);
            grads.push_back(grad);
            m.push_back(m_expAvg[p.name]);
            v.push_back(m_expAvgSq[p.name]);
        }
        if (params.empty())
            return true;
        if (!compat::hasFusedAdamW(params.front().device().type()) || !at::isFloatingType(params.front().scalar_type()))
            return false;
        for (std::size_t i = 0; i < params.size(); ++i)
            steps.push_back(at::full({}, t, params.front().options().dtype(at::kFloat)));
        compat::fusedAdamW(params, grads, m, v, steps, groupLr, m_options.beta1, m_options.beta2, g.weightDecay,
            m_options.eps);
        return true;
    }

    AdamWOptions m_options;
    std::map<std::string, at::Tensor> m_expAvg;
    std::map<std::string, at::Tensor> m_expAvgSq;
};

class Sgd final : public Optimizer {
public:
    Sgd(std::vector<ParameterGroup> groups, SgdOptions options)
        : Optimizer(std::move(groups))
        , m_options(options)
    { }

    void step(double lr) override
    {
        at::NoGradGuard noGrad;
        ++m_steps;
        for (const auto& g : m_groups) {
            const double groupLr = lr * g.lrScale;
            for (const auto& p : g.parameters) {
                at::Tensor grad = p.tensor.grad();
                if (!grad.defined())
                    continue;
                if (g.weightDecay != 0.0)
                    grad = grad.add(p.tensor, g.weightDecay);
                if (m_options.momentum != 0.0) {
                    auto it = m_momentum.find(p.name);
                    if (it == m_momentum.end()) {
                        it = m_momentum.emplace(p.name, grad.clone()).first;
                    } else {
                        it->second.mul_(m_options.momentum).add_(grad);
                    }
                    grad = m_options.nesterov ? grad.add(it->second, m_options.momentum) : it->second;
                }
                at::Tensor param = p.tensor;
                param.add_(grad, -groupLr);
            }
        }
    }

    std::map<std::string, at::Tensor> state() const override
    {
        std::map<std::string, at::Tensor> out;
        for (const auto& [name, buf] : m_momentum)
            out[name + ".momentum_buffer"] = buf;
        out[kStepKey] = at::scalar_tensor(m_steps, at::kLong);
        return out;
    }

    void restoreState(const std::map<std::string, at::Tensor>& state) override
    {
        const std::int64_t steps = takeStep(state);
        std::map<std::string, at::Tensor> buffers;
        for (const auto& g : m_groups) {
            for (const auto& p : g.parameters) {
                // A buffer exists once the parameter has had a gradient.
                if (state.count(p.name + ".momentum_buffer"))
                    buffers[p.name] = takeState(state, p.name + ".momentum_buffer", p.tensor);
            }
        }
        m_momentum = std::move(buffers);
        m_steps = steps;
    }

private:
    SgdOptions m_options;
    std::map<std::string, at::Tensor> m_momentum;
};

} // namespace

Optimizer::Optimizer(std::vector<ParameterGroup> groups)
    : m_groups(std::move(groups))
{
    std::map<std::string, int> seen;
    for (const auto& g : m_groups) {
        for (const auto& p : g.parameters) {
            if (!p.tensor.defined())
                throw InputError("parameter '" + p.name + "' has no tensor");
            if (seen[p.name]++)
                throw InputError("parameter '" + p.name + "' is listed twice in the optimizer's groups");
        }
    }
}

void Optimizer::zeroGrad()
{
    for (auto& g : m_groups) {
        for (auto& p : g.parameters)
            p.tensor.mutable_grad().reset(); // set to none, as torch's zero_grad does by default
    }
}

std::unique_ptr<Optimizer> makeAdamW(std::vector<ParameterGroup> groups, AdamWOptions options)
{
    return std::make_unique<AdamW>(std::move(groups), options);
}

std::unique_ptr<Optimizer> makeSgd(std::vector<ParameterGroup> groups, SgdOptions options)
{
    return std::make_unique<Sgd>(std::move(groups), options);
}

} // namespace tunebench
