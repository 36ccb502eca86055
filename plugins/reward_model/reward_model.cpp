// Reward reward_model: a trained reward model's scalar output for prompt + completion. The model is a run trained
// with objective reward_model (its id in the workspace) or a Hugging Face sequence-classification folder
// (tunebench-cli export --format sequence-classification writes one); it must share the policy's tokenizer. The
// prompt (as the policy was prompted, with the tokenizer's special tokens) and the completion after it are scored
// as TRL's GRPOTrainer scores with a reward model: no EOS is appended (the completion's own was cut off), so the
// reward is the final hidden state of the completion's last token through the head, and transformers reads the
// same token of an exported folder (the last one that is not pad_token_id). Loaded once, at the first batch; a
// generation batch is scored batch_size sequences per forward pass (core/reward/reward_model_scorer.h).

#include "core/method/plugin_api.h"
#include "core/reward/reward_model_scorer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <optional>

namespace {

using namespace tunebench;

class RewardModelReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override
    {
        m_model = params.at("model");
        m_batchSize = params.at("batch_size");
        if (m_model.empty())
            throw InputError("model: required: the id of a run trained with objective reward_model, or a Hugging Face "
                             "sequence-classification folder");
    }

    void prepare(const RewardContext& context) override
    {
        const bool isRun = m_model.find_first_not_of("0123456789") == std::string::npos;
        // A run id is checked once the workspace is known (when the run starts).
        if (isRun && context.workspace.empty())
            return;
        m_source = resolveRewardModel(m_model, context.workspace, "model");
        if (!context.policyModel.empty())
            checkSameTokenizer(m_source->modelFolder, context.policyModel, "model");
        m_plugins = context.plugins;
        m_device = context.device;
        m_scorer.reset();
    }

    double score(const std::string& prompt, const std::string& completion, const nlohmann::json& fields) override
    {
        return scoreBatch({ RewardItem { prompt, completion, fields } }).at(0);
    }

    std::vector<double> scoreBatch(const std::vector<RewardItem>& items) override
    {
        if (!m_source)
            throw InputError("model: reward model " + m_model + " was not prepared with the run's workspace");
        if (!m_scorer) {
            LoadOptions load;
            load.device = at::Device(m_device);
            m_scorer.emplace(*m_source, m_plugins, load);
            m_tokenizer.emplace(Tokenizer::fromFolder(m_source->modelFolder));
        }
        std::vector<std::vector<std::int32_t>> sequences;
        sequences.reserve(items.size());
        for (const RewardItem& item : items) {
            std::vector<std::int32_t> ids = m_tokenizer->encode(item.prompt, /*addSpecialTokens=*/true);
            const std::vector<std::int32_t> completion = m_tokenizer->encode(item.completion);
            ids.insert(ids.end(), completion.begin(), completion.end());
            if (ids.empty())
                ids.push_back(0);
            sequences.push_back(std::move(ids));
        }
        return m_scorer->score(sequences, m_batchSize);
    }

private:
    std::string m_model;
    std::int64_t m_batchSize = 8;
    std::string m_device = "cpu";
    const PluginRegistry* m_plugins = nullptr;
    std::optional<RewardModelSource> m_source;
    std::optional<RewardModelScorer> m_scorer;
    std::optional<Tokenizer> m_tokenizer;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "reward_model",
    "1.0.0",
    "reward",
    "a trained reward model's score of prompt + completion (a reward_model run or a sequence-classification folder)",
    R"json([
      {"name": "model", "type": "string", "default": "",
       "help": "the id of a run trained with objective reward_model, or a Hugging Face sequence-classification folder"},
      {"name": "batch_size", "type": "integer", "default": 8, "minimum": 1, "maximum": 4096,
       "help": "completions scored per forward pass of the reward model"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new RewardModelReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
