#include "chat_template_target.h"

#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>

namespace tunebench::fuzz {

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr const char* kOrigin = "fuzz.jinja";

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "chat template fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

const std::vector<ordered_json>& requests()
{
    static const std::vector<ordered_json> all = [] {
        std::vector<ordered_json> r;
        r.push_back(ordered_json::parse(R"({"messages": [{"role": "user", "content": "Hello!"}],
            "add_generation_prompt": true})"));
        r.push_back(ordered_json::parse(R"({"messages": [{"role": "system", "content": "Be terse."},
            {"role": "user", "content": "Hi <b>"}, {"role": "assistant", "content": "Hello.\n\n"},
            {"role": "user", "content": "Caf\u00e9 \ud83d\ude00"}], "add_generation_prompt": false})"));
        r.push_back(ordered_json::parse(R"({"messages": [{"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function":
            {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "{\"temp\": 21}"}], "add_generation_prompt": true,
            "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
            "enable_thinking": false})"));
        r.push_back(ordered_json::parse(R"({"messages": [{"role": "user", "content": [{"type": "text",
            "text": "Summarise"}]}], "add_generation_prompt": true,
            "documents": [{"title": "A", "text": "B"}]})"));
        return r;
    }();
    return all;
}

void checkNamed(const InputError& e)
{
    const std::string message = e.what();
    if (message.find(kOrigin) == std::string::npos)
        fail("error names no template", message);
}

} // namespace

TemplateVerdict checkChatTemplate(const std::uint8_t* data, std::size_t size)
{
    const std::string source(reinterpret_cast<const char*>(data), size);
    std::optional<ChatTemplate> tmpl;
    try {
        tmpl.emplace(source, kOrigin,
            ordered_json { { "bos_token", "<s>" }, { "eos_token", "</s>" }, { "pad_token", nullptr } });
    } catch (const InputError& e) {
        checkNamed(e);
        return TemplateVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception while parsing", e.what());
    } catch (...) {
        fail("unexpected exception while parsing", "not a std::exception");
    }
    // Tight bounds: a runaway template is a Limit error, quickly.
    jinja::RenderLimits limits;
    limits.maxOutputBytes = 1 << 20;
    limits.maxSteps = 200'000;
    limits.maxCallDepth = 40;
    tmpl->setLimits(limits);

    TemplateVerdict verdict = TemplateVerdict::Rejected;
    for (const ordered_json& request : requests()) {
        try {
            const std::string once = tmpl->renderRequest(request, "fuzz request");
            verdict = TemplateVerdict::Rendered;
            // strftime_now reads the clock; anything else renders the same every time.
            if (source.find("strftime") == std::string::npos && tmpl->renderRequest(request, "fuzz request") != once)
                fail("broken invariant", "two renderings of one request differ");
        } catch (const InputError& e) {
            const std::string message = e.what();
            if (message.find(kOrigin) == std::string::npos && message.find("fuzz request") == std::string::npos)
                fail("error names neither the template nor the request", message);
        } catch (const std::exception& e) {
            fail("unexpected exception while rendering", e.what());
        } catch (...) {
            fail("unexpected exception while rendering", "not a std::exception");
        }
    }
    try {
        (void)tmpl->render(ordered_json::array(), false);
    } catch (const InputError& e) {
        checkNamed(e);
    } catch (const std::exception& e) {
        fail("unexpected exception while rendering no messages", e.what());
    }
    return verdict;
}

} // namespace tunebench::fuzz
