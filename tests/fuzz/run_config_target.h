// The fuzz entry point for run configurations (YAML or JSON, core/util/yaml_json, validated by
// TrainConfig::fromJson against the trainer's schema and a few plugins' schemas), shared by the
// libFuzzer binary (fuzz_run_config) and the regression test of the normal build
// (tests/train/test_config_fuzz_regressions.cpp, linked with the real plugin registry).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench {
class PluginRegistry;
}

namespace tunebench::fuzz {

enum class ConfigVerdict { Accepted, Rejected };

// Reads data as a config file's text. Every step may throw InputError only, with a message that names
// the file. What reads must write back: jsonToYaml of the parsed value reads back to the same value. A
// configuration that validates must validate again from its toJson() (what a run stores) to the same
// JSON. Anything else aborts with a message.
ConfigVerdict checkRunConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins);

} // namespace tunebench::fuzz
