// libFuzzer target: a run configuration's text (YAML or JSON), read and validated as TrainConfig.
// Build and run: scripts/fuzz --targets run_config.

#include "run_config_target.h"

#include "core/method/plugin_registry.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const tunebench::PluginRegistry plugins; // lookups from fuzz_plugin_registry.cpp
    tunebench::fuzz::checkRunConfig(data, size, plugins);
    return 0;
}
