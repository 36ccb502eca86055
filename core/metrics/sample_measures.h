#pragma once

#include <cstdint>
#include <vector>

namespace tunebench {

class CausalLM;

// Model-based diversity measures of generated samples (METHODS.md, "Measures").

// Mean-pooled last hidden state (after the final norm) of each token sequence,
// [N, H] in float64 on the CPU; an empty sequence gives a zero row.
// Runs without gradients.
struct PooledEmbeddings {
    std::vector<std::vector<double>> rows;
};
PooledEmbeddings meanPooledEmbeddings(const CausalLM& model, const std::vector<std::vector<std::int32_t>>& sequences);

// Mean pairwise cosine distance (1 - cosine similarity) over the pairs of
// rows given by `indices` (all rows when empty); zero rows are left out.
// 0 for fewer than two rows.
double meanPairwiseCosineDistance(const PooledEmbeddings& e, const std::vector<std::size_t>& indices = {});

// Entropy (nats) of the model's next-token distribution at each position that
// produced a token of the continuation: the last prompt position and every
// continuation position but the last. Returns the sum and the count, so
// callers can average over several samples.
struct EntropySum {
    double sum = 0;
    std::int64_t count = 0;
    double mean() const { return count > 0 ? sum / static_cast<double>(count) : 0.0; }
};
EntropySum continuationEntropy(
    const CausalLM& model, const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& continuation);

} // namespace tunebench
