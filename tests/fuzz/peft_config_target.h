// PEFT adapter_config.json as an import reads it: peftAdapterData (core/export/peft_adapter.h) asks the
// plugins of its peft_type, whose fromPeft checks their own fields, against a tiny Llama (target_modules
// patterns). It needs the plugins and LibTorch, so it runs in the normal build only (test_fuzz_regressions),
// not under libFuzzer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench {
class PluginRegistry;
}

namespace tunebench::fuzz {

enum class PeftVerdict { Accepted, Rejected };

// Reads data as adapter_config.json's text and maps it as an import would, without tensors. Rejected: not a
// JSON object, or an InputError naming the file; accepted: taken by a plugin of that PEFT type with
// parameters resolved against its schema. Anything else aborts with a message.
PeftVerdict checkPeftConfig(const std::uint8_t* data, std::size_t size, const PluginRegistry& plugins);

} // namespace tunebench::fuzz
