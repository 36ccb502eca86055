// The interface every architecture implements: a causal language model whose
// parameters and linear layers are addressed by their Hugging Face names.
#pragma once

#include "core/model/config.h"
#include "core/model/linear.h"
#include "core/model/virtual_tokens.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class KvCache;

// Virtual tokens (prompt and prefix tuning, see virtual_tokens.h) are not the
// caller's: the mask and positions below cover the caller's tokens only, and
// the model adds the virtual ones in front.
struct ForwardInput {
    at::Tensor inputIds; // [B, T] int64, every id in [0, vocab)
    // [B, S] with S = cached length + T (cached tokens of the caller's, not
    // virtual ones): 1 for real tokens, 0 for padding. Undefined: no padding.
    at::Tensor attentionMask;
    // [B, T] int64. Undefined: derived from the attention mask as transformers'
    // generate() does (cumsum(mask) - 1, so left padding does not shift
    // positions), or past length + arange(T) without a mask. Virtual tokens in
    // front shift all three by their number.
    at::Tensor positionIds;
    KvCache* cache = nullptr; // appended to when given
    bool outputHiddenStates = false;
    // Logits for the last position only ([B, 1, V]), as generation needs.
    bool lastPositionOnly = false;
    // Also ForwardOutput::lastVirtualLogits, for a loss on the caller's first token.
    bool outputLastVirtualLogits = false;
    // Leave ForwardOutput::logits undefined and hand over the final hidden states and the
    // output layer's weight instead, for a loss that makes the logits a chunk at a time
    // (linear_cross_entropy.h). Only where the output layer is a plain product with one
    // weight (no adapter hook on it); otherwise the logits are computed as usual.
    bool deferLogits = false;
    // [B, T] int64, for a new sequence only (no cached positions): several
    // sequences in one row. A token attends to earlier tokens of its own
    // segment and of segment 0 (a prefix they share); virtual tokens count as
    // segment 0. Packing gives each example its own segment from 1 (and
    // position ids restarting at 0); DPO's prefix sharing puts the prompt in
    // segment 0 and the two responses in 1 and 2. Undefined: one sequence.
    at::Tensor segmentIds;
};

struct ForwardOutput {
    at::Tensor logits; // [B, T, V] (or [B, 1, V]) in the model's compute dtype
    // When asked: the embeddings' output and each layer's output, the last one
    // after the final norm, as transformers' output_hidden_states ([B, T, H],
    // the caller's tokens only).
    std::vector<at::Tensor> hiddenStates;
    // When asked and prompt tuning put virtual tokens in front of this new
    // sequence: the logits [B, V] at the last of them, i.e. the prediction of
    // the caller's first token. PEFT's prompt tuning labels only the virtual
    // positions -100, so its loss counts this prediction. Undefined otherwise.
    at::Tensor lastVirtualLogits;
    // With ForwardInput::deferLogits honoured: the last hidden states [B, T, H] (after the
    // final norm, the caller's tokens) and the output layer's weight [V, H], logits = h W^T.
    at::Tensor finalHidden;
    at::Tensor headWeight;
};

// What a ParameterSource is asked for, so a random initialiser can choose a
// distribution; loaders ignore it.
// LinearWeight is [out, in] (nn.Linear), Conv1DWeight [in, out] (GPT-2).
enum class ParameterRole { Embedding, PositionEmbedding, LinearWeight, Conv1DWeight, LinearBias, NormWeight, NormBias };

// Supplies each parameter when a model is built: from a checkpoint, at random,
// or as zeros. Called once per parameter, in registration order, with the HF
// name and the shape the architecture expects. Returns a tensor of that shape
// on the target device and dtype.
class ParameterSource {
public:
    virtual ~ParameterSource() = default;
    virtual at::Tensor make(const std::string& name, const std::vector<std::int64_t>& shape, ParameterRole role) = 0;
};

class CausalLM {
public:
    virtual ~CausalLM() = default;
    CausalLM(const CausalLM&) = delete;
    CausalLM& operator=(const CausalLM&) = delete;

    const ModelConfig& config() const { return m_config; }

    // Runs the model. Thread-compatible: concurrent forwards are fine when each
    // has its own cache and nobody changes parameters or hooks meanwhile.
    // Records autograd when parameters require grad and grad mode is on.
    // Throws InputError for ids out of range, wrong shapes or positions past
    // what the architecture supports.
    virtual ForwardOutput forward(const ForwardInput& input) const = 0;

    // Every parameter under its HF name ("model.layers.0.self_attn.q_proj.weight"),
    // in registration order. The tensors are the model's own (not copies), so
    // in-place updates and requires_grad_() act on the model. A tied lm_head is
    // not listed separately: it is the embedding, as in transformers'
    // named_parameters().
    std::vector<std::pair<std::string, at::Tensor>> namedParameters() const;
    std::vector<std::string> parameterNames() const;
    bool hasParameter(const std::string& name) const;
    // Throws InputError for an unknown name.
    at::Tensor parameter(const std::string& name) const;
    // Replaces a parameter by a tensor of the same shape (moved to the model's
    // device and dtype). Throws InputError for an unknown name or a wrong shape.
    void setParameter(const std::string& name, const at::Tensor& value);

    // Linear layers by HF module name; the adapter hook points (see Linear).
    std::vector<Linear*> linears() const;
    // nullptr when there is no linear layer of that name.
    Linear* linear(const std::string& name) const;

    // Virtual tokens in front of every new sequence (virtual_tokens.h): the
    // hook points of prompt tuning and prefix tuning. nullptr removes a hook.
    // Not thread-safe against a running forward.
    void setInputPrefixHook(std::shared_ptr<const InputPrefixHook> hook);
    const std::shared_ptr<const InputPrefixHook>& inputPrefixHook() const;
    void setAttentionPrefixHook(std::shared_ptr<const AttentionPrefixHook> hook);
    const std::shared_ptr<const AttentionPrefixHook>& attentionPrefixHook() const;
    // The positions the hooks put in front of a new sequence now (0 without
    // hooks or with hooks switched off); they count against GPT-2's learned
    // positions.
    std::int64_t virtualTokenCount() const;

    at::Device device() const;
    at::ScalarType dtype() const;
    // Moves every parameter (not thread-safe against a running forward).
    void to(at::Device device, at::ScalarType dtype);
    void setRequiresGrad(bool requiresGrad);
    std::int64_t parameterCount() const;

    // Activation checkpointing per decoder layer (checkpointing.h) in forwards that record
    // autograd and use no KV cache: memory for activations falls from every layer's to one
    // layer's plus the layer inputs, for one more forward of each layer during backward.
    void setGradientCheckpointing(bool on) { m_gradientCheckpointing = on; }
    bool gradientCheckpointing() const { return m_gradientCheckpointing; }

protected:
    explicit CausalLM(ModelConfig config);

    // Architectures register each parameter slot once, at construction, after
    // asking the source for it. The slot must outlive the model (a member of
    // a heap-allocated layer).
    void addParameter(ParameterSource& source, const std::string& name, at::Tensor* slot,
        std::vector<std::int64_t> shape, ParameterRole role);
    // Creates and registers a linear layer (weight and optional bias).
    Linear* addLinear(ParameterSource& source, const std::string& name, std::int64_t in, std::int64_t out, bool bias,
        Linear::Layout layout = Linear::Layout::OutIn);

    // Checks ids [B, T] and returns the attention mask and position ids to use,
    // and the virtual tokens of a new sequence (V prompt tokens in front of
    // the input, P attention-prefix positions before them). A forward computes
    // N = V + T positions; without hooks V = P = 0 and N = T.
    struct Prepared {
        at::Tensor keyMask; // [B, S] or undefined, S = pastLength + N, ones on virtual positions
        at::Tensor positionIds; // [B, N]
        // Positions before this forward's: the cache's (its virtual ones
        // included), plus P for a new sequence.
        std::int64_t pastLength = 0;
        std::int64_t virtualTokens = 0; // V
        at::Tensor promptEmbeddings; // [V, H]; undefined when V = 0
        at::Tensor attentionPrefix; // [L, 2, Hkv, P, D]; undefined when P = 0
        at::Tensor segmentMask; // [B, 1, N, S] bool from ForwardInput::segmentIds; undefined without
    };
    Prepared prepare(const ForwardInput& input) const;
    // x [B, T, H] -> [B, N, H]: the prompt's virtual tokens in front (x itself without).
    static at::Tensor withVirtualTokens(const Prepared& p, const at::Tensor& x);
    // [B, N, ...] -> [B, T, ...]: the caller's positions (a view; x itself without virtual tokens).
    static at::Tensor callerTokens(const Prepared& p, const at::Tensor& x);
    // [B, N, H] -> [B, H]: the last prompt-tuning virtual token's position; undefined without one.
    static at::Tensor lastVirtualToken(const Prepared& p, const at::Tensor& x);
    // The keys and values a layer attends to, [B, Hkv, S, D]: a new sequence's
    // attention prefix, the cached positions and this forward's k, v
    // [B, Hkv, N, D]; appended to the cache when there is one.
    static std::pair<at::Tensor, at::Tensor> attentionKeysValues(
        const Prepared& p, std::int64_t layer, const at::Tensor& k, const at::Tensor& v, KvCache* cache);

private:
    struct Slot {
        std::string name;
        at::Tensor* tensor;
    };
    ModelConfig m_config;
    std::vector<Slot> m_slots;
    std::vector<std::unique_ptr<Linear>> m_linears;
    std::shared_ptr<const InputPrefixHook> m_inputPrefix;
    std::shared_ptr<const AttentionPrefixHook> m_attentionPrefix;
    bool m_gradientCheckpointing = false;
};

// Builds the architecture config.architecture names, taking every parameter
// from source. Throws InputError when the config is invalid.
std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, ParameterSource& source);

} // namespace tunebench
