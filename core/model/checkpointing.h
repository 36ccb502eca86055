// Activation checkpointing: a decoder layer's forward that keeps only its input, and runs
// the layer again during backward to get the activations it needs.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>

namespace tunebench {

// x -> layer(x), one decoder layer: its parameters (and an adapter's, through the
// layer's hooks) are reached by the function itself, not passed in.
using LayerFunction = std::function<at::Tensor(const at::Tensor&)>;

// Returns layer(x) without keeping the layer's intermediate tensors: backward runs the layer
// again from x, with the random generator of x's device set back to its state before the
// first run, so dropout draws the same mask, and lets the gradients of the parameters
// accumulate into their .grad as an ordinary backward does (reentrant, like PyTorch's
// checkpoint(use_reentrant=True)). Hence a loss must be differentiated with backward(),
// not autograd::grad(), through checkpointed layers. With grad mode off, or when nothing
// in the layer records autograd, this is just layer(x).
at::Tensor checkpointedLayer(const LayerFunction& layer, const at::Tensor& x);

} // namespace tunebench
