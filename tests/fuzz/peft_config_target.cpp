#include "peft_config_target.h"

#include "core/conformance/adapter_conformance.h"
#include "core/export/peft_adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/util/error.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

namespace tunebench::fuzz {

namespace {

constexpr const char* kLabel = "fuzz/adapter_config.json";

[[noreturn]] void fail(const char* what, const std::string& detail)
{
    std::fprintf(stderr, "peft config fuzz: %s: %s\n", what, detail.c_str());
    std::abort();
}

const CausalLM& model()
{
    static const std::unique_ptr<CausalLM> m = conformanceModel("llama");
    return *m;
}

} // namespace

PeftVerdict checkPeftConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins)
{
    const std::string text(reinterpret_cast<const char*>(data), size);
    const nlohmann::json config = nlohmann::json::parse(text, nullptr, false);
    if (config.is_discarded() || !config.is_object())
        return PeftVerdict::Rejected; // readPeftAdapter refuses it naming the file, before any field is read
    try {
        const PeftAdapterData r = peftAdapterData(config, {}, model(), plugins, kLabel);
        const PluginInfo* plugin = plugins.find(PluginKind::Adapter, r.adapter);
        if (!plugin || plugin->peftType != r.peftType)
            fail("broken invariant", "taken by '" + r.adapter + "', which has no " + r.peftType + " form");
        if (!r.params.is_object())
            fail("broken invariant", "parameters that are not an object");
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
