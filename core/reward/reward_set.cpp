#include "core/reward/reward_set.h"

#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/util/error.h"

#include <cmath>
#include <map>
#include <set>

namespace tunebench {

namespace {

std::unique_ptr<Reward> configured(const PluginRegistry& plugins, const RewardSpec& spec, const RewardContext* context)
{
    std::unique_ptr<Reward> reward = plugins.createReward(spec.type);
    reward->configure(spec.params);
    if (context) {
        RewardContext withPlugins = *context;
        withPlugins.plugins = &plugins;
        reward->prepare(withPlugins);
    }
    return reward;
}

double finiteOrZero(double v)
{
    return std::isfinite(v) ? v : 0.0;
}

} // namespace

std::vector<RewardSpec> parseRewards(
    const nlohmann::json& list, const PluginRegistry& plugins, const std::string& source, const RewardContext* context)
{
    if (!list.is_array())
        throw InputError(source + ": rewards: expected a list of reward functions ({type: ..., weight: ...}), got "
            + std::string(list.type_name()));
    std::vector<RewardSpec> specs;
    std::map<std::string, int> typeCount;
    for (const auto& entry : list) {
        if (entry.is_object() && entry.contains("type") && entry["type"].is_string() && !entry.contains("name"))
            ++typeCount[entry["type"].get<std::string>()];
    }
    std::map<std::string, int> typeSeen;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list.size(); ++i) {
        const std::string where = source + ": rewards[" + std::to_string(i) + "]";
        const nlohmann::json& entry = list[i];
        if (!entry.is_object())
            throw InputError(
                where + ": expected a mapping {type: ..., weight: ...}, got " + std::string(entry.type_name()));
        nlohmann::json rest = entry;
        RewardSpec spec;
        const auto type = rest.find("type");
        if (type == rest.end() || !type->is_string())
            throw InputError(where + ".type: required, the reward function's name (e.g. numeric, regex, exact_match)");
        spec.type = type->get<std::string>();
        rest.erase("type");
        const PluginInfo* info = plugins.find(PluginKind::Reward, spec.type);
        if (!info) {
            try {
                plugins.require(PluginKind::Reward, spec.type);
            } catch (const InputError& e) {
                throw InputError(where + ".type: " + e.what());
            }
        }
        if (const auto w = rest.find("weight"); w != rest.end()) {
            if (!w->is_number() || !std::isfinite(w->get<double>()))
                throw InputError(where + ".weight: expected a number, got " + w->dump());
            spec.weight = w->get<double>();
            rest.erase("weight");
        }
        if (const auto n = rest.find("name"); n != rest.end()) {
            if (!n->is_string() || n->get<std::string>().empty()
                || n->get<std::string>().find_first_of("/ \t\n") != std::string::npos)
                throw InputError(where + ".name: expected a word without spaces or '/', got " + n->dump());
            spec.name = n->get<std::string>();
            rest.erase("name");
        } else {
            spec.name = spec.type;
            if (typeCount[spec.type] > 1)
                spec.name += "_" + std::to_string(++typeSeen[spec.type]);
        }
        if (!names.insert(spec.name).second)
            throw InputError(where + ".name: '" + spec.name + "' names an earlier reward too; give each a unique name");
        spec.params = info->schema.resolve(rest, where);
        if (!rest.empty())
            throw InputError(where + ": unknown key '" + rest.begin().key() + "' (not a parameter of reward '"
                + spec.type + "'; see tunebench-cli plugins show " + spec.type + ")");
        try {
            configured(plugins, spec, context);
        } catch (const InputError& e) {
            throw InputError(where + "." + e.what());
        }
        specs.push_back(std::move(spec));
    }
    return specs;
}

nlohmann::json rewardsToJson(const std::vector<RewardSpec>& specs)
{
    nlohmann::json out = nlohmann::json::array();
    for (const RewardSpec& s : specs) {
        nlohmann::json e = s.params;
        e["type"] = s.type;
        e["name"] = s.name;
        e["weight"] = s.weight;
        out.push_back(std::move(e));
    }
    return out;
}

RewardSet::RewardSet(const std::vector<RewardSpec>& specs, const PluginRegistry& plugins, const RewardContext& context)
{
    for (const RewardSpec& s : specs) {
        try {
            m_entries.push_back({ s.name, s.weight, configured(plugins, s, &context) });
        } catch (const InputError& e) {
            throw InputError("rewards: " + s.name + "." + e.what());
        }
    }
}

RewardSet::~RewardSet() = default;
RewardSet::RewardSet(RewardSet&&) noexcept = default;
RewardSet& RewardSet::operator=(RewardSet&&) noexcept = default;

std::vector<double> RewardSet::score(
    const std::string& prompt, const std::string& completion, const nlohmann::json& fields)
{
    std::vector<double> out;
    out.reserve(m_entries.size());
    for (Entry& e : m_entries) {
        double v = 0;
        try {
            v = e.reward->score(prompt, completion, fields);
        } catch (const std::exception&) {
            v = 0;
        }
        out.push_back(std::isfinite(v) ? v : 0.0);
    }
    return out;
}

std::vector<std::vector<double>> RewardSet::scoreBatch(const std::vector<std::string>& prompts,
    const std::vector<std::string>& completions, const std::vector<const nlohmann::json*>& fields)
{
    const std::size_t n = completions.size();
    std::vector<std::vector<double>> out(n, std::vector<double>(m_entries.size(), 0.0));
    std::vector<RewardItem> items;
    items.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        items.push_back({ prompts[i], completions[i], *fields[i] });
    for (std::size_t k = 0; k < m_entries.size(); ++k) {
        Reward& reward = *m_entries[k].reward;
        std::vector<double> scores;
        try {
            scores = reward.scoreBatch(items);
        } catch (const std::exception&) {
            scores.clear();
        }
        if (scores.size() != n) {
            scores.assign(n, 0.0);
            for (std::size_t i = 0; i < n; ++i) {
                try {
                    scores[i] = reward.score(prompts[i], completions[i], *fields[i]);
                } catch (const std::exception&) {
                    scores[i] = 0;
                }
            }
        }
        for (std::size_t i = 0; i < n; ++i)
            out[i][k] = finiteOrZero(scores[i]);
    }
    return out;
}

double RewardSet::total(const std::vector<double>& scores) const
{
    double t = 0;
    for (std::size_t i = 0; i < scores.size() && i < m_entries.size(); ++i)
        t += m_entries[i].weight * scores[i];
    return t;
}

} // namespace tunebench
