// A run's reward functions: the `rewards` list of a run configuration, checked against the reward plugins, and the
// configured instances that score completions.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;
class Reward;
struct RewardContext;

// One entry of `rewards: [{type: numeric, weight: 1.0}, {type: regex, pattern: "...", weight: 0.2, name: fmt}]`.
struct RewardSpec {
    std::string type; // the reward plugin
    std::string name; // what its metric is called (rewards/<name>); default: the type, numbered when repeated
    double weight = 1.0;
    nlohmann::json params = nlohmann::json::object(); // resolved by the plugin's schema
};

// Checks a `rewards` value: a list of mappings, each with a known reward `type`, a finite `weight`, an optional
// unique `name`, and the plugin's parameters (schema-checked; the plugin is configured once, so an invalid pattern
// is refused here), then prepared with `context` when given (a reward model's files and tokenizer are checked).
// Throws InputError "<source>: rewards[i].<key>: ..." naming the entry and key at fault.
std::vector<RewardSpec> parseRewards(const nlohmann::json& list, const PluginRegistry& plugins,
    const std::string& source, const RewardContext* context = nullptr);

// The specs as written to a stored configuration (parseRewards reads it back).
nlohmann::json rewardsToJson(const std::vector<RewardSpec>& specs);

// The configured rewards of a run; used on one thread.
class RewardSet {
public:
    // Configures each reward and prepares it with the run's context.
    RewardSet(const std::vector<RewardSpec>& specs, const PluginRegistry& plugins, const RewardContext& context);
    ~RewardSet();
    RewardSet(RewardSet&&) noexcept;
    RewardSet& operator=(RewardSet&&) noexcept;

    std::size_t size() const { return m_entries.size(); }
    const std::string& name(std::size_t i) const { return m_entries[i].name; }
    double weight(std::size_t i) const { return m_entries[i].weight; }

    // Each reward's score of the completion, in list order. A reward that throws or returns a non-finite number
    // scores 0 there: one odd completion must not end a run.
    std::vector<double> score(const std::string& prompt, const std::string& completion, const nlohmann::json& fields);
    // score() of every completion of a batch ([completion][reward]), each reward scoring them together. A reward
    // whose batch throws is asked for each completion alone, and scores 0 where that throws too.
    std::vector<std::vector<double>> scoreBatch(const std::vector<std::string>& prompts,
        const std::vector<std::string>& completions, const std::vector<const nlohmann::json*>& fields);
    // The weighted sum of score()'s values.
    double total(const std::vector<double>& scores) const;

private:
    struct Entry {
        std::string name;
        double weight;
        std::unique_ptr<Reward> reward;
    };
    std::vector<Entry> m_entries;
};

} // namespace tunebench
