#include "core/distributed/gradient_sync.h"

#include "core/distributed/communicator.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/function_hook.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/distributed/c10d/Work.hpp>

#include <chrono>

namespace tunebench {

namespace {

class ReadyHook : public torch::autograd::FunctionPostHook {
public:
    explicit ReadyHook(std::function<void()> ready)
        : m_ready(std::move(ready))
    { }
    torch::autograd::variable_list operator()(
        const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) override
    {
        m_ready();
        return outputs;
    }

private:
    std::function<void()> m_ready;
};

} // namespace

GradientSync::GradientSync(Communicator& comm, std::vector<at::Tensor> parameters, std::int64_t bucketBytes)
    : m_comm(comm)
    , m_parameters(std::move(parameters))
    , m_bucketOf(m_parameters.size())
    , m_copied(m_parameters.size(), 0)
{
    // Back to front: backward reaches the last layers first.
    Bucket current;
    std::int64_t bytes = 0;
    std::int64_t elements = 0;
    auto close = [&]() {
        if (current.members.empty())
            return;
        current.flat = at::zeros({ elements }, m_parameters[current.members.front()].options().requires_grad(false));
        m_buckets.push_back(std::move(current));
        current = {};
        bytes = 0;
        elements = 0;
    };
    for (std::size_t i = m_parameters.size(); i-- > 0;) {
        const at::Tensor& p = m_parameters[i];
        if (!current.members.empty()
            && (p.scalar_type() != m_parameters[current.members.front()].scalar_type()
                || p.device() != m_parameters[current.members.front()].device()))
            close();
        m_bucketOf[i] = m_buckets.size();
        current.members.push_back(i);
        current.offsets.push_back(elements);
        elements += p.numel();
        bytes += static_cast<std::int64_t>(p.numel() * p.element_size());
        if (bytes >= bucketBytes)
            close();
    }
    close();
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        auto node = torch::autograd::impl::grad_accumulator(m_parameters[i]);
        if (!node)
            continue;
        m_hookKeys.push_back(node->add_post_hook(std::make_unique<ReadyHook>([this, i]() { onGradReady(i); })));
        m_accumulators.push_back(std::move(node));
    }
}

GradientSync::~GradientSync()
{
    for (std::size_t i = 0; i < m_accumulators.size(); ++i)
        m_accumulators[i]->del_post_hook(m_hookKeys[i]);
}

void GradientSync::arm()
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_armed = true;
    m_nextLaunch = 0;
    m_stats = {};
    std::fill(m_copied.begin(), m_copied.end(), 0);
    for (Bucket& b : m_buckets) {
        b.ready = 0;
        b.launched = false;
        b.work.reset();
    }
}

void GradientSync::copyIn(std::size_t i)
{
    Bucket& b = m_buckets[m_bucketOf[i]];
    std::size_t slot = 0;
    while (b.members[slot] != i)
        ++slot;
    const at::Tensor& p = m_parameters[i];
    at::Tensor view = b.flat.narrow(0, b.offsets[slot], p.numel());
    const at::Tensor grad = p.grad();
    if (grad.defined())
        view.copy_(grad.reshape({ -1 }));
    else
        view.zero_();
    m_copied[i] = 1;
    ++b.ready;
}

void GradientSync::onGradReady(std::size_t i)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    if (!m_armed || m_copied[i])
        return;
    copyIn(i);
    launchReady();
}

void GradientSync::launch(Bucket& b)
{
    std::vector<at::Tensor> t { b.flat };
    b.work = m_comm.allReduceSumAsync(t);
    b.launched = true;
    m_stats.bytes += static_cast<std::int64_t>(b.flat.numel() * b.flat.element_size());
    ++m_stats.buckets;
}

void GradientSync::launchReady()
{
    while (m_nextLaunch < m_buckets.size()) {
        Bucket& b = m_buckets[m_nextLaunch];
        if (b.ready < b.members.size())
            return;
        launch(b);
        ++m_stats.bucketsFromHooks;
        ++m_nextLaunch;
    }
}

GradientSyncStats GradientSync::finish()
{
    const auto started = std::chrono::steady_clock::now();
    std::lock_guard<std::mutex> lock(m_mutex);
    m_armed = false;
    at::NoGradGuard noGrad;
    // Which parameters have a gradient on some rank: those keep one, the others none.
    at::Tensor defined = at::zeros({ static_cast<std::int64_t>(m_parameters.size()) }, at::kFloat);
    for (std::size_t i = 0; i < m_parameters.size(); ++i)
        defined[static_cast<std::int64_t>(i)] = m_parameters[i].grad().defined() ? 1.0f : 0.0f;
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        if (!m_copied[i])
            copyIn(i);
    }
    while (m_nextLaunch < m_buckets.size())
        launch(m_buckets[m_nextLaunch++]);
    std::vector<at::Tensor> flags { defined };
    m_comm.allReduceSum(flags);
    for (Bucket& b : m_buckets) {
        m_comm.wait(b.work, "gradient all-reduce");
        b.work.reset();
        for (std::size_t slot = 0; slot < b.members.size(); ++slot) {
            at::Tensor& p = m_parameters[b.members[slot]];
            if (defined[static_cast<std::int64_t>(b.members[slot])].item<float>() == 0.0f)
                continue;
            const at::Tensor sum = b.flat.narrow(0, b.offsets[slot], p.numel()).view(p.sizes());
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
        }
    }
    m_stats.waitSeconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return m_stats;
}

} // namespace tunebench
