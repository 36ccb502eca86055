#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;

// What a reward may need to know about the run besides its parameters: rewards that hold a model (reward_model)
// check it against the trained model's tokenizer and find other runs through the workspace.
struct RewardContext {
    std::filesystem::path policyModel; // the trained model's folder; empty when not known
    std::filesystem::path workspace; // the workspace root; empty when the configuration is read outside one
    std::string device = "cpu"; // where the run trains ("cpu", "cuda:0")
    const PluginRegistry* plugins = nullptr; // the run's plugins (a reward model run's adapter plugin)
};

// One completion to score: its prompt (as the model was prompted), its text and the prompt's record.
struct RewardItem {
    const std::string& prompt;
    const std::string& completion;
    const nlohmann::json& fields;
};

// A reward function for online objectives (GRPO): scores one sampled completion. Implemented by reward plugins;
// a run lists several with weights (`rewards:` in the run configuration).
class Reward {
public:
    virtual ~Reward() = default;
    // Called once with the plugin's resolved parameters, before any score(). Refuses what cannot work (an invalid
    // pattern ...) with an InputError naming the parameter, so a run fails when its configuration is read.
    virtual void configure(const nlohmann::json& params) = 0;
    // Called after configure(): when the configuration is read (with what is known then) and once more before the
    // run scores. Refuses what does not fit the run (a missing model, another tokenizer) with an InputError naming
    // the parameter. Heavy work (loading a model) is left to the first score.
    virtual void prepare(const RewardContext& context) { (void)context; }
    // The completion's reward. `fields` is the prompt's record (its `answer` and any other field the dataset has).
    // Called on the training thread only.
    virtual double score(const std::string& prompt, const std::string& completion, const nlohmann::json& fields) = 0;
    // The rewards of a generation batch's completions, in order; rewards that run a model score them together.
    virtual std::vector<double> scoreBatch(const std::vector<RewardItem>& items)
    {
        std::vector<double> out;
        out.reserve(items.size());
        for (const RewardItem& item : items)
            out.push_back(score(item.prompt, item.completion, item.fields));
        return out;
    }
};

} // namespace tunebench
