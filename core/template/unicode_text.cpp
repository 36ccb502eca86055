#include "core/template/unicode_text.h"

#include "core/util/error.h"

#include <utf8proc.h>

#include <algorithm>
#include <iterator>

namespace tunebench::jinja {

namespace {

struct SpecialCase {
    char32_t cp;
    const char* utf8;
};

#include "core/template/special_casing.inc"

template <std::size_t N> const char* findSpecial(const SpecialCase (&table)[N], char32_t cp)
{
    auto it = std::lower_bound(
        std::begin(table), std::end(table), cp, [](const SpecialCase& s, char32_t c) { return s.cp < c; });
    return it != std::end(table) && it->cp == cp ? it->utf8 : nullptr;
}

void appendSpecial(std::u32string& out, const char* utf8)
{
    out += decodeUtf8(utf8);
}

utf8proc_category_t category(char32_t cp)
{
    return utf8proc_category(static_cast<utf8proc_int32_t>(cp));
}

bool isCaseIgnorable(char32_t cp)
{
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_SK:
        return true;
    default:
        break;
    }
    // Word_Break MidLetter, MidNumLet and Single_Quote.
    switch (cp) {
    case 0x27:
    case 0x2E:
    case 0x3A:
    case 0xB7:
    case 0x387:
    case 0x55F:
    case 0x5F4:
    case 0x2018:
    case 0x2019:
    case 0x2024:
    case 0x2027:
    case 0xFE13:
    case 0xFE52:
    case 0xFE55:
    case 0xFF07:
    case 0xFF0E:
    case 0xFF1A:
        return true;
    default:
        return false;
    }
}

char32_t simpleUpper(char32_t cp)
{
    return static_cast<char32_t>(utf8proc_toupper(static_cast<utf8proc_int32_t>(cp)));
}

char32_t simpleLower(char32_t cp)
{
    return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

char32_t simpleTitle(char32_t cp)
{
    return static_cast<char32_t>(utf8proc_totitle(static_cast<utf8proc_int32_t>(cp)));
}

void appendUpper(std::u32string& out, char32_t cp)
{
    if (const char* s = findSpecial(kSpecialUpper, cp))
        appendSpecial(out, s);
    else
        out += simpleUpper(cp);
}

void appendTitle(std::u32string& out, char32_t cp)
{
    if (const char* s = findSpecial(kSpecialTitle, cp))
        appendSpecial(out, s);
    else
        out += simpleTitle(cp);
}

// Capital sigma lowercases to the final form at the end of a word: preceded by a
// cased letter and not followed by one (case-ignorable characters skipped).
bool isFinalSigma(std::u32string_view text, std::size_t i)
{
    std::size_t j = i;
    char32_t before = 0;
    bool found = false;
    while (j > 0) {
        before = text[--j];
        if (!isCaseIgnorable(before)) {
            found = true;
            break;
        }
    }
    if (!found || !isCased(before))
        return false;
    for (std::size_t k = i + 1; k < text.size(); ++k) {
        if (!isCaseIgnorable(text[k]))
            return !isCased(text[k]);
    }
    return true;
}

void appendLower(std::u32string& out, std::u32string_view text, std::size_t i)
{
    const char32_t cp = text[i];
    if (cp == 0x3A3) {
        out += isFinalSigma(text, i) ? char32_t(0x3C2) : char32_t(0x3C3);
        return;
    }
    if (const char* s = findSpecial(kSpecialLower, cp))
        appendSpecial(out, s);
    else
        out += simpleLower(cp);
}

} // namespace

std::u32string decodeUtf8(std::string_view text, std::string_view what)
{
    std::u32string out;
    out.reserve(text.size());
    const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(text.data());
    utf8proc_ssize_t remaining = static_cast<utf8proc_ssize_t>(text.size());
    while (remaining > 0) {
        utf8proc_int32_t cp = 0;
        const utf8proc_ssize_t n = utf8proc_iterate(p, remaining, &cp);
        if (n <= 0)
            throw InputError(std::string(what) + ": invalid UTF-8 at byte "
                + std::to_string(text.size() - static_cast<std::size_t>(remaining)));
        out += static_cast<char32_t>(cp);
        p += n;
        remaining -= n;
    }
    return out;
}

void appendUtf8(std::string& out, char32_t cp)
{
    utf8proc_uint8_t buf[4];
    const utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(cp), buf);
    out.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(n));
}

std::string encodeUtf8(std::u32string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char32_t cp : text)
        appendUtf8(out, cp);
    return out;
}

std::size_t codePointCount(std::string_view text)
{
    std::size_t n = 0;
    for (unsigned char c : text)
        n += (c & 0xC0) != 0x80;
    return n;
}

bool isPythonSpace(char32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20);
    switch (cp) {
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

bool isPythonPrintable(char32_t cp)
{
    if (cp == ' ')
        return true;
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_CS:
    case UTF8PROC_CATEGORY_CO:
    case UTF8PROC_CATEGORY_CN:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_ZS:
        return false;
    default:
        return true;
    }
}

bool isLowercase(char32_t cp)
{
    const auto c = category(cp);
    return c == UTF8PROC_CATEGORY_LL
        || (c != UTF8PROC_CATEGORY_LU && c != UTF8PROC_CATEGORY_LT && simpleUpper(cp) != cp);
}

bool isUppercase(char32_t cp)
{
    const auto c = category(cp);
    return c == UTF8PROC_CATEGORY_LU
        || (c != UTF8PROC_CATEGORY_LL && c != UTF8PROC_CATEGORY_LT && simpleLower(cp) != cp);
}

bool isCased(char32_t cp)
{
    return isLowercase(cp) || isUppercase(cp) || category(cp) == UTF8PROC_CATEGORY_LT;
}

bool isAlpha(char32_t cp)
{
    switch (category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
        return true;
    default:
        return false;
    }
}

bool isDecimalDigit(char32_t cp)
{
    return category(cp) == UTF8PROC_CATEGORY_ND;
}

bool isNumericChar(char32_t cp)
{
    const auto c = category(cp);
    return c == UTF8PROC_CATEGORY_ND || c == UTF8PROC_CATEGORY_NL || c == UTF8PROC_CATEGORY_NO;
}

std::u32string pythonUpper(std::u32string_view text)
{
    std::u32string out;
    out.reserve(text.size());
    for (char32_t cp : text)
        appendUpper(out, cp);
    return out;
}

std::u32string pythonLower(std::u32string_view text)
{
    std::u32string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i)
        appendLower(out, text, i);
    return out;
}

std::u32string pythonTitle(std::u32string_view text)
{
    // A cased character after a cased one is lowercased, otherwise titlecased.
    std::u32string out;
    out.reserve(text.size());
    bool previousCased = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t cp = text[i];
        if (previousCased)
            appendLower(out, text, i);
        else
            appendTitle(out, cp);
        previousCased = isCased(cp);
    }
    return out;
}

std::u32string pythonCapitalize(std::u32string_view text)
{
    std::u32string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (i == 0)
            appendTitle(out, text[i]);
        else
            appendLower(out, text, i);
    }
    return out;
}

std::u32string pythonSwapcase(std::u32string_view text)
{
    std::u32string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char32_t cp = text[i];
        if (isUppercase(cp))
            appendLower(out, text, i);
        else if (isLowercase(cp))
            appendUpper(out, cp);
        else
            out += cp;
    }
    return out;
}

std::string stripPythonSpace(std::string_view text, bool left, bool right)
{
    const std::u32string cps = decodeUtf8(text);
    std::size_t begin = 0;
    std::size_t end = cps.size();
    if (left)
        while (begin < end && isPythonSpace(cps[begin]))
            ++begin;
    if (right)
        while (end > begin && isPythonSpace(cps[end - 1]))
            --end;
    return encodeUtf8(std::u32string_view(cps).substr(begin, end - begin));
}

} // namespace tunebench::jinja
