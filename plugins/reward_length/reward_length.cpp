// Reward length: 1 at the target length, falling linearly with the relative distance from it,
// max(0, 1 - penalty * |length - target| / target). Length in Unicode characters (code points) or in
// whitespace-separated words.

#include "core/method/plugin_api.h"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace {

using namespace tunebench;

class LengthReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override
    {
        m_target = params.at("target");
        m_penalty = params.at("penalty");
        m_words = params.at("unit") == "words";
    }
    double score(const std::string&, const std::string& completion, const nlohmann::json&) override
    {
        std::int64_t length = 0;
        if (m_words) {
            std::istringstream in(completion);
            std::string w;
            while (in >> w)
                ++length;
        } else {
            for (unsigned char c : completion)
                length += (c & 0xC0) != 0x80 ? 1 : 0; // UTF-8 lead bytes: one per code point
        }
        const double off = std::abs(static_cast<double>(length - m_target)) / static_cast<double>(m_target);
        return std::max(0.0, 1.0 - m_penalty * off);
    }

private:
    std::int64_t m_target = 100;
    double m_penalty = 1.0;
    bool m_words = false;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "length",
    "1.0.0",
    "reward",
    "1 at a target length, less the further the completion is from it",
    R"json([
      {"name": "target", "type": "integer", "default": 100, "minimum": 1, "help": "the length that scores 1"},
      {"name": "penalty", "type": "number", "default": 1.0, "minimum": 0,
       "help": "reward lost per target length of distance (1: zero at 0 or at twice the target)"},
      {"name": "unit", "type": "choice", "choices": ["chars", "words"], "default": "chars",
       "help": "length in characters (code points) or whitespace-separated words"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new LengthReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
