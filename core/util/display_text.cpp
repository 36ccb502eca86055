#include "core/util/display_text.h"

#include <cstdint>
#include <cstdio>

namespace tunebench {

namespace {

void appendHex(std::string& out, const char* format, unsigned value)
{
    char buffer[16];
    std::snprintf(buffer, sizeof buffer, format, value);
    out += buffer;
}

bool isBidiControl(std::uint32_t cp)
{
    return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

// Length of the valid UTF-8 sequence at s[i] and its code point, or 0 where
// the bytes are not UTF-8 (overlong forms and surrogates included).
std::size_t decode(std::string_view s, std::size_t i, std::uint32_t& cp)
{
    const auto b0 = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (b0 < 0x80) {
        cp = b0;
        return 1;
    }
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 2;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 3;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 4;
        cp = b0 & 0x07;
    } else {
        return 0;
    }
    if (i + n > s.size())
        return 0;
    for (std::size_t k = 1; k < n; ++k) {
        const auto b = static_cast<unsigned char>(s[i + k]);
        if ((b & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (b & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

} // namespace

std::string escapeControls(std::string_view s, bool keepNewlines)
{
    std::string out;
    out.reserve(s.size());
    std::size_t i = 0;
    while (i < s.size()) {
        std::uint32_t cp = 0;
        const std::size_t n = decode(s, i, cp);
        if (n == 0) {
            appendHex(out, "\\x%02x", static_cast<unsigned char>(s[i]));
            ++i;
            continue;
        }
        if (cp == '\t' || (cp == '\n' && keepNewlines))
            out += static_cast<char>(cp);
        else if (cp == '\n')
            out += "\\n";
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F))
            appendHex(out, "\\x%02x", cp);
        else if (isBidiControl(cp))
            appendHex(out, "\\u%04x", cp);
        else
            out.append(s.substr(i, n));
        i += n;
    }
    return out;
}

bool hasControls(std::string_view s, bool keepNewlines)
{
    return escapeControls(s, keepNewlines) != s;
}

} // namespace tunebench
