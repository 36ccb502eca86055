#include "core/data/dataset_select.h"

#include "core/data/dataset_import.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace tunebench {

namespace {

std::string contentText(const nlohmann::json& v)
{
    if (v.is_string())
        return v.get<std::string>();
    if (v.is_null())
        return {};
    if (v.is_array()) { // a list of messages
        std::string out;
        for (const auto& m : v) {
            const std::string piece
                = m.is_object() && m.contains("content") ? contentText(m["content"]) : contentText(m);
            if (piece.empty())
                continue;
            if (!out.empty())
                out += '\n';
            out += piece;
        }
        return out;
    }
    return v.dump();
}

void appendLine(std::string& to, const std::string& piece)
{
    if (piece.empty())
        return;
    if (!to.empty())
        to += '\n';
    to += piece;
}

std::string field(const nlohmann::json& record, const char* name)
{
    auto it = record.find(name);
    return it == record.end() ? std::string() : contentText(*it);
}

std::int64_t lengthOf(const std::string& text, const Tokenizer* tokenizer)
{
    if (tokenizer)
        return static_cast<std::int64_t>(tokenizer->encode(text).size());
    std::istringstream in(text);
    std::int64_t words = 0;
    std::string w;
    while (in >> w)
        ++words;
    return words;
}

// SplitMix64: the seeded mixing that makes one 64-bit hash into many.
std::uint64_t mix64(std::uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

// FNV-1a, 64 bit: stable across platforms and runs (std::hash is not).
std::uint64_t fnv1a(std::string_view s)
{
    std::uint64_t h = 0xCBF29CE484222325ull;
    for (unsigned char c : s) {
        h ^= c;
        h *= 0x100000001B3ull;
    }
    return h;
}

std::vector<std::uint64_t> shingleHashes(const std::string& text, int shingleWords)
{
    std::vector<std::string> words;
    std::istringstream in(text);
    std::string w;
    while (in >> w) {
        std::transform(
            w.begin(), w.end(), w.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        words.push_back(std::move(w));
    }
    std::vector<std::uint64_t> hashes;
    const std::size_t k = static_cast<std::size_t>(std::max(1, shingleWords));
    if (words.empty())
        return hashes;
    if (words.size() <= k) { // a short text is one shingle
        std::string joined;
        for (const auto& x : words)
            joined += x + ' ';
        hashes.push_back(fnv1a(joined));
        return hashes;
    }
    for (std::size_t i = 0; i + k <= words.size(); ++i) {
        std::string joined;
        for (std::size_t j = i; j < i + k; ++j)
            joined += words[j] + ' ';
        hashes.push_back(fnv1a(joined));
    }
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    return hashes;
}

} // namespace

std::string RecordTexts::all() const
{
    std::string out;
    appendLine(out, prompt);
    appendLine(out, response);
    appendLine(out, alternative);
    return out;
}

RecordTexts recordTexts(const nlohmann::json& record, DatasetFormat format)
{
    RecordTexts t;
    switch (format) {
    case DatasetFormat::Text:
        t.response = field(record, "text");
        break;
    case DatasetFormat::Instruction:
        t.prompt = field(record, "instruction");
        appendLine(t.prompt, field(record, "input"));
        t.response = field(record, "output");
        break;
    case DatasetFormat::Chat:
        if (auto it = record.find("messages"); it != record.end() && it->is_array()) {
            for (const auto& m : *it) {
                const bool assistant = m.is_object() && m.value("role", "") == "assistant";
                appendLine(assistant ? t.response : t.prompt, m.is_object() ? field(m, "content") : contentText(m));
            }
        }
        break;
    case DatasetFormat::Preference:
        t.prompt = field(record, "prompt");
        t.response = field(record, "chosen");
        t.alternative = field(record, "rejected");
        break;
    case DatasetFormat::UnpairedPreference:
        t.prompt = field(record, "prompt");
        t.response = field(record, "completion");
        break;
    case DatasetFormat::Prompt:
        t.prompt = field(record, "prompt");
        t.response = field(record, "answer");
        break;
    }
    return t;
}

LoadedDataset loadDataset(Workspace& workspace, std::int64_t id)
{
    const std::optional<DatasetRecord> row = DatasetStore(workspace.db()).find(id);
    if (!row)
        throw InputError("no dataset with id " + std::to_string(id) + " in workspace " + workspace.root().string());
    LoadedDataset d;
    d.id = id;
    d.name = row->name;
    d.format = datasetFormatFromString(row->format);
    d.records = loadDatasetRecords(workspace, id);
    return d;
}

std::pair<DatasetRecord, DatasetRecord> splitDataset(
    Workspace& workspace, std::int64_t id, double ratio, std::uint64_t seed)
{
    if (!(ratio > 0.0 && ratio < 1.0))
        throw InputError("split: ratio must lie strictly between 0 and 1, got " + std::to_string(ratio));
    const LoadedDataset d = loadDataset(workspace, id);
    const std::size_t n = d.records.size();
    if (n < 2)
        throw InputError("split: dataset " + std::to_string(id) + " has " + std::to_string(n)
            + " record(s); a split needs at least 2");
    std::size_t evalCount = static_cast<std::size_t>(std::llround(ratio * static_cast<double>(n)));
    evalCount = std::clamp<std::size_t>(evalCount, 1, n - 1);
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    std::vector<char> isEval(n, 0);
    for (std::size_t i = 0; i < evalCount; ++i)
        isEval[order[i]] = 1;
    std::vector<nlohmann::json> train, eval;
    for (std::size_t i = 0; i < n; ++i)
        (isEval[i] ? eval : train).push_back(d.records[i]);
    const nlohmann::json base = { { "ratio", ratio }, { "seed", seed } };
    nlohmann::json trainParams = base, evalParams = base;
    trainParams["part"] = "train";
    evalParams["part"] = "eval";
    DatasetRecord t = writeDerivedDataset(workspace, id, train, "split", trainParams, d.name + "-train");
    DatasetRecord e = writeDerivedDataset(workspace, id, eval, "split", evalParams, d.name + "-eval");
    return { std::move(t), std::move(e) };
}

std::size_t selectionSize(std::size_t n, std::optional<std::int64_t> count, std::optional<double> fraction)
{
    if (count.has_value() == fraction.has_value())
        throw InputError("give either a count or a fraction of the records to keep");
    if (count) {
        if (*count < 1)
            throw InputError("count must be at least 1, got " + std::to_string(*count));
        return std::min<std::size_t>(n, static_cast<std::size_t>(*count));
    }
    if (!(*fraction > 0.0 && *fraction <= 1.0))
        throw InputError("fraction must lie in (0, 1], got " + std::to_string(*fraction));
    return std::clamp<std::size_t>(
        static_cast<std::size_t>(std::llround(*fraction * static_cast<double>(n))), 1, std::max<std::size_t>(n, 1));
}

std::vector<std::size_t> selectRandom(std::size_t n, std::size_t keep, std::uint64_t seed)
{
    std::vector<std::size_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(std::min(keep, n));
    std::sort(order.begin(), order.end());
    return order;
}

std::vector<std::size_t> selectByLength(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer* tokenizer, std::int64_t minLength, std::int64_t maxLength)
{
    if (minLength > maxLength)
        throw InputError(
            "length filter: min (" + std::to_string(minLength) + ") is above max (" + std::to_string(maxLength) + ")");
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < records.size(); ++i) {
        const RecordTexts t = recordTexts(records[i], format);
        const std::int64_t length = lengthOf(t.prompt, tokenizer) + lengthOf(t.response, tokenizer);
        if (length >= minLength && length <= maxLength)
            keep.push_back(i);
    }
    return keep;
}

std::vector<std::size_t> dedupExact(const std::vector<nlohmann::json>& records)
{
    std::unordered_set<std::string> seen;
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < records.size(); ++i) {
        if (seen.insert(records[i].dump()).second)
            keep.push_back(i);
    }
    return keep;
}

std::vector<std::vector<std::uint64_t>> minHashSignatures(
    const std::vector<std::string>& texts, const MinHashOptions& options)
{
    if (options.permutations < 1)
        throw InputError("minhash: permutations must be at least 1");
    std::vector<std::uint64_t> seeds(static_cast<std::size_t>(options.permutations));
    for (std::size_t p = 0; p < seeds.size(); ++p)
        seeds[p] = mix64(options.seed * 0x100000001B3ull + p);
    std::vector<std::vector<std::uint64_t>> signatures;
    signatures.reserve(texts.size());
    for (const std::string& text : texts) {
        const std::vector<std::uint64_t> shingles = shingleHashes(text, options.shingleWords);
        std::vector<std::uint64_t> sig(seeds.size(), ~0ull);
        for (std::uint64_t s : shingles) {
            for (std::size_t p = 0; p < seeds.size(); ++p)
                sig[p] = std::min(sig[p], mix64(s ^ seeds[p]));
        }
        signatures.push_back(std::move(sig));
    }
    return signatures;
}

double estimatedJaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b)
{
    if (a.empty() || a.size() != b.size())
        return 0.0;
    std::size_t equal = 0;
    for (std::size_t i = 0; i < a.size(); ++i)
        equal += a[i] == b[i];
    return static_cast<double>(equal) / static_cast<double>(a.size());
}

std::vector<std::size_t> dedupMinHash(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const MinHashOptions& options)
{
    if (options.bands < 1 || options.permutations % options.bands != 0)
        throw InputError("minhash: bands (" + std::to_string(options.bands) + ") must divide permutations ("
            + std::to_string(options.permutations) + ")");
    if (!(options.threshold > 0.0 && options.threshold <= 1.0))
        throw InputError("minhash: threshold must lie in (0, 1], got " + std::to_string(options.threshold));
    std::vector<std::string> texts;
    texts.reserve(records.size());
    for (const auto& r : records)
        texts.push_back(recordTexts(r, format).all());
    const auto signatures = minHashSignatures(texts, options);
    const std::size_t rows = static_cast<std::size_t>(options.permutations / options.bands);
    // One bucket table per band: band hash -> kept records with that band.
    std::vector<std::unordered_map<std::uint64_t, std::vector<std::size_t>>> buckets(
        static_cast<std::size_t>(options.bands));
    std::vector<std::size_t> keep;
    for (std::size_t i = 0; i < records.size(); ++i) {
        std::vector<std::uint64_t> bandKeys(buckets.size());
        bool duplicate = false;
        for (std::size_t b = 0; b < buckets.size() && !duplicate; ++b) {
            std::uint64_t key = mix64(b);
            for (std::size_t r = 0; r < rows; ++r)
                key = mix64(key ^ signatures[i][b * rows + r]);
            bandKeys[b] = key;
            auto it = buckets[b].find(key);
            if (it == buckets[b].end())
                continue;
            for (std::size_t j : it->second) {
                if (estimatedJaccard(signatures[i], signatures[j]) >= options.threshold) {
                    duplicate = true;
                    break;
                }
            }
        }
        if (duplicate)
            continue;
        keep.push_back(i);
        for (std::size_t b = 0; b < buckets.size(); ++b)
            buckets[b][bandKeys[b]].push_back(i);
    }
    return keep;
}

} // namespace tunebench
