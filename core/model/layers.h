// Stateless building blocks shared by the architectures: normalisations and
// activations, computed as transformers computes them.
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace tunebench {

// x [..., D] * rsqrt(mean(x^2) + eps) * weight [D], the mean taken in float32
// and the result cast back to x's dtype before the weight, as Llama's RMSNorm.
at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps);

// LayerNorm over the last dimension (GPT-2).
at::Tensor layerNorm(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, double eps);

// The activation transformers' ACT2FN maps `name` to: silu/swish, gelu (erf),
// gelu_new and gelu_pytorch_tanh (tanh approximation), relu, tanh.
// The name was checked by validateModelConfig; an unknown one throws InputError.
at::Tensor activation(const at::Tensor& x, const std::string& name);

} // namespace tunebench
