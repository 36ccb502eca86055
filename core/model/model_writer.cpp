#include "core/model/model_writer.h"

#include "core/model/model_loader.h"
#include "core/model/safetensors.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <ATen/CPUGeneratorImpl.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace tunebench {

namespace {

class RandomSource final : public ParameterSource {
public:
    RandomSource(const ModelConfig& config, std::uint64_t seed, const at::TensorOptions& options)
        : m_config(config)
        , m_generator(at::make_generator<at::CPUGeneratorImpl>(seed))
        , m_options(options)
    { }

    at::Tensor make(const std::string&, const std::vector<std::int64_t>& shape, ParameterRole role) override
    {
        const auto cpu = at::TensorOptions().dtype(at::kFloat);
        const double h = static_cast<double>(m_config.hiddenSize);
        at::Tensor t;
        switch (role) {
        case ParameterRole::Embedding:
        case ParameterRole::PositionEmbedding:
            t = at::normal(0.0, std::pow(h, -0.25), shape, m_generator, cpu);
            break;
        case ParameterRole::LinearWeight:
            t = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(shape[1])), shape, m_generator, cpu);
            break;
        case ParameterRole::Conv1DWeight:
            t = at::normal(0.0, 1.0 / std::sqrt(static_cast<double>(shape[0])), shape, m_generator, cpu);
            break;
        case ParameterRole::LinearBias:
        case ParameterRole::NormBias:
            t = at::normal(0.0, 0.2, shape, m_generator, cpu);
            break;
        case ParameterRole::NormWeight:
            t = at::normal(1.0, 0.2, shape, m_generator, cpu);
            break;
        }
        return t.to(m_options.device(), m_options.dtype().toScalarType());
    }

private:
    const ModelConfig& m_config;
    at::Generator m_generator;
    at::TensorOptions m_options;
};

void writeTextFile(const std::filesystem::path& path, const std::string& text)
{
    writeFileAtomically(path, text);
}

std::string shardName(std::size_t index, std::size_t count)
{
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "model-%05zu-of-%05zu.safetensors", index, count);
    return buffer;
}

} // namespace

ModelConfig randomModelConfig(const RandomModelSpec& spec)
{
    const Architecture a = spec.architecture;
    const bool gpt2 = a == Architecture::Gpt2;
    const bool qwen = a == Architecture::Qwen2 || a == Architecture::Qwen3;
    auto fail = [](const std::string& what) { throw InputError("make-model: " + what); };

    ModelConfig c;
    c.architecture = a;
    c.vocabSize = spec.vocabSize;
    c.hiddenSize = spec.hiddenSize;
    c.numLayers = spec.numLayers;
    c.numHeads = spec.numHeads;
    if (c.hiddenSize <= 0 || c.numLayers <= 0 || c.numHeads <= 0 || c.vocabSize <= 0)
        fail("hidden size, layers, heads and vocabulary size must be positive");
    c.numKvHeads = spec.numKvHeads.value_or(c.numHeads);
    if (gpt2 && c.numKvHeads != c.numHeads)
        fail("GPT-2 has no grouped-query attention: the kv heads must equal the heads");
    if (spec.headDim && (gpt2 || a == Architecture::Qwen2) && *spec.headDim * c.numHeads != c.hiddenSize)
        fail(std::string(architectureModelType(a)) + " derives head_dim = hidden size / heads; it cannot be set");
    if (!spec.headDim && c.hiddenSize % c.numHeads != 0)
        fail("the hidden size " + std::to_string(c.hiddenSize) + " is not divisible by " + std::to_string(c.numHeads)
            + " heads");
    c.headDim = spec.headDim.value_or(c.hiddenSize / c.numHeads);
    c.intermediateSize = spec.intermediateSize.value_or(4 * c.hiddenSize);
    // Llama 3.1's 131072 with its scaling: transformers warns when the original
    // context is not below max_position_embeddings.
    const bool llama3 = spec.ropeScaling.type == RopeScaling::Type::Llama3;
    c.maxPositionEmbeddings = spec.maxPositions.value_or(gpt2 ? 1024 : llama3 ? 131072 : 2048);
    c.normEps = gpt2 ? 1e-5 : 1e-6;
    c.hiddenAct = gpt2 ? "gelu_new" : "silu";
    c.tieWordEmbeddings = spec.tieWordEmbeddings.value_or(gpt2 || qwen);
    c.torchDtype = spec.torchDtype;
    c.ropeScaling = spec.ropeScaling;
    // YaRN's pre-training context: the one the factor stretches to max_position_embeddings (transformers
    // warns when the two disagree).
    if (c.ropeScaling.type == RopeScaling::Type::Yarn && c.ropeScaling.originalMaxPositionEmbeddings == 0)
        c.ropeScaling.originalMaxPositionEmbeddings = std::max<std::int64_t>(
            1, std::llround(static_cast<double>(c.maxPositionEmbeddings) / c.ropeScaling.factor));
    if (gpt2 && spec.ropeScaling.type != RopeScaling::Type::None)
        fail("GPT-2 has learned positions, not rotary embeddings: no rope scaling");
    c.ropeTheta = qwen ? 1000000.0 : spec.ropeScaling.type == RopeScaling::Type::Llama3 ? 500000.0 : 10000.0;
    switch (a) {
    case Architecture::Llama:
        break;
    case Architecture::Mistral:
        c.slidingWindow = spec.slidingWindow;
        break;
    case Architecture::Qwen2:
    case Architecture::Qwen3:
        c.qkvBias = a == Architecture::Qwen2;
        c.qkNorm = a == Architecture::Qwen3;
        if (spec.slidingWindow) {
            // Half the layers full, half windowed, to exercise max_window_layers.
            c.slidingWindow = spec.slidingWindow;
            for (std::int64_t i = 0; i < c.numLayers; ++i)
                c.slidingLayers.push_back(i >= c.numLayers / 2);
        }
        break;
    case Architecture::Gpt2:
        c.qkvBias = c.outputBias = c.mlpBias = true;
        if (spec.slidingWindow)
            fail("GPT-2 has no sliding window");
        break;
    }
    if (a == Architecture::Llama && spec.slidingWindow)
        fail("Llama has no sliding window (use mistral)");
    c.bosTokenId = spec.bosTokenId;
    c.eosTokenIds = spec.eosTokenIds;
    c.padTokenId = spec.padTokenId;
    validateModelConfig(c, "make-model");
    return c;
}

std::unique_ptr<CausalLM> createRandomCausalLM(
    const ModelConfig& config, std::uint64_t seed, const at::TensorOptions& options)
{
    RandomSource source(config, seed, options);
    return createCausalLM(config, source);
}

void saveModelFolder(
    const CausalLM& model, const std::filesystem::path& dir, std::optional<std::uint64_t> maxShardBytes)
{
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw Error(dir.string() + ": cannot create the folder: " + ec.message());
    // Weights from an earlier save would shadow or mix with the new ones.
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        const std::string name = entry.path().filename().string();
        if (name == "model.safetensors" || name == "model.safetensors.index.json"
            || (name.rfind("model-", 0) == 0 && name.find("-of-") != std::string::npos && name.size() > 12
                && name.compare(name.size() - 12, 12, ".safetensors") == 0))
            std::filesystem::remove(entry.path());
    }

    const ModelConfig& config = model.config();
    writeTextFile(dir / "config.json", modelConfigToJson(config).dump(2) + "\n");

    const at::ScalarType storage = scalarTypeOf(config.torchDtype);
    NamedTensors tensors;
    for (const auto& [name, tensor] : model.namedParameters())
        tensors.emplace_back(name, tensor.detach().to(at::kCPU, storage));
    const std::map<std::string, std::string> metadata { { "format", "pt" } };
    if (!maxShardBytes) {
        writeSafetensors(dir / "model.safetensors", tensors, metadata);
        return;
    }

    std::vector<NamedTensors> shards(1);
    std::uint64_t shardBytes = 0;
    std::uint64_t totalBytes = 0;
    for (auto& named : tensors) {
        const auto bytes = static_cast<std::uint64_t>(named.second.numel() * named.second.element_size());
        if (!shards.back().empty() && shardBytes + bytes > *maxShardBytes) {
            shards.emplace_back();
            shardBytes = 0;
        }
        shards.back().push_back(named);
        shardBytes += bytes;
        totalBytes += bytes;
    }
    nlohmann::json weightMap = nlohmann::json::object();
    for (std::size_t i = 0; i < shards.size(); ++i) {
        const std::string file = shardName(i + 1, shards.size());
        writeSafetensors(dir / file, shards[i], metadata);
        for (const auto& named : shards[i])
            weightMap[named.first] = file;
    }
    const nlohmann::json index = { { "metadata", { { "total_size", totalBytes } } }, { "weight_map", weightMap } };
    writeTextFile(dir / "model.safetensors.index.json", index.dump(2) + "\n");
}

std::vector<std::string> copyTokenizerFiles(const std::filesystem::path& from, const std::filesystem::path& to)
{
    static const char* const kFiles[]
        = { "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
              "added_tokens.json", "tokenizer.model", "chat_template.jinja", "chat_template.json" };
    std::error_code ec;
    std::filesystem::create_directories(to, ec);
    if (ec)
        throw Error(to.string() + ": cannot create the folder: " + ec.message());
    std::vector<std::string> written;
    auto copy = [&](const std::string& source, const std::string& target) {
        std::filesystem::copy_file(from / source, to / target, std::filesystem::copy_options::overwrite_existing, ec);
        if (ec)
            throw Error((to / target).string() + ": cannot copy the tokenizer file: " + ec.message());
        written.push_back(target);
    };
    for (const char* name : kFiles) {
        if (std::filesystem::is_regular_file(from / name))
            copy(name, name);
    }
    if (!std::filesystem::exists(from / "vocab.json") && std::filesystem::is_regular_file(from / "encoder.json")
        && std::filesystem::is_regular_file(from / "vocab.bpe") && !std::filesystem::exists(from / "merges.txt")) {
        copy("encoder.json", "vocab.json");
        copy("vocab.bpe", "merges.txt");
    }
    if (written.empty())
        throw InputError(from.string() + ": no tokenizer files (expected tokenizer.json, or vocab.json + merges.txt)");
    return written;
}

} // namespace tunebench
