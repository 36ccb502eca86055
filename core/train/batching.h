#pragma once

#include "core/data/example_encoder.h"
#include "core/method/objective.h"

#include <cstdint>
#include <vector>

namespace tunebench {

// Right-pads sequences into a batch: ids with padId, labels with kIgnoreLabel,
// attention mask 1 on real tokens. [B, T] int64 each, T the longest sequence.
TokenBatch collate(const std::vector<const EncodedExample*>& examples, std::int32_t padId);

// Packs examples, in the given order, into rows of at most maxLength tokens:
// an example joins the current row when it fits, else starts a new one. In a
// row each example keeps its own positions (from 0) and segment (from 1), so
// with ForwardInput::segmentIds the model computes for it what it computes
// for the example alone; its first label is dropped (in a row of its own no
// position predicts it). Examples longer than maxLength were cut already.
std::vector<EncodedExample> packExamples(const std::vector<const EncodedExample*>& examples, std::int64_t maxLength);

// Turns preference examples into chosen and rejected sequences (prompt and
// response, the prompt masked in labels), or, for unpaired data, sequences with
// `desirable` filled.
ObjectiveBatch collatePreferences(
    const std::vector<const EncodedPreference*>& examples, std::int32_t padId, bool paired);

// The order examples are visited in: each epoch a fresh permutation seeded by
// (seed, epoch), cut into micro-batches of batchSize (the last may be
// shorter). Micro-batch m of the run is a pure function of m, so a resumed run
// continues exactly where it stopped.
class DataOrder {
public:
    DataOrder(std::int64_t examples, std::int64_t batchSize, std::uint64_t seed);

    std::int64_t batchesPerEpoch() const { return m_batchesPerEpoch; }
    // Indices of the examples in global micro-batch m (m >= 0).
    std::vector<std::int64_t> batch(std::int64_t m) const;
    std::int64_t epochOf(std::int64_t m) const { return m / m_batchesPerEpoch; }

private:
    std::vector<std::int64_t> permutation(std::int64_t epoch) const;

    std::int64_t m_examples;
    std::int64_t m_batchSize;
    std::uint64_t m_seed;
    std::int64_t m_batchesPerEpoch;
    mutable std::int64_t m_cachedEpoch = -1;
    mutable std::vector<std::int64_t> m_cached;
};

// Splits n examples into train and held-out sets by a seeded shuffle; the
// held-out share is valSize (rounded, at least one example when valSize > 0
// and n > 1). Returns {train indices, eval indices}, each sorted.
std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> splitTrainEval(
    std::int64_t n, double valSize, std::uint64_t seed);

} // namespace tunebench
