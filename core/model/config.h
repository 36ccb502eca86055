// config.json of a Hugging Face causal language model, for the architectures
// Tunebench runs: the Llama family (Llama, Mistral, Qwen2, Qwen3) and GPT-2.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

enum class Architecture { Llama, Mistral, Qwen2, Qwen3, Gpt2 };

// "LlamaForCausalLM", ..., "GPT2LMHeadModel": the `architectures` entry.
std::string_view architectureClassName(Architecture arch);
// "llama", "mistral", "qwen2", "qwen3", "gpt2": the `model_type` (and the CLI's --arch).
std::string_view architectureModelType(Architecture arch);
// From a model_type; throws InputError listing the known ones.
Architecture architectureFromModelType(std::string_view modelType);

// rope_scaling (transformers 4.x) or rope_parameters (5.x).
struct RopeScaling {
    enum class Type { None, Linear, Dynamic, Llama3, Yarn };
    Type type = Type::None;
    double factor = 1.0;
    // Llama-3 only.
    double lowFreqFactor = 1.0;
    double highFreqFactor = 4.0;
    // Llama-3 and YaRN: the context the model was trained with.
    std::int64_t originalMaxPositionEmbeddings = 0;
    // YaRN only (transformers' defaults). Dimensions that turn fewer than betaSlow times over the
    // original context are interpolated (divided by factor), those turning more than betaFast times
    // kept, the band between blended linearly; truncate rounds the band's ends outwards to whole
    // dimensions.
    double betaFast = 32.0;
    double betaSlow = 1.0;
    bool truncate = true;
    // cos and sin are multiplied by attention_factor; when it is not given it is derived from factor
    // (and mscale / mscale_all_dim when both are given), see ropeAttentionScaling().
    std::optional<double> attentionFactor;
    std::optional<double> mscale;
    std::optional<double> mscaleAllDim;
};

// The factor YaRN multiplies cos and sin with: attention_factor, else
// m(factor, mscale) / m(factor, mscale_all_dim) when both are given and non-zero, else m(factor, 1), where
// m(s, k) = 0.1 k ln(s) + 1 for s > 1 and 1 otherwise. 1 for the other scaling types.
double ropeAttentionScaling(const RopeScaling& scaling);

// How the weights are stored (`torch_dtype`); computation is in float32 on the
// CPU unless a caller asks otherwise (see LoadOptions).
enum class StorageDtype { Float32, Float16, BFloat16 };
std::string_view storageDtypeName(StorageDtype dtype); // "float32", "float16", "bfloat16"

struct ModelConfig {
    Architecture architecture = Architecture::Llama;
    std::int64_t vocabSize = 0;
    std::int64_t hiddenSize = 0;
    std::int64_t intermediateSize = 0;
    std::int64_t numLayers = 0;
    std::int64_t numHeads = 0;
    std::int64_t numKvHeads = 0;
    std::int64_t headDim = 0; // may differ from hiddenSize / numHeads (Qwen3)
    std::int64_t maxPositionEmbeddings = 0;
    double normEps = 1e-6;
    double ropeTheta = 10000.0;
    RopeScaling ropeScaling;
    std::string hiddenAct = "silu"; // MLP activation (GPT-2: activation_function)
    bool tieWordEmbeddings = false;
    bool qkvBias = false; // biases on q_proj, k_proj, v_proj (Qwen2; attention_bias)
    bool outputBias = false; // bias on o_proj (attention_bias of Llama and Qwen3)
    bool mlpBias = false; // biases on gate/up/down_proj (Llama's mlp_bias)
    bool qkNorm = false; // per-head RMSNorm on queries and keys (Qwen3)
    // Tokens a query sees, itself included, on layers that use the window;
    // nullopt: full causal attention everywhere.
    std::optional<std::int64_t> slidingWindow;
    std::vector<bool> slidingLayers; // per layer: whether slidingWindow applies
    bool scaleAttnWeights = true; // GPT-2
    bool scaleAttnByInverseLayerIdx = false; // GPT-2
    StorageDtype torchDtype = StorageDtype::Float32;
    double initializerRange = 0.02;
    std::optional<std::int64_t> bosTokenId;
    std::vector<std::int64_t> eosTokenIds; // eos_token_id may be one id or a list
    std::optional<std::int64_t> padTokenId;

    bool usesRope() const { return architecture != Architecture::Gpt2; }
    bool layerUsesSlidingWindow(std::int64_t layer) const;
};

// Reads config.json. Throws InputError naming the file and the key that is
// missing, of the wrong type or out of range, or the architecture that is not
// supported. Keys transformers defaults are defaulted the same way; the sizes
// (vocab_size, hidden_size, intermediate_size, num_hidden_layers,
// num_attention_heads; GPT-2: vocab_size, n_embd, n_layer, n_head) are required.
ModelConfig readModelConfig(const std::filesystem::path& file);
ModelConfig parseModelConfig(const nlohmann::json& json, const std::string& fileLabel);

// Checks the invariants a model needs (positive sizes, heads divisible by kv
// heads, even head dim, ...). Throws InputError naming fileLabel and the key.
void validateModelConfig(const ModelConfig& config, const std::string& fileLabel);

// config.json content with every key transformers needs to rebuild the model.
nlohmann::json modelConfigToJson(const ModelConfig& config);

} // namespace tunebench
