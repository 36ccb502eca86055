// libFuzzer target: a GGUF file's header, metadata and tensor table.
// Build and run: scripts/fuzz --targets gguf.

#include "gguf_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkGguf(data, size);
    return 0;
}
