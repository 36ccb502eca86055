#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench::jinja {

// Python's str methods over UTF-8 text, with Python's results: indices and widths
// count code points, whitespace is Unicode whitespace, case mappings are full.
// Errors (an empty separator, a missing substring for index()) throw RuntimeProblem.

// chars: the set of code points to strip; nullopt strips whitespace.
std::string pyStrip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// sep nullopt: split on runs of whitespace. maxsplit < 0: no limit.
std::vector<std::string> pySplit(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit);
std::vector<std::string> pyRSplit(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit);
std::vector<std::string> pySplitlines(std::string_view s, bool keepends);
// count < 0: replace all. Refuses a result longer than maxSize bytes.
std::string pyReplace(
    std::string_view s, std::string_view old, std::string_view replacement, std::int64_t count, std::size_t maxSize);
// Code point index of sub within s[start:end], or -1; reverse searches from the right.
std::int64_t pyFind(std::string_view s, std::string_view sub, std::optional<std::int64_t> start,
    std::optional<std::int64_t> end, bool reverse);
std::int64_t pyCount(
    std::string_view s, std::string_view sub, std::optional<std::int64_t> start, std::optional<std::int64_t> end);
bool pyStartsWith(std::string_view s, std::string_view prefix, std::optional<std::int64_t> start,
    std::optional<std::int64_t> end, bool atEnd);
// align: '<' ljust, '>' rjust, '^' center (Python's center puts the odd pad as str.center does).
std::string pyPad(std::string_view s, std::int64_t width, char32_t fill, char align);
std::string pyZfill(std::string_view s, std::int64_t width);

std::string pyUpper(std::string_view s);
std::string pyLower(std::string_view s);
std::string pyTitle(std::string_view s);
std::string pyCapitalize(std::string_view s);
std::string pySwapcase(std::string_view s);
// Full Unicode case folding (str.casefold()).
std::string pyCasefold(std::string_view s);

enum class CharClass { Space, Alpha, Alnum, Digit, Numeric, Ascii, Lower, Upper, Title };
// str.isspace() and friends (false for an empty string except isascii).
bool pyIs(std::string_view s, CharClass cls);

} // namespace tunebench::jinja
