// Reward json_valid: 1 when the completion (whitespace-trimmed, and without a ```json fence around it when
// allow_fence) is one valid JSON value, else 0; with require_object, only a JSON object counts.

#include "core/method/plugin_api.h"
#include "core/util/text.h"

namespace {

using namespace tunebench;

class JsonValidReward final : public Reward {
public:
    void configure(const nlohmann::json& params) override
    {
        m_allowFence = params.at("allow_fence");
        m_requireObject = params.at("require_object");
    }
    double score(const std::string&, const std::string& completion, const nlohmann::json&) override
    {
        std::string text = trimmed(completion);
        if (m_allowFence && text.rfind("```", 0) == 0 && text.size() >= 6
            && text.compare(text.size() - 3, 3, "```") == 0) {
            const std::size_t firstLine = text.find('\n');
            text = firstLine == std::string::npos ? std::string()
                                                  : text.substr(firstLine + 1, text.size() - 3 - firstLine - 1);
        }
        const nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (value.is_discarded())
            return 0.0;
        return !m_requireObject || value.is_object() ? 1.0 : 0.0;
    }

private:
    bool m_allowFence = true;
    bool m_requireObject = false;
};

const TunebenchPluginDescriptor kDescriptor {
    TUNEBENCH_PLUGIN_API_VERSION,
    "json_valid",
    "1.0.0",
    "reward",
    "1 when the completion is valid JSON",
    R"json([
      {"name": "allow_fence", "type": "boolean", "default": true,
       "help": "accept the JSON inside a ```json ... ``` fence"},
      {"name": "require_object", "type": "boolean", "default": false, "help": "only a JSON object counts"}
    ])json",
    nullptr,
    nullptr,
    nullptr,
    []() -> Reward* { return new JsonValidReward(); },
};

} // namespace

TUNEBENCH_PLUGIN(kDescriptor)
