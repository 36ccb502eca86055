// The Llama family: LlamaForCausalLM and its variants MistralForCausalLM
// (sliding window), Qwen2ForCausalLM (q/k/v biases) and Qwen3ForCausalLM
// (per-head q/k RMSNorm, free head_dim).
#pragma once

#include "core/model/causal_lm.h"
#include "core/model/rope.h"

#include <memory>
#include <vector>

namespace tunebench {

// Parameters (HF names, L = layer index):
//   model.embed_tokens.weight [V, H]
//   model.layers.L.input_layernorm.weight [H]
//   model.layers.L.self_attn.{q,k,v,o}_proj.{weight,bias?}
//   model.layers.L.self_attn.{q,k}_norm.weight [head_dim]       (Qwen3)
//   model.layers.L.post_attention_layernorm.weight [H]
//   model.layers.L.mlp.{gate,up,down}_proj.{weight,bias?}
//   model.norm.weight [H]
//   lm_head.weight [V, H]                                        (untied only)
class LlamaModel final : public CausalLM {
public:
    LlamaModel(const ModelConfig& config, ParameterSource& source);

    ForwardOutput forward(const ForwardInput& input) const override;

private:
    struct Layer {
        at::Tensor inputNorm;
        at::Tensor postAttentionNorm;
        at::Tensor qNorm; // Qwen3 only
        at::Tensor kNorm;
        Linear* q = nullptr;
        Linear* k = nullptr;
        Linear* v = nullptr;
        Linear* o = nullptr;
        Linear* gate = nullptr;
        Linear* up = nullptr;
        Linear* down = nullptr;
    };

    // x [B, N, H] -> attention output [B, N, H].
    at::Tensor attention(std::int64_t index, const Layer& layer, const at::Tensor& x, const at::Tensor& cos,
        const at::Tensor& sin, const at::Tensor& allowed, const Prepared& prepared, KvCache* cache) const;

    at::Tensor m_embed;
    at::Tensor m_norm;
    Linear* m_lmHead = nullptr; // nullptr when tied to m_embed
    std::vector<std::unique_ptr<Layer>> m_layers;
    RotaryEmbedding m_rotary;
};

} // namespace tunebench
