// The one place where Tunebench's code differs between the LibTorch versions it builds
// against: Debian's 1.13 (CPU, the .deb) and PyTorch's 2.x (CUDA, GPU machines). Every
// version check lives here, never as scattered #ifs; callers ask what a path offers.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/DeviceType.h>
#include <c10/core/ScalarType.h>
#include <torch/version.h>

#define TUNEBENCH_TORCH_AT_LEAST(major, minor)                                                                         \
    (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

namespace tunebench::compat {

// at::scaled_dot_product_attention with a scale and grouped-query heads (LibTorch 2.5+).
constexpr bool kHasScaledDotProductAttention = TUNEBENCH_TORCH_AT_LEAST(2, 5);

// softmax(q k^T * scale, masked) v through LibTorch's fused kernel (flash or memory-efficient
// on CUDA, a blocked kernel on the CPU). q [B, H, T, D]; k, v [B, Hkv, S, D]; allowed
// [B, 1, T, S] bool with at least one true per query row. Returns [B, H, T, D].
// Only where kHasScaledDotProductAttention; throws std::logic_error elsewhere.
at::Tensor scaledDotProductAttention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, double scale);

// Whether at::_fused_adamw_ (one kernel over all parameters) runs on this device type:
// LibTorch 2.0+ on CUDA, 2.4+ on the CPU.
bool hasFusedAdamW(c10::DeviceType device);

// One fused AdamW update of params (torch.optim.AdamW(fused=True)): the same formula as
// Tunebench's own AdamW. steps are float32 scalars holding the step number after this
// update. Only where hasFusedAdamW.
void fusedAdamW(const std::vector<at::Tensor>& params, const std::vector<at::Tensor>& grads,
    const std::vector<at::Tensor>& expAvg, const std::vector<at::Tensor>& expAvgSq, const std::vector<at::Tensor>& steps,
    double lr, double beta1, double beta2, double weightDecay, double eps);

// Whether autocast (mixed precision) works for this device type and low-precision dtype:
// bfloat16 on CPU and CUDA, float16 on CUDA.
bool hasAutocast(c10::DeviceType device, c10::ScalarType dtype);

// Runs eligible ops (matmuls, linear layers) in dtype on one device type while it lives,
// as torch.autocast does; restores the previous setting and clears autocast's weight cast
// cache on destruction. A guard with enabled = false changes nothing.
class AutocastGuard {
public:
    AutocastGuard(c10::DeviceType device, c10::ScalarType dtype, bool enabled = true);
    ~AutocastGuard();
    AutocastGuard(const AutocastGuard&) = delete;
    AutocastGuard& operator=(const AutocastGuard&) = delete;

private:
    c10::DeviceType m_device;
    bool m_enabled;
    bool m_wasEnabled = false;
    c10::ScalarType m_previousDtype = c10::ScalarType::Undefined;
};

} // namespace tunebench::compat
