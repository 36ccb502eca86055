// Statistics of a dataset under a chosen tokenizer.
#pragma once

#include "core/data/dataset_format.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

namespace tunebench {

class Tokenizer;

// Equal-width bins over [0, max]: counts[i] holds lengths in
// [edges[i], edges[i + 1]) (the last bin includes its upper edge).
struct Histogram {
    std::vector<double> edges;
    std::vector<std::int64_t> counts;
};
Histogram histogramOf(const std::vector<std::int64_t>& values, int bins);

struct LengthSummary {
    std::int64_t min = 0;
    std::int64_t max = 0;
    double mean = 0;
    std::int64_t median = 0;
    std::int64_t p95 = 0;
    std::int64_t total = 0;
};
LengthSummary summarize(std::vector<std::int64_t> values);

// Token lengths use Tokenizer::encode without special tokens on the texts of
// recordTexts (dataset_select.h): prompt and response apart; a record's length
// is prompt + response (for preference data the longer of chosen and
// rejected), and it counts as truncated when that exceeds cutoffLen.
// Duplicates: records equal to an earlier one (same canonical JSON).
struct DatasetStats {
    std::int64_t records = 0;
    std::vector<std::int64_t> promptTokens; // per record
    std::vector<std::int64_t> responseTokens; // per record
    std::int64_t cutoffLen = 0;
    std::int64_t truncated = 0; // records longer than cutoffLen
    std::int64_t duplicates = 0;
    std::int64_t emptyPrompts = 0;

    double truncatedShare() const
    {
        return records ? static_cast<double>(truncated) / static_cast<double>(records) : 0;
    }
    // {"records", "cutoff_len", "truncated", "truncated_share", "duplicates",
    //  "prompt_tokens": {summary..., "histogram": {edges, counts}}, "response_tokens": {...}}
    nlohmann::json toJson(int bins = 20) const;
};

DatasetStats computeDatasetStats(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer& tokenizer, std::int64_t cutoffLen);

} // namespace tunebench
