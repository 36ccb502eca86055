#include "peft_config_target.h"

#include "core/export/peft_config.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace tunebench::fuzz {

namespace {

constexpr const char* kLabel = "fuzz/adapter_config.json";

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "peft config fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

} // namespace

PeftVerdict checkPeftConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const nlohmann::json config = parsePeftConfigText(text, kLabel);
        PeftConfigFields fields;
        const nlohmann::json params = resolvePeftConfig(config, kLabel, plugins, &fields);
        if (!params.is_object())
            fail("broken invariant", "parameters that are not an object");
        const std::string& a = fields.adapter;
        if (a != "lora" && a != "dora" && a != "ia3" && a != "prompt_tuning" && a != "prefix_tuning")
            fail("broken invariant", "adapter '" + a + "'");
        return PeftVerdict::Accepted;
    } catch (const InputError& e) {
        if (std::string(e.what()).find(kLabel) == std::string::npos)
            fail("error names no file", e.what());
        return PeftVerdict::Rejected;
    } catch (const std::exception& e) {
        fail("unexpected exception", e.what());
    } catch (...) {
        fail("unexpected exception", "not a std::exception");
    }
}

} // namespace tunebench::fuzz
