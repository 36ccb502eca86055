// The fuzz entry point for the safetensors header parser, shared by the
// libFuzzer binary (clang, tests/fuzz/CMakeLists.txt) and the deterministic
// mutation test of the normal build (tests/model/test_safetensors_fuzz.cpp).
#pragma once

#include <cstddef>
#include <cstdint>

namespace tunebench::fuzz {

enum class HeaderVerdict { Accepted, Rejected };

// Parses data as a whole safetensors file. Returns Rejected when the parser
// throws InputError, Accepted when it returns a header, after checking the
// header's invariants (tensors sorted, tiling the data region exactly, byte
// counts matching shapes, names indexed). Anything else is a bug and aborts
// with a message on stderr: another exception type, a broken invariant.
HeaderVerdict checkSafetensorsHeader(const std::uint8_t* data, std::size_t size);

} // namespace tunebench::fuzz
