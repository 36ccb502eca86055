// What an adapter trains, as the optimiser sees it: named tensors in groups that share
// hyperparameters. Part of the method API (core/method/adapter.h); the trainer's optimisers
// (core/train/optimizer.h) take these groups.
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

namespace tunebench {

// A trainable tensor with its stable name (the HF parameter name, or an
// adapter's), so optimiser state can be saved and matched on resume by name.
struct NamedParameter {
    std::string name;
    at::Tensor tensor; // a leaf that requires grad
};

// Parameters that share hyperparameters: weight decay, and a multiplier on the
// scheduled learning rate (layer-wise LR decay sets it per layer).
struct ParameterGroup {
    std::vector<NamedParameter> parameters;
    double weightDecay = 0.0;
    double lrScale = 1.0;
};

// Whether a parameter gets weight decay under the usual convention: biases and
// normalisation gains do not (names ending in "bias", or containing "norm" or
// "ln_"), nor do 1-D tensors.
bool decaysByDefault(const NamedParameter& p);

// Splits parameters into a decayed and a non-decayed group (empty groups dropped).
std::vector<ParameterGroup> defaultParameterGroups(std::vector<NamedParameter> params, double weightDecay);

} // namespace tunebench
