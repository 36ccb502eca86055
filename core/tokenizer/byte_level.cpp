#include "byte_level.h"

#include "core/tokenizer/unicode.h"

#include <array>

namespace tunebench::byte_level {

namespace {

struct Tables {
    std::array<std::string, 256> chars;
    std::array<std::int16_t, 0x144> bytes; // code point -> byte, -1 when not in the alphabet

    Tables()
    {
        bytes.fill(-1);
        int next = 0x100;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const int cp = printable ? b : next++;
            unicode::appendUtf8(chars[static_cast<std::size_t>(b)], static_cast<char32_t>(cp));
            bytes[static_cast<std::size_t>(cp)] = static_cast<std::int16_t>(b);
        }
    }
};

const Tables& tables()
{
    static const Tables t;
    return t;
}

} // namespace

std::string_view charFor(std::uint8_t byte)
{
    return tables().chars[byte];
}

std::optional<std::uint8_t> byteFor(char32_t cp)
{
    if (cp >= tables().bytes.size() || tables().bytes[cp] < 0)
        return std::nullopt;
    return static_cast<std::uint8_t>(tables().bytes[cp]);
}

std::string encode(std::string_view bytes)
{
    const Tables& t = tables();
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const char c : bytes)
        out.append(t.chars[static_cast<unsigned char>(c)]);
    return out;
}

} // namespace tunebench::byte_level
