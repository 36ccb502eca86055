// Writing Hugging Face model folders: random tiny models for tests and
// references (make-model), and any CausalLM as config.json + safetensors.
#pragma once

#include "core/model/causal_lm.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

// What `tunebench-cli make-model` asks for; unset fields get the defaults below.
struct RandomModelSpec {
    Architecture architecture = Architecture::Llama;
    std::int64_t vocabSize = 0;
    std::int64_t hiddenSize = 64;
    std::int64_t numLayers = 2;
    std::int64_t numHeads = 4;
    std::optional<std::int64_t> numKvHeads; // default: numHeads
    std::optional<std::int64_t> intermediateSize; // default: 4 * hiddenSize
    std::optional<std::int64_t> headDim; // Llama family only; default hiddenSize / numHeads
    std::optional<std::int64_t> slidingWindow; // Mistral, Qwen2, Qwen3
    std::optional<std::int64_t> maxPositions; // default 1024 (GPT-2), 131072 (Llama-3 rope), 2048
    std::optional<bool> tieWordEmbeddings; // default: true for GPT-2 and Qwen, false for Llama, Mistral
    RopeScaling ropeScaling; // Llama family
    std::optional<std::int64_t> bosTokenId;
    std::vector<std::int64_t> eosTokenIds;
    std::optional<std::int64_t> padTokenId;
    StorageDtype torchDtype = StorageDtype::Float32;
};

// The full config for a spec (architecture-specific keys as transformers
// writes them: Qwen2 gets q/k/v biases, Qwen3 q/k norms, ...). Throws
// InputError for an inconsistent spec (e.g. heads not divisible by kv heads).
ModelConfig randomModelConfig(const RandomModelSpec& spec);

// A model with every parameter drawn from a CPU generator seeded with seed, so
// the same seed gives the same weights on every device. Scales are chosen so
// that activations stay O(1) and logits spread over a few units (standard
// deviations: linear weights 1/sqrt(in), embeddings H^-1/4, biases 0.2; norm
// weights 1 + 0.2 * N(0, 1)): transformers' 0.02 init gives near-uniform
// logits, against which the invariant tests and the reference comparison
// would say little.
std::unique_ptr<CausalLM> createRandomCausalLM(
    const ModelConfig& config, std::uint64_t seed, const at::TensorOptions& options = {});

// Writes config.json and the weights in config.torchDtype as save_pretrained
// does: metadata {"format": "pt"}, a tied lm_head omitted. maxShardBytes set:
// model-0000i-of-0000N.safetensors shards plus model.safetensors.index.json.
// Creates dir. Throws Error when a file cannot be written.
void saveModelFolder(
    const CausalLM& model, const std::filesystem::path& dir, std::optional<std::uint64_t> maxShardBytes = std::nullopt);

// Copies the tokenizer files found in `from` (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, vocab.json, merges.txt,
// added_tokens.json, tokenizer.model, chat_template.jinja) into `to`. A GPT-2
// pair in the older encoder.json + vocab.bpe spelling (as OpenAI published it)
// is written as vocab.json + merges.txt, which transformers and
// Tunebench read. Returns the names written. Throws InputError when `from`
// holds no tokenizer file.
std::vector<std::string> copyTokenizerFiles(const std::filesystem::path& from, const std::filesystem::path& to);

} // namespace tunebench
