#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tunebench::unicode {

// UTF-8 and character-class helpers shared by the tokenizer's components.
// Everything here works on valid UTF-8 unless a function says otherwise:
// the tokenizer validates its input once, at the door.

// Offset of the first byte that is not part of well-formed UTF-8 (overlongs,
// surrogates and code points above U+10FFFF count as ill-formed), or nullopt.
std::optional<std::size_t> firstInvalidUtf8(std::string_view text);

// Decodes the code point starting at text[pos] of valid UTF-8 and advances pos.
char32_t nextCodePoint(std::string_view text, std::size_t& pos);
// Byte length of the UTF-8 sequence whose lead byte is `lead` (1 for a stray byte).
std::size_t sequenceLength(unsigned char lead);
void appendUtf8(std::string& out, char32_t cp);

// Converts arbitrary bytes to UTF-8 the way Rust's String::from_utf8_lossy does:
// each maximal ill-formed subpart becomes one U+FFFD.
std::string fromUtf8Lossy(std::string_view bytes);

// The Unicode White_Space property (what Rust's char::is_whitespace and
// Oniguruma's \s test), not JavaScript's \s (which adds U+FEFF and drops U+0085).
bool isWhiteSpace(char32_t cp);
// Rust regex's \w: letters, marks, decimal and letter numbers, connector punctuation.
bool isWordChar(char32_t cp);
// Rust's char::is_numeric: general categories Nd, Nl, No.
bool isNumeric(char32_t cp);

} // namespace tunebench::unicode
