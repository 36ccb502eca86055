// Models and LoRA adapters as GGUF files for llama.cpp and Ollama, written directly (no Python converter):
// the Llama family (Llama, Mistral) with llama.cpp's tensor names and metadata, the tokenizer included.
#pragma once

#include "core/export/gguf.h"

#include <filesystem>
#include <string>

namespace tunebench {

class CausalLM;
struct LoraForm;
struct ModelConfig;

// "f32", "f16", "bf16", "q8_0"; throws InputError naming the accepted values.
gguf::TensorType ggufTypeFromString(const std::string& name);

// llama.cpp's name for a Hugging Face parameter of a Llama-family model ("model.layers.3.self_attn.q_proj.weight"
// -> "blk.3.attn_q.weight"); empty when llama.cpp has no such tensor.
std::string ggufTensorName(const std::string& hfName);

// convert_hf_to_gguf's reordering of q_proj / k_proj rows for llama.cpp's rotary embedding: per head, the rows
// [0, half) and [half, head_dim) interleave (row order 0, half, 1, half+1, ...). rows: [heads * head_dim, ...].
at::Tensor permuteForRope(const at::Tensor& rows, std::int64_t heads);
// The inverse (for reading back).
at::Tensor unpermuteForRope(const at::Tensor& rows, std::int64_t heads);

// Writes `model` (its weights as they are, e.g. with an adapter merged in) with the tokenizer of tokenizerDir
// (tokenizer.json, tokenizer_config.json) as a GGUF model file. Matrices are stored as `type`; 1-D tensors
// (norms) stay F32, and a Q8_0 matrix whose rows are not a multiple of 32 values is stored as F16 (as
// convert_hf_to_gguf falls back). Throws InputError for an architecture or feature llama.cpp's llama
// architecture cannot express (GPT-2, Qwen2/3, biases, rope scaling), naming it.
void writeGgufModel(const CausalLM& model, const std::filesystem::path& tokenizerDir, const std::string& name,
    gguf::TensorType type, const std::filesystem::path& out);

// Writes a LoRA adapter as llama.cpp reads one (general.type adapter, adapter.type lora, adapter.lora.alpha with
// llama.cpp's scale alpha / rank equal to the adapter's; tensors blk.N.attn_q.weight.lora_a [r, in] and .lora_b
// [out, r] in LibTorch order, q/k's lora_b rows permuted as the base weight's). DoRA cannot be expressed.
void writeGgufLora(const LoraForm& lora, const ModelConfig& config, const std::string& name, gguf::TensorType type,
    const std::filesystem::path& out);

} // namespace tunebench
