#include "core/model/model_loader.h"
#include "core/model/classifier_loader.h"

#include "core/model/config.h"
#include "core/model/model_weights.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <set>
#include <sstream>

namespace tunebench {

namespace {

std::string nameList(const std::vector<std::string>& names)
{
    constexpr std::size_t kShown = 20;
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < kShown; ++i)
        out += "\n  " + names[i];
    if (names.size() > kShown)
        out += "\n  ... and " + std::to_string(names.size() - kShown) + " more";
    return out;
}

bool endsWith(const std::string& s, std::string_view suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Checkpoint entries transformers loads without complaint although no
// parameter takes them.
bool isToleratedExtra(const std::string& name, const ModelConfig& config)
{
    if (endsWith(name, "rotary_emb.inv_freq"))
        return true;
    if (config.architecture == Architecture::Gpt2
        && (endsWith(name, ".attn.bias") || endsWith(name, ".attn.masked_bias")))
        return true;
    return config.tieWordEmbeddings && name == "lm_head.weight";
}

class CheckpointSource final : public ParameterSource {
public:
    CheckpointSource(const ModelWeights& weights, const ModelConfig& config, at::Device device, at::ScalarType dtype)
        : m_weights(weights)
        , m_config(config)
        , m_device(device)
        , m_dtype(dtype)
    { }

    void setSequenceClassification(bool on) { m_sequenceClassification = on; }

    at::Tensor make(const std::string& name, const std::vector<std::int64_t>& shape, ParameterRole) override
    {
        const std::string stored = storedName(name);
        if (stored.empty() && m_sequenceClassification && name == "lm_head.weight")
            return at::zeros(shape, at::TensorOptions().dtype(m_dtype).device(m_device));
        if (stored.empty()) {
            m_missing.push_back(name);
            return at::zeros(shape, at::TensorOptions().dtype(m_dtype).device(m_device));
        }
        m_used.insert(stored);
        at::Tensor t = m_weights.tensor(stored);
        if (t.sizes() != at::IntArrayRef(shape)) {
            m_problems.push_back(stored + " in " + m_weights.fileOf(stored).filename().string() + " has shape "
                + c10::str(t.sizes()) + ", the config expects " + c10::str(at::IntArrayRef(shape)));
            return at::zeros(shape, at::TensorOptions().dtype(m_dtype).device(m_device));
        }
        if (!at::isFloatingType(t.scalar_type())) {
            m_problems.push_back(stored + " is stored as " + std::string(c10::toString(t.scalar_type()))
                + ", a parameter must be floating point");
            return at::zeros(shape, at::TensorOptions().dtype(m_dtype).device(m_device));
        }
        // A no-op for float32 on the CPU: the parameter stays in the mapped file.
        return t.to(m_device, m_dtype);
    }

    // Throws the collected problems, if any.
    void finish(const std::filesystem::path& dir, bool allowUnexpected) const
    {
        std::string message;
        if (!m_missing.empty())
            message += "\nmissing tensors (" + std::to_string(m_missing.size()) + "):" + nameList(m_missing);
        if (!m_problems.empty())
            message += "\nwrong tensors (" + std::to_string(m_problems.size()) + "):" + nameList(m_problems);
        std::vector<std::string> unexpected;
        for (const auto& name : m_weights.names()) {
            if (!m_used.count(name) && !isToleratedExtra(name, m_config)
                && !(m_sequenceClassification && name == "score.weight"))
                unexpected.push_back(name);
        }
        if (!unexpected.empty() && !allowUnexpected)
            message += "\nunexpected tensors, which " + std::string(architectureClassName(m_config.architecture))
                + " does not use (" + std::to_string(unexpected.size()) + "):" + nameList(unexpected);
        if (!message.empty())
            throw InputError(dir.string() + ": the weights do not match config.json ("
                + std::string(architectureClassName(m_config.architecture)) + "):" + message);
    }

private:
    // GPT-2 checkpoints from the original release name the base model's
    // tensors without the "transformer." prefix; transformers accepts both.
    std::string storedName(const std::string& name) const
    {
        if (m_weights.contains(name))
            return name;
        const std::string prefix = m_config.architecture == Architecture::Gpt2 ? "transformer." : "model.";
        if (name.rfind(prefix, 0) == 0 && m_weights.contains(name.substr(prefix.size())))
            return name.substr(prefix.size());
        return {};
    }

    const ModelWeights& m_weights;
    const ModelConfig& m_config;
    at::Device m_device;
    at::ScalarType m_dtype;
    std::vector<std::string> m_missing;
    std::vector<std::string> m_problems;
    std::set<std::string> m_used;
    bool m_sequenceClassification = false;
};

// A sequence-classification folder's config read as its base causal LM's ("LlamaForSequenceClassification" ->
// "LlamaForCausalLM").
ModelConfig sequenceClassifierBase(const std::filesystem::path& dir)
{
    const std::filesystem::path file = dir / "config.json";
    nlohmann::json json = readJsonFile(file);
    const std::string suffix = "ForSequenceClassification";
    if (json.is_object() && json.contains("architectures") && json["architectures"].is_array()
        && !json["architectures"].empty() && json["architectures"][0].is_string()) {
        std::string name = json["architectures"][0].get<std::string>();
        if (endsWith(name, suffix) && name != "GPT2" + suffix)
            json["architectures"] = { name.substr(0, name.size() - suffix.size()) + "ForCausalLM" };
        else
            throw InputError(file.string() + ": key 'architectures' names '" + name
                + "', not a sequence-classification model Tunebench reads (e.g. LlamaForSequenceClassification)");
    }
    return parseModelConfig(json, file.string());
}

} // namespace

at::ScalarType scalarTypeOf(StorageDtype dtype)
{
    switch (dtype) {
    case StorageDtype::Float32:
        return at::kFloat;
    case StorageDtype::Float16:
        return at::kHalf;
    case StorageDtype::BFloat16:
        return at::kBFloat16;
    }
    return at::kFloat;
}

at::ScalarType computeDtype(const ModelConfig& config, const LoadOptions& options)
{
    if (options.dtype)
        return *options.dtype;
    return options.device.is_cpu() ? at::kFloat : scalarTypeOf(config.torchDtype);
}

namespace {

std::unique_ptr<CausalLM> load(const std::filesystem::path& dir, const LoadOptions& options, bool classifier)
{
    if (!std::filesystem::is_directory(dir))
        throw InputError(dir.string() + ": not a model folder (it does not exist or is not a folder)");
    const ModelConfig config = classifier ? sequenceClassifierBase(dir) : readModelConfig(dir / "config.json");
    const ModelWeights weights = ModelWeights::open(dir);
    CheckpointSource source(weights, config, options.device, computeDtype(config, options));
    source.setSequenceClassification(classifier);
    std::unique_ptr<CausalLM> model = createCausalLM(config, source);
    source.finish(dir, options.allowUnexpectedTensors);
    return model;
}

} // namespace

std::unique_ptr<CausalLM> loadCausalLM(const std::filesystem::path& dir, const LoadOptions& options)
{
    return load(dir, options, false);
}

std::unique_ptr<CausalLM> loadSequenceClassifierBase(const std::filesystem::path& dir, const LoadOptions& options)
{
    return load(dir, options, true);
}

} // namespace tunebench
