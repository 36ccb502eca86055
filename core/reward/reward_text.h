// Text helpers the built-in reward plugins share: reading numbers out of model output.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace tunebench {

// The text with every decimal digit of another script as its ASCII digit: Arabic-Indic (U+0660-0669), Extended
// Arabic-Indic (U+06F0-06F9), Devanagari (U+0966-096F), Bengali (U+09E6-09EF) and full-width (U+FF10-FF19) digits;
// also the full-width full stop, comma and hyphen-minus, the Arabic decimal and thousands separators (U+066B,
// U+066C) and the minus sign (U+2212) as '.', ',', '-'. Other text is kept byte for byte (invalid UTF-8 too).
std::string normalizeDigits(const std::string& text);

// The last number in the text (after normalizeDigits): an optional '-' directly before it, digits with optional
// ',' thousands groups of three ("1,234"), an optional decimal part. nullopt when the text holds no digit.
std::optional<double> lastNumber(const std::string& text);

// A record field as text: a string as is, a number as the shortest text that reads back as it, anything else (or
// a missing field) nullopt.
std::optional<std::string> fieldText(const nlohmann::json& fields, const std::string& name);

} // namespace tunebench
