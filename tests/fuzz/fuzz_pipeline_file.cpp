// libFuzzer target: a pipeline file's text (YAML or JSON), read and its stages validated as TrainConfig.
// Build and run: scripts/fuzz --targets pipeline_file.

#include "pipeline_file_target.h"

#include "core/method/plugin_registry.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const tunebench::PluginRegistry plugins; // lookups from fuzz_plugin_registry.cpp
    tunebench::fuzz::checkPipelineFile(data, size, plugins);
    return 0;
}
