#include "core/model/generate.h"

#include "core/model/kv_cache.h"
#include "core/util/error.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>

namespace tunebench {

namespace {

bool containsAny(const std::string& text, const std::vector<std::string>& needles)
{
    return std::any_of(needles.begin(), needles.end(),
        [&](const std::string& s) { return !s.empty() && text.find(s) != std::string::npos; });
}

} // namespace

// Long for a reason: the decoding loop (KV cache, per-sequence sampling state, stop strings and tokens, finished
// rows dropping out of the batch) shares its state step by step.
std::vector<GeneratedSequence> generate(
    const CausalLM& model, const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options)
{
    const ModelConfig& config = model.config();
    if (prompts.empty())
        throw InputError("generate: no prompts");
    if (options.maxNewTokens < 0)
        throw InputError("generate: max new tokens must not be negative");
    if (!options.stopStrings.empty() && !options.decoder)
        throw InputError("generate: stop strings need a decoder (the tokenizer)");
    std::size_t longest = 0;
    for (std::size_t i = 0; i < prompts.size(); ++i) {
        if (prompts[i].empty())
            throw InputError("generate: prompt " + std::to_string(i) + " is empty (add a BOS token or some text)");
        longest = std::max(longest, prompts[i].size());
    }
    std::int64_t steps = options.maxNewTokens;
    if (config.architecture == Architecture::Gpt2) {
        // Learned positions end at n_positions; positions count real tokens only, after any virtual ones.
        const std::int64_t virtualTokens = model.virtualTokenCount();
        const auto room = config.maxPositionEmbeddings - virtualTokens - static_cast<std::int64_t>(longest);
        if (room <= 0)
            throw InputError("generate: a prompt of " + std::to_string(longest) + " tokens"
                + (virtualTokens > 0 ? " after " + std::to_string(virtualTokens) + " virtual tokens" : std::string())
                + " fills GPT-2's " + std::to_string(config.maxPositionEmbeddings) + " positions");
        steps = std::min(steps, room);
    }
    if (options.sample) // validates the sampling options before any work
        filterLogits(at::zeros({ 1, 1 }), options.sampling);

    const std::int64_t pad = options.padTokenId.value_or(options.eosTokenIds.empty() ? 0 : options.eosTokenIds[0]);
    if (pad < 0 || pad >= config.vocabSize)
        throw InputError("generate: the padding id " + std::to_string(pad) + " is outside the vocabulary");
    const auto batch = static_cast<std::int64_t>(prompts.size());
    const auto width = static_cast<std::int64_t>(longest);

    c10::InferenceMode inference;
    std::vector<std::int64_t> idData(static_cast<std::size_t>(batch * width), pad);
    std::vector<std::int64_t> maskData(static_cast<std::size_t>(batch * width), 0);
    for (std::size_t b = 0; b < prompts.size(); ++b) {
        const auto& prompt = prompts[b];
        const std::size_t row = b * longest + (longest - prompt.size()); // left padding
        for (std::size_t t = 0; t < prompt.size(); ++t) {
            idData[row + t] = prompt[t];
            maskData[row + t] = 1;
        }
    }
    at::Tensor ids = at::from_blob(idData.data(), { batch, width }, at::kLong).clone();
    at::Tensor mask = at::from_blob(maskData.data(), { batch, width }, at::kLong).clone();
    const at::Device device = model.device();
    ids = ids.to(device);
    mask = mask.to(device);

    std::vector<GeneratedSequence> results(static_cast<std::size_t>(batch));
    if (steps == 0)
        return results;
    std::vector<bool> finished(static_cast<std::size_t>(batch), false);
    at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
    KvCache cache(config.numLayers);

    ForwardInput input;
    input.inputIds = ids;
    input.attentionMask = mask;
    input.cache = &cache;
    input.lastPositionOnly = true;
    ForwardOutput out = model.forward(input);

    for (std::int64_t step = 0; step < steps; ++step) {
        const at::Tensor logits = out.logits.select(1, out.logits.size(1) - 1); // [B, V]
        const at::Tensor next
            = options.sample ? sampleTokens(logits, options.sampling, generator) : greedyTokens(logits);
        const at::Tensor nextCpu = next.to(at::kCPU).to(at::kLong).contiguous();
        const auto* nextIds = nextCpu.data_ptr<std::int64_t>();
        std::vector<std::int64_t> feed(static_cast<std::size_t>(batch), pad);
        bool allDone = true;
        for (std::int64_t b = 0; b < batch; ++b) {
            const auto i = static_cast<std::size_t>(b);
            if (finished[i])
                continue;
            const std::int64_t token = nextIds[b];
            feed[i] = token;
            results[i].tokens.push_back(static_cast<std::int32_t>(token));
            if (std::find(options.eosTokenIds.begin(), options.eosTokenIds.end(), token) != options.eosTokenIds.end()) {
                finished[i] = true;
                results[i].reason = FinishReason::Eos;
            } else if (!options.stopStrings.empty()
                && containsAny(options.decoder(results[i].tokens), options.stopStrings)) {
                finished[i] = true;
                results[i].reason = FinishReason::StopString;
            }
            allDone = allDone && finished[i];
        }
        if (allDone || step + 1 == steps)
            break;
        mask = at::cat({ mask, at::ones({ batch, 1 }, mask.options()) }, 1);
        input.inputIds = at::from_blob(feed.data(), { batch, 1 }, at::kLong).clone().to(device);
        input.attentionMask = mask;
        out = model.forward(input);
    }
    return results;
}

} // namespace tunebench
