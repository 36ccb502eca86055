// Choosing the next token from logits: greedy, or sampled with temperature,
// top-k and top-p (nucleus), as transformers' logits warpers do.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace tunebench {

struct SamplingOptions {
    double temperature = 1.0; // > 0
    std::int64_t topK = 0; // 0: no top-k filter
    double topP = 1.0; // in (0, 1]; 1: no nucleus filter
};

// logits [B, V] -> logits with everything outside top-k and then outside the
// smallest set of tokens whose probability reaches top-p set to -inf, after
// dividing by the temperature (transformers' order: temperature, top-k, top-p).
// At least one token per row always survives.
at::Tensor filterLogits(const at::Tensor& logits, const SamplingOptions& options);

// One token per row [B] (int64) drawn from softmax(filterLogits(logits)).
// The uniform draws come from `generator` (a CPU generator), so a seed gives
// the same tokens on any device for the same logits. Throws InputError for an
// invalid temperature, top-k or top-p.
at::Tensor sampleTokens(const at::Tensor& logits, const SamplingOptions& options, at::Generator& generator);

// The most likely token per row [B] (int64); ties go to the lowest id.
at::Tensor greedyTokens(const at::Tensor& logits);

} // namespace tunebench
