#pragma once

#include <string>
#include <string_view>

namespace tunebench::jinja {

// Python's str operations need code points: templates index, slice, measure and
// case-map strings the way Python does, while the interpreter keeps UTF-8.

// Code points of valid UTF-8; throws InputError naming `what` on invalid bytes.
std::u32string decodeUtf8(std::string_view text, std::string_view what = "text");
void appendUtf8(std::string& out, char32_t cp);
std::string encodeUtf8(std::u32string_view text);
// Number of code points (the text is known to be valid UTF-8).
std::size_t codePointCount(std::string_view text);

// str.isspace() for one code point (Unicode White_Space plus the ASCII
// separators Python counts: \x1c-\x1f).
bool isPythonSpace(char32_t cp);
// str.isprintable() for one code point (what repr() leaves unescaped).
bool isPythonPrintable(char32_t cp);
bool isCased(char32_t cp);
bool isLowercase(char32_t cp);
bool isUppercase(char32_t cp);
bool isAlpha(char32_t cp);
bool isDecimalDigit(char32_t cp);
bool isNumericChar(char32_t cp);

// Full case mappings as Python's str methods apply them (SpecialCasing
// expansions such as 'ß'.upper() == 'SS'; final sigma in lower()).
std::u32string pythonUpper(std::u32string_view text);
std::u32string pythonLower(std::u32string_view text);
std::u32string pythonTitle(std::u32string_view text);
std::u32string pythonCapitalize(std::u32string_view text);
std::u32string pythonSwapcase(std::u32string_view text);

// str.strip()/lstrip()/rstrip() with no argument: Python whitespace.
std::string stripPythonSpace(std::string_view text, bool left, bool right);

} // namespace tunebench::jinja
