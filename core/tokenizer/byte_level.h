#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tunebench::byte_level {

// GPT-2's reversible map from bytes to printable characters: the printable
// Latin-1 bytes stand for themselves, the other 68 bytes become U+0100..U+0143
// in byte order. Byte-level BPE vocabularies are written in this alphabet.

// The UTF-8 of the character standing for `byte`.
std::string_view charFor(std::uint8_t byte);
// The byte a character stands for, or nullopt for a character outside the alphabet.
std::optional<std::uint8_t> byteFor(char32_t cp);
// Every byte of `bytes` replaced by its character.
std::string encode(std::string_view bytes);

} // namespace tunebench::byte_level
