#include "core/reward/reward_model_scorer.h"

#include "core/method/adapter.h"
#include "core/model/causal_lm.h"
#include "core/model/classifier_loader.h"
#include "core/model/model_weights.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

// The name transformers gives the head of a sequence-classification model; reward_model runs save it so too.
constexpr const char* kHead = "score.weight";

nlohmann::json readConfig(const fs::path& file, const std::string& key)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(key + ": " + file.parent_path().string() + " has no config.json; expected a Hugging Face "
            + "sequence-classification folder or the id of a run trained with objective reward_model");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
        throw InputError(key + ": " + file.string() + ": not valid JSON: " + e.what());
    }
}

// The number of labels a config.json declares: num_labels, else the size of id2label (what save_pretrained
// writes), else transformers' default of 2.
std::int64_t labelCount(const nlohmann::json& config)
{
    if (const auto n = config.find("num_labels"); n != config.end() && n->is_number_integer())
        return n->get<std::int64_t>();
    if (const auto m = config.find("id2label"); m != config.end() && m->is_object())
        return static_cast<std::int64_t>(m->size());
    return 2;
}

RewardModelSource folderSource(const fs::path& folder, const std::string& key)
{
    if (!fs::is_directory(folder))
        throw InputError(key + ": " + folder.string()
            + " is not a folder (expected a Hugging Face sequence-classification folder, or the id of a run "
              "trained with objective reward_model)");
    const fs::path file = folder / "config.json";
    const nlohmann::json config = readConfig(file, key);
    const std::string suffix = "ForSequenceClassification";
    std::string architecture;
    if (config.is_object() && config.contains("architectures") && config["architectures"].is_array()
        && !config["architectures"].empty() && config["architectures"][0].is_string())
        architecture = config["architectures"][0].get<std::string>();
    if (architecture.size() <= suffix.size()
        || architecture.compare(architecture.size() - suffix.size(), suffix.size(), suffix) != 0)
        throw InputError(key + ": " + file.string() + ": architectures is "
            + (architecture.empty() ? std::string("missing") : "'" + architecture + "'")
            + ", not a sequence-classification model (e.g. LlamaForSequenceClassification); export a reward_model "
              "run with tunebench-cli export --format sequence-classification");
    if (const std::int64_t labels = labelCount(config); labels != 1)
        throw InputError(key + ": " + file.string() + ": num_labels is " + std::to_string(labels)
            + "; a reward model has one output (num_labels 1)");
    RewardModelSource s;
    s.label = folder.string();
    s.modelFolder = folder;
    s.sequenceClassification = true;
    return s;
}

RewardModelSource runSource(const std::string& value, const fs::path& workspace, const std::string& key)
{
    const fs::path runDir = workspace / "runs" / value;
    const std::string label = "run " + value;
    if (!fs::is_directory(runDir))
        throw InputError(
            key + ": no " + label + " in workspace " + workspace.string() + " (no folder " + runDir.string() + ")");
    RewardModelSource s;
    s.label = label;
    s.adapterDir = runDir / "adapter";
    s.headFile = runDir / "objective.safetensors";
    if (!RunAdapterFiles::exists(s.adapterDir))
        throw InputError(key + ": " + label + " has no saved adapter in " + s.adapterDir.string()
            + " (it has not finished a training)");
    bool hasHead = false;
    if (fs::exists(s.headFile)) {
        try {
            hasHead = SafetensorsFile::open(s.headFile).contains(kHead);
        } catch (const InputError& e) {
            throw InputError(key + ": " + label + ": " + e.what());
        }
    }
    if (!hasHead)
        throw InputError(key + ": " + label + " was not trained with objective reward_model (" + s.headFile.string()
            + " holds no " + kHead + ")");
    s.modelFolder = RunAdapterFiles::read(s.adapterDir).model;
    if (s.modelFolder.empty() || !fs::is_directory(s.modelFolder))
        throw InputError(key + ": " + label + "'s base model folder '" + s.modelFolder.string()
            + "' (adapter_config.json: model) is not a folder");
    return s;
}

} // namespace

RewardModelSource resolveRewardModel(const std::string& value, const fs::path& workspace, const std::string& key)
{
    if (value.empty())
        throw InputError(key
            + ": required: the id of a run trained with objective reward_model, or a Hugging Face "
              "sequence-classification folder");
    if (value.find_first_not_of("0123456789") == std::string::npos) {
        if (workspace.empty())
            throw InputError(key + ": run id " + value + " needs a workspace (--workspace)");
        return runSource(value, workspace, key);
    }
    return folderSource(value, key);
}

void checkSameTokenizer(const fs::path& folder, const fs::path& policyFolder, const std::string& key)
{
    auto load = [&](const fs::path& dir, const char* whose) {
        try {
            return Tokenizer::fromFolder(dir);
        } catch (const InputError& e) {
            throw InputError(key + ": the " + whose + " tokenizer does not load: " + e.what());
        }
    };
    const Tokenizer mine = load(folder, "reward model's");
    const Tokenizer policy = load(policyFolder, "policy's");
    const std::string both = "the reward model's tokenizer (" + folder.string() + ") differs from the policy's ("
        + policyFolder.string() + ")";
    if (mine.vocabSize() != policy.vocabSize())
        throw InputError(key + ": " + both + ": " + std::to_string(mine.vocabSize()) + " tokens against "
            + std::to_string(policy.vocabSize()) + " (it scores the policy's completions token by token)");
    for (std::size_t id = 0; id < mine.vocabSize(); ++id) {
        const auto i = static_cast<std::int32_t>(id);
        if (mine.idToToken(i) != policy.idToToken(i))
            throw InputError(key + ": " + both + ": id " + std::to_string(id) + " is '" + mine.idToToken(i)
                + "' in the reward model, '" + policy.idToToken(i) + "' in the policy");
    }
}

RewardModelScorer::RewardModelScorer(
    const RewardModelSource& source, const PluginRegistry* plugins, const LoadOptions& options)
{
    m_model = source.sequenceClassification ? loadSequenceClassifierBase(source.modelFolder, options)
                                            : loadCausalLM(source.modelFolder, options);
    at::Tensor head;
    if (source.sequenceClassification) {
        const ModelWeights weights = ModelWeights::open(source.modelFolder);
        if (!weights.contains(kHead))
            throw InputError(source.label + ": the weights hold no " + std::string(kHead) + " (the scalar head)");
        head = weights.tensor(kHead);
    } else {
        if (!plugins)
            throw InputError(source.label + ": loading its adapter needs the plugins");
        m_adapter = loadRunAdapter(source.adapterDir, *m_model, *plugins, source.modelFolder);
        head = SafetensorsFile::open(source.headFile).tensor(kHead);
    }
    const std::int64_t hidden = m_model->config().hiddenSize;
    if (head.dim() != 2 || head.size(0) != 1 || head.size(1) != hidden)
        throw InputError(source.label + ": " + kHead + " has shape " + c10::str(head.sizes()) + ", expected [1, "
            + std::to_string(hidden) + "] (one output over the hidden size)");
    m_head = head.to(m_model->device(), at::kFloat).clone();
    m_model->setRequiresGrad(false);
}

RewardModelScorer::~RewardModelScorer() = default;

std::vector<double> RewardModelScorer::score(
    const std::vector<std::vector<std::int32_t>>& sequences, std::int64_t batchSize)
{
    const at::NoGradGuard noGrad;
    std::vector<double> out;
    out.reserve(sequences.size());
    const auto n = static_cast<std::int64_t>(sequences.size());
    for (std::int64_t first = 0; first < n; first += batchSize) {
        const std::int64_t rows = std::min(batchSize, n - first);
        std::int64_t length = 1;
        for (std::int64_t i = 0; i < rows; ++i)
            length = std::max<std::int64_t>(length, static_cast<std::int64_t>(sequences[first + i].size()));
        // Right padding: the last real token of a row is at (its length - 1), as the objective reads it.
        std::vector<std::int64_t> ids(static_cast<std::size_t>(rows * length), 0);
        std::vector<std::int64_t> mask(ids.size(), 0);
        std::vector<std::int64_t> last(static_cast<std::size_t>(rows), 0);
        for (std::int64_t i = 0; i < rows; ++i) {
            const auto& seq = sequences[static_cast<std::size_t>(first + i)];
            for (std::size_t t = 0; t < seq.size(); ++t) {
                ids[static_cast<std::size_t>(i * length) + t] = seq[t];
                mask[static_cast<std::size_t>(i * length) + t] = 1;
            }
            last[static_cast<std::size_t>(i)] = std::max<std::int64_t>(0, static_cast<std::int64_t>(seq.size()) - 1);
        }
        ForwardInput in;
        in.inputIds = at::tensor(ids, at::kLong).view({ rows, length }).to(m_model->device());
        in.attentionMask = at::tensor(mask, at::kLong).view({ rows, length }).to(m_model->device());
        in.deferLogits = true;
        in.outputHiddenStates = true;
        const ForwardOutput f = m_model->forward(in);
        const at::Tensor hidden = f.finalHidden.defined() ? f.finalHidden : f.hiddenStates.back(); // [B, T, H]
        const at::Tensor index
            = at::tensor(last, at::kLong).to(hidden.device()).view({ -1, 1, 1 }).expand({ -1, 1, hidden.size(2) });
        const at::Tensor picked = hidden.gather(1, index).squeeze(1).to(at::kFloat);
        const at::Tensor scores = at::matmul(picked, m_head.t()).squeeze(-1).to(at::kCPU, at::kDouble).contiguous();
        const double* p = scores.data_ptr<double>();
        out.insert(out.end(), p, p + rows);
    }
    return out;
}

} // namespace tunebench
