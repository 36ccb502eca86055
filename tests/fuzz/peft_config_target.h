// The fuzz entry point for PEFT adapter_config.json (core/export/peft_config.h: the field checks of an
// import, without a model), shared by the libFuzzer binary (fuzz_peft_adapter_config) and the regression
// test of the normal build (tests/export/test_fuzz_regressions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench {
class PluginRegistry;
}

namespace tunebench::fuzz {

enum class PeftVerdict { Accepted, Rejected };

// Reads data as adapter_config.json's text and checks it as an import would up to matching the model's
// layers. May throw InputError only, naming the file; an accepted config maps to a known plugin whose
// resolved parameters are an object. Anything else aborts with a message.
PeftVerdict checkPeftConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins);

} // namespace tunebench::fuzz
