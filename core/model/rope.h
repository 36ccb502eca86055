// Rotary position embeddings as transformers computes them (rotate_half
// convention), with the default, linear, dynamic-NTK, Llama-3 and YaRN frequencies.
#pragma once

#include "core/model/config.h"

#include <ATen/ATen.h>

#include <cstdint>

namespace tunebench {

// Inverse frequencies [headDim / 2], float32, for the config's rope_theta and
// rope_scaling. seqLen matters only for dynamic NTK scaling: transformers
// recomputes the frequencies when the longest position seen exceeds
// max_position_embeddings (it keeps the grown frequencies in state; here they
// are a pure function of the current call's longest position, which agrees
// with transformers for a single forward and for a run that only grows).
at::Tensor ropeInverseFrequencies(const ModelConfig& config, std::int64_t seqLen = 0);

class RotaryEmbedding {
public:
    explicit RotaryEmbedding(const ModelConfig& config);

    // positionIds [B, T] (int64) -> cos, sin [B, T, headDim] in dtype, on
    // positionIds' device. Positions are multiplied with the frequencies in
    // float32, as transformers does, before cos/sin are cast (and, for YaRN,
    // scaled by ropeAttentionScaling()).
    std::pair<at::Tensor, at::Tensor> cosSin(const at::Tensor& positionIds, at::ScalarType dtype) const;

private:
    ModelConfig m_config;
    at::Tensor m_invFreq; // [headDim / 2], CPU float32; unused for dynamic scaling
    double m_attentionScaling = 1.0; // YaRN's factor on cos and sin
};

// x [B, H, T, D] rotated by cos/sin [B, T, D]: x * cos + rotate_half(x) * sin.
at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin);

} // namespace tunebench
