#include "core/train/batching.h"

#include "core/util/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace tunebench {

namespace {

// A permutation that depends only on (seed, salt): std::mt19937_64 is fully
// specified by the standard, and the shuffle is written out so that it does
// not depend on the library's std::shuffle.
std::vector<std::int64_t> seededPermutation(std::int64_t n, std::uint64_t seed, std::uint64_t salt)
{
    std::vector<std::int64_t> order(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i)
        order[static_cast<std::size_t>(i)] = i;
    std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ULL + salt);
    for (std::int64_t i = n - 1; i > 0; --i) {
        const auto j = static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(i + 1));
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    return order;
}

TokenBatch collateRows(const std::vector<std::vector<std::int32_t>>& ids,
    const std::vector<std::vector<std::int32_t>>& labels, std::int32_t padId)
{
    const auto batch = static_cast<std::int64_t>(ids.size());
    std::int64_t longest = 1;
    for (const auto& row : ids)
        longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(row.size()));
    at::Tensor inputIds = at::full({ batch, longest }, padId, at::kLong);
    at::Tensor mask = at::zeros({ batch, longest }, at::kLong);
    at::Tensor target = at::full({ batch, longest }, kIgnoreLabel, at::kLong);
    auto idsA = inputIds.accessor<std::int64_t, 2>();
    auto maskA = mask.accessor<std::int64_t, 2>();
    auto targetA = target.accessor<std::int64_t, 2>();
    for (std::int64_t b = 0; b < batch; ++b) {
        const auto& row = ids[static_cast<std::size_t>(b)];
        const auto& lab = labels[static_cast<std::size_t>(b)];
        for (std::size_t t = 0; t < row.size(); ++t) {
            idsA[b][static_cast<std::int64_t>(t)] = row[t];
            maskA[b][static_cast<std::int64_t>(t)] = 1;
            targetA[b][static_cast<std::int64_t>(t)] = lab[t];
        }
    }
    return { inputIds, mask, target };
}

} // namespace

TokenBatch collate(const std::vector<const EncodedExample*>& examples, std::int32_t padId)
{
    std::vector<std::vector<std::int32_t>> ids, labels;
    bool packed = false;
    for (const EncodedExample* e : examples) {
        ids.push_back(e->ids);
        labels.push_back(e->labels);
        packed = packed || !e->segments.empty();
    }
    TokenBatch out = collateRows(ids, labels, padId);
    if (packed) {
        // Padding gets segment 0 and position 0; the attention mask keeps it out anyway.
        out.segmentIds = at::zeros_like(out.inputIds);
        out.positionIds = at::zeros_like(out.inputIds);
        auto seg = out.segmentIds.accessor<std::int64_t, 2>();
        auto pos = out.positionIds.accessor<std::int64_t, 2>();
        for (std::size_t b = 0; b < examples.size(); ++b) {
            const EncodedExample& e = *examples[b];
            for (std::size_t t = 0; t < e.ids.size(); ++t) {
                seg[static_cast<std::int64_t>(b)][static_cast<std::int64_t>(t)]
                    = e.segments.empty() ? 1 : e.segments[t];
                pos[static_cast<std::int64_t>(b)][static_cast<std::int64_t>(t)]
                    = e.positions.empty() ? static_cast<std::int64_t>(t) : e.positions[t];
            }
        }
    }
    return out;
}

std::vector<EncodedExample> packExamples(const std::vector<const EncodedExample*>& examples, std::int64_t maxLength)
{
    std::vector<EncodedExample> rows;
    EncodedExample row;
    std::int32_t segment = 0;
    for (const EncodedExample* e : examples) {
        if (!row.ids.empty() && static_cast<std::int64_t>(row.ids.size() + e->ids.size()) > maxLength) {
            rows.push_back(std::move(row));
            row = {};
            segment = 0;
        }
        ++segment;
        for (std::size_t t = 0; t < e->ids.size(); ++t) {
            row.ids.push_back(e->ids[t]);
            row.labels.push_back(t == 0 ? kIgnoreLabel : e->labels[t]);
            row.segments.push_back(segment);
            row.positions.push_back(static_cast<std::int32_t>(t));
        }
        row.truncated = row.truncated || e->truncated;
    }
    if (!row.ids.empty())
        rows.push_back(std::move(row));
    return rows;
}

ObjectiveBatch collatePreferences(
    const std::vector<const EncodedPreference*>& examples, std::int32_t padId, bool paired)
{
    auto join = [](const EncodedPreference& p, const std::vector<std::int32_t>& response,
                    std::vector<std::int32_t>& ids, std::vector<std::int32_t>& labels) {
        ids = p.prompt;
        ids.insert(ids.end(), response.begin(), response.end());
        labels.assign(p.prompt.size(), kIgnoreLabel);
        labels.insert(labels.end(), response.begin(), response.end());
    };
    ObjectiveBatch out;
    std::vector<std::vector<std::int32_t>> ids(examples.size()), labels(examples.size());
    for (std::size_t i = 0; i < examples.size(); ++i)
        join(*examples[i], examples[i]->chosen, ids[i], labels[i]);
    if (paired) {
        out.chosen = collateRows(ids, labels, padId);
        for (std::size_t i = 0; i < examples.size(); ++i)
            join(*examples[i], examples[i]->rejected, ids[i], labels[i]);
        out.rejected = collateRows(ids, labels, padId);
    } else {
        out.sequences = collateRows(ids, labels, padId);
        out.desirable = at::empty({ static_cast<std::int64_t>(examples.size()) }, at::kBool);
        for (std::size_t i = 0; i < examples.size(); ++i)
            out.desirable[static_cast<std::int64_t>(i)] = examples[i]->desirable;
    }
    return out;
}

DataOrder::DataOrder(std::int64_t examples, std::int64_t batchSize, std::uint64_t seed)
    : m_examples(examples)
    , m_batchSize(batchSize)
    , m_seed(seed)
    , m_batchesPerEpoch((examples + batchSize - 1) / batchSize)
{
    if (examples <= 0)
        throw InputError("there are no training examples");
    if (batchSize <= 0)
        throw InputError("the batch size must be at least 1");
}

std::vector<std::int64_t> DataOrder::permutation(std::int64_t epoch) const
{
    if (epoch != m_cachedEpoch) {
        m_cached = seededPermutation(m_examples, m_seed, static_cast<std::uint64_t>(epoch) + 1);
        m_cachedEpoch = epoch;
    }
    return m_cached;
}

std::vector<std::int64_t> DataOrder::batch(std::int64_t m) const
{
    const std::int64_t epoch = m / m_batchesPerEpoch;
    const std::int64_t first = (m % m_batchesPerEpoch) * m_batchSize;
    const std::int64_t last = std::min(first + m_batchSize, m_examples);
    const auto perm = permutation(epoch);
    return std::vector<std::int64_t>(perm.begin() + first, perm.begin() + last);
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> splitTrainEval(
    std::int64_t n, double valSize, std::uint64_t seed)
{
    std::int64_t held = static_cast<std::int64_t>(std::llround(valSize * static_cast<double>(n)));
    if (valSize > 0 && n > 1)
        held = std::clamp<std::int64_t>(held, 1, n - 1);
    else
        held = 0;
    auto order = seededPermutation(n, seed, 0);
    std::vector<std::int64_t> eval(order.begin(), order.begin() + held);
    std::vector<std::int64_t> train(order.begin() + held, order.end());
    std::sort(eval.begin(), eval.end());
    std::sort(train.begin(), train.end());
    return { train, eval };
}

} // namespace tunebench
