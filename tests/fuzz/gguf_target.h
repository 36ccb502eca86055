// The fuzz entry point for the GGUF reader (core/export/gguf_file.h: header, metadata, tensor table),
// shared by the libFuzzer binary (fuzz_gguf) and the regression test of the normal build
// (tests/export/test_gguf_fuzz_regressions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench::fuzz {

enum class GgufVerdict { Accepted, Rejected };

// Writes data to a scratch file and reads it with gguf::File::read. Reading may throw InputError only,
// naming the file. A file that reads has version 3, unique tensor names, 1 to 4 dimensions each, offsets
// aligned, and every tensor's data inside the file; the values' accessors throw InputError only.
// Anything else aborts with a message.
GgufVerdict checkGguf(const std::uint8_t* data, std::size_t size);

} // namespace tunebench::fuzz
