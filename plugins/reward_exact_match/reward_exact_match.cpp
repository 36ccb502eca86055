// Reward exact_match: 1 when the completion, whitespace-trimmed, equals the record's answer (trimmed), else 0.
// A record without the answer field scores 0.

#include "core/method/plugin_api.h"
#include "core/reward/reward_text.h"
#include "core/util/text.h"

namespace {

using namespace tunebench;

class ExactMatchReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override { m_field = params.at("answer_field"); }
    double score(const std::string&, const std::string& completion, const nlohmann::json& fields) override
    {
        const auto answer = fieldText(fields, m_field);
        return answer && trimmed(*answer) == trimmed(completion) ? 1.0 : 0.0;
    }

private:
    std::string m_field;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "exact_match",
    "1.0.0",
    "reward",
    "1 when the completion (whitespace-trimmed) equals the record's answer",
    R"json([
      {"name": "answer_field", "type": "string", "default": "answer",
       "help": "the record field holding the expected answer"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new ExactMatchReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
