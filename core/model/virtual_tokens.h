// Virtual tokens: positions an adapter puts in front of every sequence the
// model reads, the hook points of prompt tuning and prefix tuning (see
// CausalLM::setInputPrefixHook and CausalLM::setAttentionPrefixHook).
//
// Both follow what PEFT's PeftModelForCausalLM does with transformers:
//   - they go in front of a new sequence only: a forward without a KV cache,
//     or with an empty one. A cache remembers how many of its leading
//     positions are virtual (KvCache::virtualLength), so later forwards see
//     them there and do not add them again;
//   - the caller's attention mask and position ids cover its own tokens only:
//     the model puts ones in the mask for the virtual positions, and the
//     caller's tokens take the positions after them (position ids derived from
//     the mask, from the cache length, or given explicitly, are all shifted by
//     the number of virtual positions in front);
//   - logits and hidden states cover the caller's tokens only ([B, T, ...]), so
//     objectives and labels need no change. The one prediction that falls
//     outside them, the last prompt-tuning virtual token's of the caller's
//     first token, which PEFT's training loss counts, comes on request
//     (ForwardInput::outputLastVirtualLogits).
// Without hooks, or with hooks whose length() is 0 (an adapter switched off),
// the model computes exactly what it computes without them.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace tunebench {

// Prompt tuning (Lester et al.): n embeddings in front of the input
// embeddings, as PEFT's inputs_embeds = cat(prompts, inputs_embeds). The model
// runs on the n + T positions: the virtual tokens take positions 0 .. n-1 (GPT-2
// adds its learned position embeddings to them as to any token; Llama rotates
// their queries and keys) and the input follows from position n.
// Hooks are called on whatever thread runs the forward; they must not change
// state while a forward runs.
class InputPrefixHook {
public:
    virtual ~InputPrefixHook() = default;
    // Virtual tokens put in front of a new sequence now; 0 for none.
    virtual std::int64_t length() const = 0;
    // [n, hidden] with n = length(); called only when length() > 0. Cast to
    // the model's compute dtype and device.
    virtual at::Tensor embeddings() const = 0;
};

// Prefix tuning (Li and Liang): per layer, n keys and values in front of the
// attention's own, as PEFT passes them: as past_key_values of length n. They
// are used as given (transformers caches keys after RoPE and after Qwen3's
// k-norm, so a past is never rotated or normalised again), and the input's
// positions start at n, as transformers starts them after a past of length n.
class AttentionPrefixHook {
public:
    virtual ~AttentionPrefixHook() = default;
    // Prefix positions put in front of a new sequence now; 0 for none.
    virtual std::int64_t length() const = 0;
    // [layers, 2, kvHeads, n, headDim] with n = length(): layer l's keys at
    // [l][0], its values at [l][1]; the same for every sequence of a batch.
    // Called only when length() > 0, once per forward of a new sequence.
    virtual at::Tensor keysValues() const = 0;
};

} // namespace tunebench
