// Reward regex (format rewards): 1 when the pattern (ECMAScript syntax) matches the completion, else 0; with
// full_match the whole completion must match. The pattern is compiled once, when the run's configuration is read,
// so an invalid one stops the run before it starts.

#include "core/method/plugin_api.h"
#include "core/util/error.h"

#include <regex>

namespace {

using namespace tunebench;

class RegexReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override
    {
        const std::string pattern = params.at("pattern");
        if (pattern.empty())
            throw InputError("pattern: an empty pattern matches every completion; give the format to reward");
        try {
            m_regex = std::regex(pattern, std::regex::ECMAScript);
        } catch (const std::regex_error& e) {
            throw InputError("pattern: '" + pattern + "' is not a valid regular expression (" + e.what() + ")");
        }
        m_fullMatch = params.at("full_match");
    }
    double score(const std::string&, const std::string& completion, const nlohmann::json&) override
    {
        try {
            return (m_fullMatch ? std::regex_match(completion, m_regex) : std::regex_search(completion, m_regex)) ? 1.0
                                                                                                                  : 0.0;
        } catch (const std::regex_error&) {
            return 0.0; // too complex for this completion (std::regex's stack limit): no reward rather than a stop
        }
    }

private:
    std::regex m_regex;
    bool m_fullMatch = false;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "regex",
    "1.0.0",
    "reward",
    "1 when a regular expression matches the completion (format rewards)",
    R"json([
      {"name": "pattern", "type": "string", "default": null, "help": "an ECMAScript regular expression"},
      {"name": "full_match", "type": "boolean", "default": false,
       "help": "the whole completion must match, not just a part of it"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new RegexReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
