// GPT2LMHeadModel: learned positions, pre-LayerNorm blocks, fused qkv
// projection, Conv1D weights stored [in, out].
#pragma once

#include "core/model/causal_lm.h"

#include <memory>
#include <vector>

namespace tunebench {

// Parameters (HF names, L = layer index):
//   transformer.wte.weight [V, H], transformer.wpe.weight [n_positions, H]
//   transformer.h.L.ln_1.{weight,bias} [H]
//   transformer.h.L.attn.c_attn.{weight [H, 3H], bias [3H]}
//   transformer.h.L.attn.c_proj.{weight [H, H], bias [H]}
//   transformer.h.L.ln_2.{weight,bias} [H]
//   transformer.h.L.mlp.c_fc.{weight [H, I], bias [I]}
//   transformer.h.L.mlp.c_proj.{weight [I, H], bias [H]}
//   transformer.ln_f.{weight,bias} [H]
//   lm_head.weight [V, H]   (only when tie_word_embeddings is false)
class Gpt2Model final : public CausalLM {
public:
    Gpt2Model(const ModelConfig& config, ParameterSource& source);

    ForwardOutput forward(const ForwardInput& input) const override;

private:
    struct Layer {
        at::Tensor ln1Weight, ln1Bias, ln2Weight, ln2Bias;
        Linear* qkv = nullptr;
        Linear* attnProj = nullptr;
        Linear* fc = nullptr;
        Linear* mlpProj = nullptr;
    };

    at::Tensor m_wte;
    at::Tensor m_wpe;
    at::Tensor m_lnfWeight, m_lnfBias;
    Linear* m_lmHead = nullptr; // nullptr when tied to m_wte
    std::vector<std::unique_ptr<Layer>> m_layers;
};

} // namespace tunebench
