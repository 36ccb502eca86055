#pragma once

// Shared by the model tests: one small config per architecture variant (each
// switching on the features that set it apart), and a tiny byte-level BPE
// tokenizer written by hand so model tests need no downloaded files.

#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/model/model_writer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace model_test {

constexpr std::int64_t kVocab = 96;

// Row name -> config. Every architecture, with its distinguishing features on:
// GQA, biases, tied/untied heads, Qwen3's free head_dim and q/k norms, a
// Mistral window shorter than the test sequences, Llama-3 rope scaling.
inline std::vector<std::pair<std::string, tunebench::ModelConfig>> architectureConfigs(std::int64_t vocab = kVocab)
{
    using namespace tunebench;
    std::vector<std::pair<std::string, ModelConfig>> out;
    auto spec = [&](Architecture a) {
        RandomModelSpec s;
        s.architecture = a;
        s.vocabSize = vocab;
        s.hiddenSize = 32;
        s.numLayers = 2;
        s.numHeads = 4;
        s.intermediateSize = 48;
        s.eosTokenIds = { vocab - 1 };
        return s;
    };

    RandomModelSpec llama = spec(Architecture::Llama);
    llama.numKvHeads = 2;
    ModelConfig llamaConfig = randomModelConfig(llama);
    llamaConfig.qkvBias = llamaConfig.outputBias = llamaConfig.mlpBias = true; // attention_bias, mlp_bias
    out.emplace_back("llama", llamaConfig);

    RandomModelSpec llama3 = spec(Architecture::Llama);
    llama3.numKvHeads = 1;
    llama3.tieWordEmbeddings = true;
    llama3.ropeScaling = { RopeScaling::Type::Llama3, 8.0, 1.0, 4.0, 64 };
    out.emplace_back("llama3-rope", randomModelConfig(llama3));

    RandomModelSpec mistral = spec(Architecture::Mistral);
    mistral.numKvHeads = 2;
    mistral.slidingWindow = 4;
    out.emplace_back("mistral-window", randomModelConfig(mistral));

    RandomModelSpec qwen2 = spec(Architecture::Qwen2);
    qwen2.numKvHeads = 2;
    out.emplace_back("qwen2", randomModelConfig(qwen2));

    RandomModelSpec qwen3 = spec(Architecture::Qwen3);
    qwen3.numKvHeads = 2;
    qwen3.headDim = 12; // != 32 / 4
    qwen3.slidingWindow = 5;
    qwen3.tieWordEmbeddings = false;
    out.emplace_back("qwen3", randomModelConfig(qwen3));

    RandomModelSpec gpt2 = spec(Architecture::Gpt2);
    gpt2.maxPositions = 64;
    out.emplace_back("gpt2", randomModelConfig(gpt2));
    return out;
}

// Random ids [B, T] in [0, vocab - 1) (the last id is kept for EOS tests).
inline at::Tensor randomIds(std::int64_t batch, std::int64_t tokens, std::uint64_t seed, std::int64_t vocab = kVocab)
{
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
    return at::randint(0, vocab - 1, { batch, tokens }, g, at::TensorOptions().dtype(at::kLong));
}

inline double maxAbsDiff(const at::Tensor& a, const at::Tensor& b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

// GPT-2's byte-to-character table: printable Latin-1 bytes map to themselves,
// the rest to U+0100 onwards, so every byte has a visible character.
inline std::vector<std::string> byteLevelAlphabet()
{
    std::vector<int> codepoints(256, -1);
    for (int b = '!'; b <= '~'; ++b)
        codepoints[static_cast<std::size_t>(b)] = b;
    for (int b = 0xA1; b <= 0xAC; ++b)
        codepoints[static_cast<std::size_t>(b)] = b;
    for (int b = 0xAE; b <= 0xFF; ++b)
        codepoints[static_cast<std::size_t>(b)] = b;
    int next = 256;
    for (auto& cp : codepoints) {
        if (cp < 0)
            cp = next++;
    }
    std::vector<std::string> out;
    for (int cp : codepoints) {
        std::string s;
        if (cp < 0x80) {
            s += static_cast<char>(cp);
        } else {
            s += static_cast<char>(0xC0 | (cp >> 6));
            s += static_cast<char>(0x80 | (cp & 0x3F));
        }
        out.push_back(s);
    }
    return out;
}

// Writes a GPT-2-style byte-level BPE tokenizer.json (256 byte tokens, a few
// merges, "<|endoftext|>" as BOS/EOS) and its tokenizer_config.json into dir.
// Vocabulary size 264; "<|endoftext|>" is id 263.
inline void writeTinyTokenizer(const std::filesystem::path& dir)
{
    std::filesystem::create_directories(dir);
    const std::vector<std::string> bytes = byteLevelAlphabet();
    nlohmann::json vocab = nlohmann::json::object();
    for (std::size_t i = 0; i < bytes.size(); ++i)
        vocab[bytes[i]] = static_cast<int>(i);
    const std::string space = "\xC4\xA0"; // Ġ, the byte-level space
    const std::vector<std::pair<std::string, std::string>> merges = { { space, "t" }, { "h", "e" },
        { space + "t", "he" }, { "i", "n" }, { space, "a" }, { "e", "r" }, { "o", "n" } };
    nlohmann::json mergeList = nlohmann::json::array();
    int id = 256;
    for (const auto& [a, b] : merges) {
        mergeList.push_back(a + " " + b);
        vocab[a + b] = id++;
    }
    const nlohmann::json byteLevel
        = { { "type", "ByteLevel" }, { "add_prefix_space", false }, { "trim_offsets", true }, { "use_regex", true } };
    const nlohmann::json doc = { { "version", "1.0" }, { "truncation", nullptr }, { "padding", nullptr },
        { "added_tokens",
            { { { "id", id }, { "content", "<|endoftext|>" }, { "single_word", false }, { "lstrip", false },
                { "rstrip", false }, { "normalized", false }, { "special", true } } } },
        { "normalizer", nullptr }, { "pre_tokenizer", byteLevel }, { "post_processor", byteLevel },
        { "decoder", byteLevel },
        { "model",
            { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr }, { "continuing_subword_prefix", "" },
                { "end_of_word_suffix", "" }, { "fuse_unk", false }, { "byte_fallback", false }, { "vocab", vocab },
                { "merges", mergeList } } } };
    std::ofstream(dir / "tokenizer.json", std::ios::binary) << doc.dump();
    const nlohmann::json config = { { "bos_token", "<|endoftext|>" }, { "eos_token", "<|endoftext|>" },
        { "tokenizer_class", "GPT2Tokenizer" }, { "model_max_length", 1024 } };
    std::ofstream(dir / "tokenizer_config.json", std::ios::binary) << config.dump();
}

constexpr std::int64_t kTinyTokenizerVocab = 264;
constexpr std::int32_t kTinyTokenizerEos = 263;

// The tiny Llama model folder the CLI and training tests share: writeTinyTokenizer's tokenizer (vocabulary 264,
// "<|endoftext|>" as EOS), hidden 32, 4 heads with 2 key/value heads, MLP 64, random weights from seed; written as a
// Hugging Face folder into dir.
inline tunebench::RandomModelSpec tinyFolderSpec(std::int64_t layers = 2)
{
    tunebench::RandomModelSpec spec;
    spec.architecture = tunebench::Architecture::Llama;
    spec.vocabSize = kTinyTokenizerVocab;
    spec.hiddenSize = 32;
    spec.numLayers = layers;
    spec.numHeads = 4;
    spec.numKvHeads = 2;
    spec.intermediateSize = 64;
    spec.eosTokenIds = { kTinyTokenizerEos };
    return spec;
}

inline void writeTinyModelFolder(const std::filesystem::path& dir, std::uint64_t seed = 3, std::int64_t layers = 2)
{
    writeTinyTokenizer(dir);
    tunebench::saveModelFolder(
        *tunebench::createRandomCausalLM(tunebench::randomModelConfig(tinyFolderSpec(layers)), seed), dir);
}

// The tiny random model the method tests train (vocabulary 48, hidden 16, 4 heads, MLP 32; grouped-query
// attention with 2 key/value heads except for GPT-2).
inline std::unique_ptr<tunebench::CausalLM> tinyModel(
    tunebench::Architecture arch, std::int64_t layers = 2, std::uint64_t seed = 11)
{
    using namespace tunebench;
    RandomModelSpec spec;
    spec.architecture = arch;
    spec.vocabSize = 48;
    spec.hiddenSize = 16;
    spec.numLayers = layers;
    spec.numHeads = 4;
    if (arch != Architecture::Gpt2)
        spec.numKvHeads = 2;
    spec.intermediateSize = 32;
    return createRandomCausalLM(randomModelConfig(spec), seed);
}

// Logits [B, T, V] of ids [B, T], without gradients.
inline at::Tensor logitsOf(const tunebench::CausalLM& model, const at::Tensor& ids)
{
    at::NoGradGuard noGrad;
    tunebench::ForwardInput in;
    in.inputIds = ids;
    return model.forward(in).logits;
}

} // namespace model_test
