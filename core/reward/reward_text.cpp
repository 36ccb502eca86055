#include "core/reward/reward_text.h"

#include <array>
#include <cstdint>
#include <cstdlib>

namespace tunebench {

namespace {

// Decodes the UTF-8 sequence at text[i]; returns its code point and length, or (byte, 1) for an invalid one.
std::pair<std::uint32_t, std::size_t> decodeAt(const std::string& text, std::size_t i)
{
    const auto b0 = static_cast<unsigned char>(text[i]);
    auto cont = [&](std::size_t k) {
        return i + k < text.size() && (static_cast<unsigned char>(text[i + k]) & 0xC0) == 0x80;
    };
    auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(text[i + k]) & 0x3F); };
    if (b0 >= 0xC2 && b0 < 0xE0 && cont(1))
        return { ((b0 & 0x1Fu) << 6) | at(1), 2 };
    if (b0 >= 0xE0 && b0 < 0xF0 && cont(1) && cont(2))
        return { ((b0 & 0x0Fu) << 12) | (at(1) << 6) | at(2), 3 };
    if (b0 >= 0xF0 && b0 < 0xF5 && cont(1) && cont(2) && cont(3))
        return { ((b0 & 0x07u) << 18) | (at(1) << 12) | (at(2) << 6) | at(3), 4 };
    return { b0, 1 };
}

// The ASCII character a code point stands for in a number, or 0.
char asciiFor(std::uint32_t cp)
{
    static constexpr std::array<std::uint32_t, 5> kZeros = { 0x0660, 0x06F0, 0x0966, 0x09E6, 0xFF10 };
    for (std::uint32_t zero : kZeros) {
        if (cp >= zero && cp <= zero + 9)
            return static_cast<char>('0' + (cp - zero));
    }
    switch (cp) {
    case 0xFF0E:
    case 0x066B:
        return '.';
    case 0xFF0C:
    case 0x066C:
        return ',';
    case 0xFF0D:
    case 0x2212:
        return '-';
    default:
        return 0;
    }
}

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

// How many digits follow one another from position i.
std::size_t digitsFrom(const std::string& text, std::size_t i)
{
    std::size_t n = 0;
    while (i + n < text.size() && isDigit(text[i + n]))
        ++n;
    return n;
}

} // namespace

std::string normalizeDigits(const std::string& text)
{
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size();) {
        const auto [cp, length] = decodeAt(text, i);
        const char ascii = length > 1 ? asciiFor(cp) : 0;
        if (ascii)
            out.push_back(ascii);
        else
            out.append(text, i, length);
        i += length;
    }
    return out;
}

std::optional<double> lastNumber(const std::string& raw)
{
    const std::string text = normalizeDigits(raw);
    std::size_t end = text.size();
    while (end > 0 && !isDigit(text[end - 1]))
        --end;
    if (end == 0)
        return std::nullopt;
    // Walk back over the number: digits, one decimal point, and ',' only between a digit and three digits.
    std::size_t begin = end;
    bool sawPoint = false;
    while (begin > 0) {
        const char c = text[begin - 1];
        if (isDigit(c)) {
            --begin;
        } else if (c == '.' && !sawPoint && begin >= 2 && isDigit(text[begin - 2])) {
            sawPoint = true;
            --begin;
        } else if (c == ',' && begin >= 2 && isDigit(text[begin - 2]) && digitsFrom(text, begin) == 3) {
            --begin;
        } else {
            break;
        }
    }
    std::string number;
    if (begin > 0 && text[begin - 1] == '-')
        number.push_back('-');
    for (std::size_t i = begin; i < end; ++i) {
        if (text[i] != ',')
            number.push_back(text[i]);
    }
    return std::strtod(number.c_str(), nullptr);
}

std::optional<std::string> fieldText(const nlohmann::json& fields, const std::string& name)
{
    if (!fields.is_object())
        return std::nullopt;
    const auto it = fields.find(name);
    if (it == fields.end())
        return std::nullopt;
    if (it->is_string())
        return it->get<std::string>();
    if (it->is_number())
        return it->dump();
    return std::nullopt;
}

} // namespace tunebench
