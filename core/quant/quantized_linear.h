// The forward of a linear layer whose frozen weight is held quantised (QLoRA's base layers).
#pragma once

#include "core/quant/quantize.h"

#include <ATen/ATen.h>

namespace tunebench::quant {

// x [..., in] -> x W^T [..., out] for weight = W [out, in] quantised, in x's dtype and on x's device. W is frozen:
// no gradient reaches it. While autograd records, the backward dequantises W again instead of keeping the
// dequantised copy alive until then, so a model's recorded graph holds only the quantised weights, as
// bitsandbytes' 4-bit matmul does; without gradients W is dequantised, used and dropped.
at::Tensor quantizedLinear(const at::Tensor& x, const QuantizedTensor& weight);

} // namespace tunebench::quant
