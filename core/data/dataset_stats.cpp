#include "core/data/dataset_stats.h"

#include "core/data/dataset_select.h"
#include "core/tokenizer/tokenizer.h"

#include <algorithm>
#include <numeric>
#include <unordered_set>

namespace tunebench {

Histogram histogramOf(const std::vector<std::int64_t>& values, int bins)
{
    Histogram h;
    bins = std::max(1, bins);
    const std::int64_t maxValue = values.empty() ? 0 : *std::max_element(values.begin(), values.end());
    const double width = std::max(1.0, static_cast<double>(maxValue) / bins);
    for (int i = 0; i <= bins; ++i)
        h.edges.push_back(width * i);
    h.counts.assign(static_cast<std::size_t>(bins), 0);
    for (std::int64_t v : values) {
        const auto bin = std::min<std::int64_t>(bins - 1, static_cast<std::int64_t>(static_cast<double>(v) / width));
        ++h.counts[static_cast<std::size_t>(std::max<std::int64_t>(0, bin))];
    }
    return h;
}

LengthSummary summarize(std::vector<std::int64_t> values)
{
    LengthSummary s;
    if (values.empty())
        return s;
    std::sort(values.begin(), values.end());
    s.min = values.front();
    s.max = values.back();
    s.total = std::accumulate(values.begin(), values.end(), std::int64_t { 0 });
    s.mean = static_cast<double>(s.total) / static_cast<double>(values.size());
    s.median = values[(values.size() - 1) / 2];
    s.p95 = values[static_cast<std::size_t>(0.95 * static_cast<double>(values.size() - 1))];
    return s;
}

namespace {

nlohmann::json lengthJson(const std::vector<std::int64_t>& values, int bins)
{
    const LengthSummary s = summarize(values);
    const Histogram h = histogramOf(values, bins);
    return { { "min", s.min }, { "max", s.max }, { "mean", s.mean }, { "median", s.median }, { "p95", s.p95 },
        { "total", s.total }, { "histogram", { { "edges", h.edges }, { "counts", h.counts } } } };
}

} // namespace

nlohmann::json DatasetStats::toJson(int bins) const
{
    return { { "records", records }, { "cutoff_len", cutoffLen }, { "truncated", truncated },
        { "truncated_share", truncatedShare() }, { "duplicates", duplicates }, { "empty_prompts", emptyPrompts },
        { "prompt_tokens", lengthJson(promptTokens, bins) }, { "response_tokens", lengthJson(responseTokens, bins) } };
}

DatasetStats computeDatasetStats(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer& tokenizer, std::int64_t cutoffLen)
{
    DatasetStats s;
    s.records = static_cast<std::int64_t>(records.size());
    s.cutoffLen = cutoffLen;
    std::unordered_set<std::string> seen;
    for (const nlohmann::json& r : records) {
        const RecordTexts t = recordTexts(r, format);
        const auto prompt = static_cast<std::int64_t>(tokenizer.encode(t.prompt).size());
        const auto response = static_cast<std::int64_t>(tokenizer.encode(t.response).size());
        const auto alternative
            = t.alternative.empty() ? 0 : static_cast<std::int64_t>(tokenizer.encode(t.alternative).size());
        s.promptTokens.push_back(prompt);
        s.responseTokens.push_back(response);
        if (prompt + std::max(response, alternative) > cutoffLen)
            ++s.truncated;
        if (t.prompt.empty() && format != DatasetFormat::Text)
            ++s.emptyPrompts;
        if (!seen.insert(r.dump()).second)
            ++s.duplicates;
    }
    return s;
}

} // namespace tunebench
