// Cross-entropy through the output layer without the [tokens, vocabulary] logits: at
// vocabularies of 128k-150k those logits (and their gradient) take more memory than the
// rest of a step together.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>

namespace tunebench {

// Token counts above which SFT takes the chunked path: chunks of this many tokens hold
// at most 2^25 float32 logits (128 MiB), and never fewer than 64 tokens.
std::int64_t crossEntropyChunkTokens(std::int64_t vocabSize);

// sum over i with targets[i] != -100 of cross_entropy(hidden[i] W^T, targets[i]), with label
// smoothing eps as PyTorch defines it ((1 - eps) nll + eps mean_c(-log p_c)); a float32
// scalar. hidden [N, H] (any float dtype, computed in float32), weight [V, H]. The logits are
// made chunkTokens rows at a time; their gradients with respect to hidden and weight are
// computed in the same pass and kept (as large as hidden and weight themselves, the weight's
// only when it requires grad), so backward only scales them. Throws InputError for shapes
// that do not fit or a target outside [0, V).
at::Tensor linearCrossEntropySum(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
    double labelSmoothing, std::int64_t chunkTokens);

} // namespace tunebench
