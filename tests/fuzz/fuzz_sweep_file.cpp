// libFuzzer target: a sweep file's text (YAML or JSON), read, expanded and its runs validated.
// Build and run: scripts/fuzz --targets sweep_file.

#include "sweep_file_target.h"

#include "core/method/plugin_registry.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    static const tunebench::PluginRegistry plugins; // lookups from fuzz_plugin_registry.cpp
    tunebench::fuzz::checkSweepFile(data, size, plugins);
    return 0;
}
