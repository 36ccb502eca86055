#include "core/torch_compat.h"

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>

#include <stdexcept>

namespace tunebench::compat {

at::Tensor scaledDotProductAttention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, double scale)
{
#if TUNEBENCH_TORCH_AT_LEAST(2, 5)
    return at::scaled_dot_product_attention(q, k, v, allowed, /*dropout_p=*/0.0, /*is_causal=*/false, scale,
        /*enable_gqa=*/k.size(1) != q.size(1));
#else
    (void)q, (void)k, (void)v, (void)allowed, (void)scale;
    throw std::logic_error("scaled_dot_product_attention needs LibTorch 2.5 or newer (this is " TORCH_VERSION ")");
#endif
}

bool hasFusedAdamW(c10::DeviceType device)
{
#if TUNEBENCH_TORCH_AT_LEAST(2, 4)
    return device == c10::DeviceType::CUDA || device == c10::DeviceType::CPU;
#else
    (void)device;
    return false;
#endif
}

void fusedAdamW(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
    const std::vector<at::Tensor>& expAvg, const std::vector<at::Tensor>& expAvgSq, const std::vector<at::Tensor>& steps,
    double lr, double beta1, double beta2, double weightDecay, double eps)
{
#if TUNEBENCH_TORCH_AT_LEAST(2, 4)
    at::_fused_adamw_(params, grads, expAvg, expAvgSq, /*max_exp_avg_sqs=*/ {}, steps, lr, beta1, beta2, weightDecay,
        eps, /*amsgrad=*/false, /*maximize=*/false);
#else
    (void)params, (void)grads, (void)expAvg, (void)expAvgSq, (void)steps;
    (void)lr, (void)beta1, (void)beta2, (void)weightDecay, (void)eps;
    throw std::logic_error("fused AdamW needs LibTorch 2.4 or newer (this is " TORCH_VERSION ")");
#endif
}

bool hasAutocast(c10::DeviceType device, c10::ScalarType dtype)
{
    if (device == c10::DeviceType::CPU)
        return dtype == c10::ScalarType::BFloat16;
    if (device == c10::DeviceType::CUDA)
        return dtype == c10::ScalarType::BFloat16 || dtype == c10::ScalarType::Half;
    return false;
}

namespace {

#if TUNEBENCH_TORCH_AT_LEAST(2, 4)
bool autocastEnabled(c10::DeviceType d)
{
    return at::autocast::is_autocast_enabled(d);
}
void setAutocastEnabled(c10::DeviceType d, bool on)
{
    at::autocast::set_autocast_enabled(d, on);
}
c10::ScalarType autocastDtype(c10::DeviceType d)
{
    return at::autocast::get_autocast_dtype(d);
}
void setAutocastDtype(c10::DeviceType d, c10::ScalarType t)
{
    at::autocast::set_autocast_dtype(d, t);
}
#else
// LibTorch 1.13 has one switch and one dtype per device kind.
bool autocastEnabled(c10::DeviceType d)
{
    return d == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
void setAutocastEnabled(c10::DeviceType d, bool on)
{
    if (d == c10::DeviceType::CPU)
        at::autocast::set_cpu_enabled(on);
    else
        at::autocast::set_enabled(on);
}
c10::ScalarType autocastDtype(c10::DeviceType d)
{
    return d == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void setAutocastDtype(c10::DeviceType d, c10::ScalarType t)
{
    if (d == c10::DeviceType::CPU)
        at::autocast::set_autocast_cpu_dtype(t);
    else
        at::autocast::set_autocast_gpu_dtype(t);
}
#endif

} // namespace

AutocastGuard::AutocastGuard(c10::DeviceType device, c10::ScalarType dtype, bool enabled)
    : m_device(device)
    , m_enabled(enabled)
{
    if (!m_enabled)
        return;
    if (!hasAutocast(device, dtype))
        throw std::invalid_argument(std::string("autocast to ") + c10::toString(dtype) + " is not available on "
            + c10::DeviceTypeName(device, /*lower_case=*/true));
    m_wasEnabled = autocastEnabled(device);
    m_previousDtype = autocastDtype(device);
    setAutocastDtype(device, dtype);
    setAutocastEnabled(device, true);
    at::autocast::increment_nesting();
}

AutocastGuard::~AutocastGuard()
{
    if (!m_enabled)
        return;
    // Casts of weights are cached while autocast is on; the outermost guard frees them.
    if (at::autocast::decrement_nesting() == 0)
        at::autocast::clear_cache();
    setAutocastEnabled(m_device, m_wasEnabled);
    setAutocastDtype(m_device, m_previousDtype);
}

} // namespace tunebench::compat
