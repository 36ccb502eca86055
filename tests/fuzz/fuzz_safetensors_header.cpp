// libFuzzer target: the safetensors header parser on arbitrary bytes.
// Build and run: see tests/fuzz/CMakeLists.txt.

#include "safetensors_header_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkSafetensorsHeader(data, size);
    return 0;
}
