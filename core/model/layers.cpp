#include "core/model/layers.h"

#include "core/util/error.h"

#include <cmath>

namespace tunebench {

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps)
{
    const at::Tensor h = x.to(at::kFloat);
    const at::Tensor variance = h.pow(2).mean(-1, /*keepdim=*/true);
    return weight * (h * at::rsqrt(variance + eps)).to(x.scalar_type());
}

at::Tensor layerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps)
{
    return at::layer_norm(x, { x.size(-1) }, weight, bias, eps);
}

at::Tensor activation(const at::Tensor& x, const std::string& name)
{
    if (name == "silu" || name == "swish")
        return at::silu(x);
    if (name == "gelu")
        return at::gelu(x);
    if (name == "gelu_new") {
        // transformers' NewGELUActivation, written out as it is there (at::gelu's
        // tanh mode evaluates the same formula in a different order).
        const double c = std::sqrt(2.0 / M_PI);
        return 0.5 * x * (1.0 + at::tanh(c * (x + 0.044715 * at::pow(x, 3.0))));
    }
    if (name == "gelu_pytorch_tanh")
        return at::gelu(x, "tanh");
    if (name == "relu")
        return at::relu(x);
    if (name == "tanh")
        return at::tanh(x);
    throw InputError("unsupported activation '" + name + "'");
}

} // namespace tunebench
