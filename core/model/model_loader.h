// Loading a Hugging Face model folder (config.json + safetensors) into a CausalLM.
#pragma once

#include "core/model/causal_lm.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <memory>
#include <optional>

namespace tunebench {

struct LoadOptions {
    at::Device device = at::kCPU;
    // Compute dtype. Unset: float32 on the CPU (half-precision matmuls there are
    // slow and inexact), the config's torch_dtype on other devices.
    std::optional<at::ScalarType> dtype;
    // Tensors the architecture does not use: refused by default (they usually
    // mean a wrong config); buffers transformers itself ignores (rotary
    // inv_freq, GPT-2's attn.bias/masked_bias, a tied lm_head.weight) are
    // always accepted.
    bool allowUnexpectedTensors = false;
};

// The LibTorch dtype a config's torch_dtype names.
at::ScalarType scalarTypeOf(StorageDtype dtype);
// The compute dtype LoadOptions resolve to for a config and device.
at::ScalarType computeDtype(const ModelConfig& config, const LoadOptions& options);

// Loads dir/config.json and the folder's safetensors weights (single or
// sharded). Float32 weights on the CPU are used in place from the mapped file
// (no copy); other dtypes and devices are converted once. Parameters do not
// require grad (call CausalLM::setRequiresGrad to train).
// Throws InputError naming the file: config errors, pickle-only folders,
// every missing tensor and every unexpected one by name, shape mismatches.
std::unique_ptr<CausalLM> loadCausalLM(const std::filesystem::path& dir, const LoadOptions& options = {});

} // namespace tunebench
