#include "core/model/sampling.h"

#include "core/util/error.h"

#include <cmath>
#include <limits>

namespace tunebench {

namespace {

void checkOptions(const SamplingOptions& o)
{
    if (!(o.temperature > 0.0) || !std::isfinite(o.temperature))
        throw InputError("temperature must be a positive number, got " + std::to_string(o.temperature));
    if (o.topK < 0)
        throw InputError("top-k must be 0 (off) or positive, got " + std::to_string(o.topK));
    if (!(o.topP > 0.0 && o.topP <= 1.0))
        throw InputError("top-p must be in (0, 1], got " + std::to_string(o.topP));
}

} // namespace

at::Tensor filterLogits(const at::Tensor& logits, const SamplingOptions& options)
{
    checkOptions(options);
    const double negInf = -std::numeric_limits<double>::infinity();
    at::Tensor scores = logits.to(at::kFloat) / options.temperature; // [B, V]
    const std::int64_t vocab = scores.size(-1);
    if (options.topK > 0 && options.topK < vocab) {
        // Keep every token whose score reaches the k-th largest (ties kept, as transformers does).
        const at::Tensor kth = std::get<0>(scores.topk(options.topK, -1)).narrow(-1, options.topK - 1, 1); // [B, 1]
        scores = scores.masked_fill(scores < kth, negInf);
    }
    if (options.topP < 1.0) {
        // Ascending sort: drop the low tail whose cumulative probability stays
        // within 1 - top_p; the most likely token always stays.
        const auto [sorted, order] = scores.sort(-1, /*descending=*/false);
        const at::Tensor cumulative = sorted.softmax(-1).cumsum(-1);
        at::Tensor drop = cumulative <= (1.0 - options.topP);
        drop.narrow(-1, vocab - 1, 1).fill_(false);
        const at::Tensor dropInVocabOrder = at::zeros_like(drop).scatter(-1, order, drop);
        scores = scores.masked_fill(dropInVocabOrder, negInf);
    }
    return scores;
}

at::Tensor sampleTokens(const at::Tensor& logits, const SamplingOptions& options, at::Generator& generator)
{
    const at::Tensor probs = filterLogits(logits, options).softmax(-1).to(at::kDouble); // [B, V]
    const std::int64_t batch = probs.size(0);
    // Inverse-CDF sampling with uniforms from the CPU generator.
    const at::Tensor u = at::rand({ batch, 1 }, generator, at::TensorOptions().dtype(at::kDouble)).to(probs.device());
    const at::Tensor cdf = probs.cumsum(-1);
    const at::Tensor threshold = u * cdf.narrow(-1, probs.size(-1) - 1, 1);
    at::Tensor chosen = (cdf <= threshold).sum(-1).clamp_max(probs.size(-1) - 1); // [B]
    // Rounding can land past the last token with mass; fall back to the mode then.
    const at::Tensor chosenProb = probs.gather(-1, chosen.unsqueeze(-1)).squeeze(-1);
    return at::where(chosenProb > 0, chosen, probs.argmax(-1));
}

at::Tensor greedyTokens(const at::Tensor& logits)
{
    return logits.argmax(-1);
}

} // namespace tunebench
