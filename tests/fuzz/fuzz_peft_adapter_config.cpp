// libFuzzer target: a PEFT adapter_config.json, its fields checked as an import checks them.
// Build and run: scripts/fuzz --targets peft_adapter_config.

#include "peft_config_target.h"

#include "core/method/plugin_registry.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const tunebench::PluginRegistry plugins; // lookups from fuzz_plugin_registry.cpp
    tunebench::fuzz::checkPeftConfig(data, size, plugins);
    return 0;
}
