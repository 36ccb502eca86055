#include "core/metrics/diversity.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace tunebench {

namespace {

using NGram = std::vector<std::string_view>;

std::map<NGram, int> countNGrams(const Words& words, int n)
{
    std::map<NGram, int> counts;
    const auto size = static_cast<int>(words.size());
    for (int i = 0; i + n <= size; ++i)
        ++counts[NGram(words.begin() + i, words.begin() + i + n)];
    return counts;
}

std::int64_t totalNGrams(const std::vector<Words>& texts, int n)
{
    std::int64_t total = 0;
    for (const Words& w : texts)
        total += std::max<std::int64_t>(0, static_cast<std::int64_t>(w.size()) - n + 1);
    return total;
}

std::int64_t uniqueNGrams(const std::vector<Words>& texts, int n)
{
    std::set<NGram> seen;
    for (const Words& w : texts) {
        const auto size = static_cast<int>(w.size());
        for (int i = 0; i + n <= size; ++i)
            seen.emplace(w.begin() + i, w.begin() + i + n);
    }
    return static_cast<std::int64_t>(seen.size());
}

} // namespace

Words splitWords(std::string_view text)
{
    Words words;
    std::size_t i = 0;
    auto isSpace = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (i < text.size()) {
        while (i < text.size() && isSpace(text[i]))
            ++i;
        std::size_t start = i;
        while (i < text.size() && !isSpace(text[i]))
            ++i;
        if (i > start)
            words.emplace_back(text.substr(start, i - start));
    }
    return words;
}

double distinctN(const std::vector<Words>& texts, int n)
{
    const std::int64_t total = totalNGrams(texts, n);
    return total == 0 ? 0.0 : static_cast<double>(uniqueNGrams(texts, n)) / static_cast<double>(total);
}

double expectationAdjustedDistinct(const std::vector<Words>& texts, int n, double vocabularySize)
{
    const std::int64_t total = totalNGrams(texts, n);
    if (total == 0 || vocabularySize < 1)
        return 0.0;
    const double v = vocabularySize;
    const double expected = v * (1.0 - std::pow((v - 1.0) / v, static_cast<double>(total)));
    return static_cast<double>(uniqueNGrams(texts, n)) / expected;
}

double sentenceBleu(const Words& candidate, const std::vector<const Words*>& references, int maxOrder)
{
    if (candidate.empty() || references.empty())
        return 0.0;
    double logSum = 0.0;
    for (int n = 1; n <= maxOrder; ++n) {
        const auto candidateCounts = countNGrams(candidate, n);
        std::map<NGram, int> maxRef;
        for (const Words* ref : references) {
            for (const auto& [gram, count] : countNGrams(*ref, n)) {
                int& m = maxRef[gram];
                m = std::max(m, count);
            }
        }
        int matched = 0;
        int total = 0;
        for (const auto& [gram, count] : candidateCounts) {
            total += count;
            auto it = maxRef.find(gram);
            if (it != maxRef.end())
                matched += std::min(count, it->second);
        }
        if (n == 1 && matched == 0)
            return 0.0;
        const double denominator = std::max(1, total);
        const double precision = matched > 0 ? matched / denominator : 0.1 / denominator;
        logSum += std::log(precision) / maxOrder;
    }
    const auto c = static_cast<double>(candidate.size());
    double closest = 0;
    double bestGap = INFINITY;
    for (const Words* ref : references) {
        const auto r = static_cast<double>(ref->size());
        const double gap = std::abs(r - c);
        if (gap < bestGap || (gap == bestGap && r < closest)) {
            bestGap = gap;
            closest = r;
        }
    }
    const double brevity = c > closest ? 1.0 : std::exp(1.0 - closest / c);
    return brevity * std::exp(logSum);
}

double selfBleu(const std::vector<Words>& texts)
{
    if (texts.size() < 2)
        return 0.0;
    double sum = 0.0;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        std::vector<const Words*> refs;
        for (std::size_t j = 0; j < texts.size(); ++j) {
            if (j != i)
                refs.push_back(&texts[j]);
        }
        sum += sentenceBleu(texts[i], refs);
    }
    return sum / static_cast<double>(texts.size());
}

DiversityResult measureDiversity(const std::vector<DiversitySample>& samples, const DiversityOptions& options)
{
    DiversityResult r;
    r.eadVocabularySize = options.eadVocabularySize;
    std::vector<Words> all;
    std::map<std::string, std::vector<Words>> byPrompt;
    for (const DiversitySample& s : samples) {
        all.push_back(splitWords(s.text));
        byPrompt[s.prompt].push_back(all.back());
    }
    r.texts = static_cast<std::int64_t>(all.size());
    r.prompts = static_cast<std::int64_t>(byPrompt.size());
    for (int n = 1; n <= options.maxN; ++n) {
        r.distinct.push_back(distinctN(all, n));
        r.ead.push_back(expectationAdjustedDistinct(all, n, options.eadVocabularySize));
        double d = 0, e = 0;
        for (const auto& [prompt, texts] : byPrompt) {
            d += distinctN(texts, n);
            e += expectationAdjustedDistinct(texts, n, options.eadVocabularySize);
        }
        const double count = std::max<std::size_t>(1, byPrompt.size());
        r.perInputDistinct.push_back(d / count);
        r.perInputEad.push_back(e / count);
    }
    r.selfBleu = selfBleu(all);
    double bleuSum = 0;
    int bleuPrompts = 0;
    for (const auto& [prompt, texts] : byPrompt) {
        if (texts.size() >= 2) {
            bleuSum += selfBleu(texts);
            ++bleuPrompts;
        }
    }
    r.perInputSelfBleu = bleuPrompts > 0 ? bleuSum / bleuPrompts : 0.0;
    return r;
}

double groupSelfBleu(const std::vector<Words>& texts, std::size_t groupSize)
{
    double sum = 0;
    int groups = 0;
    for (std::size_t first = 0; groupSize > 0 && first < texts.size(); first += groupSize) {
        const std::size_t end = std::min(texts.size(), first + groupSize);
        if (end - first < 2)
            continue;
        sum += selfBleu(std::vector<Words>(
            texts.begin() + static_cast<std::ptrdiff_t>(first), texts.begin() + static_cast<std::ptrdiff_t>(end)));
        ++groups;
    }
    return groups > 0 ? sum / groups : 0.0;
}

} // namespace tunebench
