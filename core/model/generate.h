// Autoregressive generation with a KV cache: greedy or sampled, batched
// prompts with left padding, EOS ids and stop strings.
#pragma once

#include "core/model/causal_lm.h"
#include "core/model/sampling.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace tunebench {

// Turns generated ids into text (the tokenizer's decode); used for stop strings.
using TokenDecoder = std::function<std::string(std::span<const std::int32_t>)>;

struct GenerationOptions {
    std::int64_t maxNewTokens = 32;
    bool sample = false; // false: greedy
    SamplingOptions sampling;
    std::uint64_t seed = 0; // seeds the sampler's CPU generator
    // Generation of a sequence stops after it produces one of these (included
    // in its tokens).
    std::vector<std::int64_t> eosTokenIds;
    // ... or once the decoded continuation contains one of these (the tokens
    // up to and including the one that completed it are kept, as transformers'
    // stop_strings do). Needs decoder.
    std::vector<std::string> stopStrings;
    TokenDecoder decoder;
    // The id that fills left padding and the steps after a sequence finished
    // (never attended to). Default: the first EOS id, else 0.
    std::optional<std::int64_t> padTokenId;
};

enum class FinishReason { Length, Eos, StopString };

struct GeneratedSequence {
    std::vector<std::int32_t> tokens; // the continuation only, not the prompt
    FinishReason reason = FinishReason::Length;
};

// Generates a continuation for each prompt (token ids; lengths may differ:
// shorter prompts are left-padded and masked, so each result equals what the
// prompt would give alone). Runs under inference mode. For GPT-2 the length is
// capped by its learned positions (FinishReason::Length), of which the model's
// virtual tokens (prompt or prefix tuning) take the first. The virtual tokens
// go in with the prompt, on the first forward; later steps find them cached.
// Throws InputError for an empty prompt list or prompt, ids outside the
// vocabulary, bad sampling options, stop strings without a decoder, or a
// prompt longer than the model's positions.
std::vector<GeneratedSequence> generate(
    const CausalLM& model, const std::vector<std::vector<std::int32_t>>& prompts, const GenerationOptions& options);

} // namespace tunebench
