// Reward numeric: 1 when the last number in the completion is within `tolerance` of the record's answer (its last
// number too, so "#### 42" answers work), else 0; 0 when either holds no number. Digits of other scripts
// (Arabic-Indic, Devanagari, full-width ...) count as their ASCII digits and "1,234" as 1234 (reward_text.h).

#include "core/method/plugin_api.h"
#include "core/reward/reward_text.h"

#include <cmath>

namespace {

using namespace tunebench;

class NumericReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override
    {
        m_field = params.at("answer_field");
        m_tolerance = params.at("tolerance");
    }
    double score(const std::string&, const std::string& completion, const nlohmann::json& fields) override
    {
        const auto answerText = fieldText(fields, m_field);
        if (!answerText)
            return 0.0;
        const auto answer = lastNumber(*answerText);
        const auto got = lastNumber(completion);
        return answer && got && std::abs(*got - *answer) <= m_tolerance ? 1.0 : 0.0;
    }

private:
    std::string m_field;
    double m_tolerance = 1e-6;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "numeric",
    "1.0.0",
    "reward",
    "1 when the last number in the completion is within tolerance of the record's answer",
    R"json([
      {"name": "answer_field", "type": "string", "default": "answer",
       "help": "the record field holding the expected number"},
      {"name": "tolerance", "type": "number", "default": 1e-6, "minimum": 0,
       "help": "the largest absolute difference that still counts as correct"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new NumericReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
