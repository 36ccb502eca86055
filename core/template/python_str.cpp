#include "core/template/python_str.h"

#include "core/template/template_error.h"
#include "core/template/unicode_text.h"

#include <utf8proc.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace tunebench::jinja {

namespace {

using U32 = std::u32string;
using U32View = std::u32string_view;

// Python's ADJUST_INDICES: negative indices count from the end; end clamps to the
// length, start does not (a start past the end matches nothing).
void adjustIndices(std::int64_t length, std::optional<std::int64_t> startArg, std::optional<std::int64_t> endArg,
    std::int64_t& start, std::int64_t& end)
{
    start = startArg.value_or(0);
    end = endArg.value_or(length);
    if (end > length)
        end = length;
    else if (end < 0) {
        end += length;
        if (end < 0)
            end = 0;
    }
    if (start < 0) {
        start += length;
        if (start < 0)
            start = 0;
    }
}

bool isLineBreak(char32_t c)
{
    switch (c) {
    case '\n':
    case '\r':
    case 0x0B:
    case 0x0C:
    case 0x1C:
    case 0x1D:
    case 0x1E:
    case 0x85:
    case 0x2028:
    case 0x2029:
        return true;
    default:
        return false;
    }
}

std::vector<std::string> splitWhitespace(const U32& text, std::int64_t maxsplit, bool fromRight)
{
    std::vector<std::string> parts;
    const std::int64_t n = static_cast<std::int64_t>(text.size());
    if (!fromRight) {
        std::int64_t i = 0;
        while (i < n) {
            while (i < n && isPythonSpace(text[static_cast<std::size_t>(i)]))
                ++i;
            if (i == n)
                break;
            if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit) {
                parts.push_back(encodeUtf8(U32View(text).substr(static_cast<std::size_t>(i))));
                return parts;
            }
            std::int64_t j = i;
            while (j < n && !isPythonSpace(text[static_cast<std::size_t>(j)]))
                ++j;
            parts.push_back(
                encodeUtf8(U32View(text).substr(static_cast<std::size_t>(i), static_cast<std::size_t>(j - i))));
            i = j;
        }
        return parts;
    }
    std::int64_t i = n - 1;
    while (i >= 0) {
        while (i >= 0 && isPythonSpace(text[static_cast<std::size_t>(i)]))
            --i;
        if (i < 0)
            break;
        if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit) {
            parts.push_back(encodeUtf8(U32View(text).substr(0, static_cast<std::size_t>(i + 1))));
            break;
        }
        std::int64_t j = i;
        while (j >= 0 && !isPythonSpace(text[static_cast<std::size_t>(j)]))
            --j;
        parts.push_back(
            encodeUtf8(U32View(text).substr(static_cast<std::size_t>(j + 1), static_cast<std::size_t>(i - j))));
        i = j;
    }
    std::reverse(parts.begin(), parts.end());
    return parts;
}

} // namespace

std::string pyStrip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right)
{
    if (!chars)
        return stripPythonSpace(s, left, right);
    const U32 text = decodeUtf8(s);
    const U32 set = decodeUtf8(*chars);
    auto inSet = [&](char32_t c) { return set.find(c) != U32::npos; };
    std::size_t begin = 0;
    std::size_t end = text.size();
    if (left)
        while (begin < end && inSet(text[begin]))
            ++begin;
    if (right)
        while (end > begin && inSet(text[end - 1]))
            --end;
    return encodeUtf8(U32View(text).substr(begin, end - begin));
}

std::vector<std::string> pySplit(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit)
{
    if (!sep)
        return splitWhitespace(decodeUtf8(s), maxsplit, false);
    if (sep->empty())
        throwTypeError("empty separator");
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (;;) {
        if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit)
            break;
        const std::size_t found = s.find(*sep, start);
        if (found == std::string_view::npos)
            break;
        parts.emplace_back(s.substr(start, found - start));
        start = found + sep->size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
}

std::vector<std::string> pyRSplit(std::string_view s, const std::optional<std::string>& sep, std::int64_t maxsplit)
{
    if (!sep)
        return splitWhitespace(decodeUtf8(s), maxsplit, true);
    if (sep->empty())
        throwTypeError("empty separator");
    std::vector<std::string> parts;
    std::size_t end = s.size();
    for (;;) {
        if (maxsplit >= 0 && static_cast<std::int64_t>(parts.size()) == maxsplit)
            break;
        if (end < sep->size())
            break;
        const std::size_t found = s.rfind(*sep, end - sep->size());
        if (found == std::string_view::npos)
            break;
        parts.emplace_back(s.substr(found + sep->size(), end - found - sep->size()));
        end = found;
    }
    parts.emplace_back(s.substr(0, end));
    std::reverse(parts.begin(), parts.end());
    return parts;
}

std::vector<std::string> pySplitlines(std::string_view s, bool keepends)
{
    const U32 text = decodeUtf8(s);
    std::vector<std::string> lines;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        while (j < text.size() && !isLineBreak(text[j]))
            ++j;
        std::size_t eol = j;
        if (j < text.size()) {
            if (text[j] == '\r' && j + 1 < text.size() && text[j + 1] == '\n')
                j += 2;
            else
                ++j;
            if (keepends)
                eol = j;
        }
        lines.push_back(encodeUtf8(U32View(text).substr(i, eol - i)));
        i = j;
    }
    return lines;
}

std::string pyReplace(
    std::string_view s, std::string_view old, std::string_view replacement, std::int64_t count, std::size_t maxSize)
{
    std::string out;
    auto checked = [&](std::size_t extra) {
        if (out.size() + extra > maxSize)
            throw RuntimeProblem(
                ErrorKind::Limit, "replace() would build a string over " + std::to_string(maxSize) + " bytes");
    };
    if (old.empty()) {
        // Python inserts the replacement before every code point and at the end.
        const U32 text = decodeUtf8(s);
        std::int64_t done = 0;
        for (char32_t c : text) {
            if (count < 0 || done < count) {
                checked(replacement.size());
                out += replacement;
                ++done;
            }
            appendUtf8(out, c);
        }
        if (count < 0 || done < count) {
            checked(replacement.size());
            out += replacement;
        }
        return out;
    }
    std::size_t start = 0;
    std::int64_t done = 0;
    while (count < 0 || done < count) {
        const std::size_t found = s.find(old, start);
        if (found == std::string_view::npos)
            break;
        checked(found - start + replacement.size());
        out.append(s.substr(start, found - start));
        out.append(replacement);
        start = found + old.size();
        ++done;
    }
    checked(s.size() - start);
    out.append(s.substr(start));
    return out;
}

std::int64_t pyFind(std::string_view s, std::string_view sub, std::optional<std::int64_t> startArg,
    std::optional<std::int64_t> endArg, bool reverse)
{
    const U32 text = decodeUtf8(s);
    const U32 needle = decodeUtf8(sub);
    std::int64_t start = 0;
    std::int64_t end = 0;
    adjustIndices(static_cast<std::int64_t>(text.size()), startArg, endArg, start, end);
    if (end - start < static_cast<std::int64_t>(needle.size()))
        return -1;
    const U32View window = U32View(text).substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start));
    const std::size_t found = reverse ? window.rfind(needle) : window.find(needle);
    return found == U32View::npos ? -1 : start + static_cast<std::int64_t>(found);
}

std::int64_t pyCount(
    std::string_view s, std::string_view sub, std::optional<std::int64_t> startArg, std::optional<std::int64_t> endArg)
{
    const U32 text = decodeUtf8(s);
    const U32 needle = decodeUtf8(sub);
    std::int64_t start = 0;
    std::int64_t end = 0;
    adjustIndices(static_cast<std::int64_t>(text.size()), startArg, endArg, start, end);
    if (end - start < 0)
        return 0;
    if (needle.empty())
        return end - start + 1;
    const U32View window = U32View(text).substr(static_cast<std::size_t>(start), static_cast<std::size_t>(end - start));
    std::int64_t n = 0;
    for (std::size_t p = window.find(needle); p != U32View::npos; p = window.find(needle, p + needle.size()))
        ++n;
    return n;
}

bool pyStartsWith(std::string_view s, std::string_view prefix, std::optional<std::int64_t> startArg,
    std::optional<std::int64_t> endArg, bool atEnd)
{
    const U32 text = decodeUtf8(s);
    const U32 needle = decodeUtf8(prefix);
    std::int64_t start = 0;
    std::int64_t end = 0;
    adjustIndices(static_cast<std::int64_t>(text.size()), startArg, endArg, start, end);
    const auto n = static_cast<std::int64_t>(needle.size());
    if (end - start < n)
        return false;
    const std::size_t at = static_cast<std::size_t>(atEnd ? end - n : start);
    return U32View(text).substr(at, needle.size()) == needle;
}

std::string pyPad(std::string_view s, std::int64_t width, char32_t fill, char align)
{
    const U32 text = decodeUtf8(s);
    const auto length = static_cast<std::int64_t>(text.size());
    if (width <= length)
        return std::string(s);
    const std::int64_t margin = width - length;
    std::int64_t left = 0;
    if (align == '>')
        left = margin;
    else if (align == '^')
        left = margin / 2 + (margin & width & 1);
    U32 out(static_cast<std::size_t>(left), fill);
    out += text;
    out.append(static_cast<std::size_t>(margin - left), fill);
    return encodeUtf8(out);
}

std::string pyZfill(std::string_view s, std::int64_t width)
{
    const U32 text = decodeUtf8(s);
    const auto length = static_cast<std::int64_t>(text.size());
    if (width <= length)
        return std::string(s);
    U32 out = text;
    const std::size_t signLength = !text.empty() && (text[0] == '+' || text[0] == '-') ? 1 : 0;
    out.insert(signLength, static_cast<std::size_t>(width - length), U'0');
    return encodeUtf8(out);
}

std::string pyUpper(std::string_view s)
{
    return encodeUtf8(pythonUpper(decodeUtf8(s)));
}

std::string pyLower(std::string_view s)
{
    return encodeUtf8(pythonLower(decodeUtf8(s)));
}

std::string pyTitle(std::string_view s)
{
    return encodeUtf8(pythonTitle(decodeUtf8(s)));
}

std::string pyCapitalize(std::string_view s)
{
    return encodeUtf8(pythonCapitalize(decodeUtf8(s)));
}

std::string pySwapcase(std::string_view s)
{
    return encodeUtf8(pythonSwapcase(decodeUtf8(s)));
}

std::string pyCasefold(std::string_view s)
{
    utf8proc_uint8_t* folded = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(s.data()),
        static_cast<utf8proc_ssize_t>(s.size()), &folded, UTF8PROC_CASEFOLD);
    std::unique_ptr<utf8proc_uint8_t, decltype(&std::free)> owner(folded, &std::free);
    if (n < 0)
        throwTypeError(std::string("casefold: ") + utf8proc_errmsg(n));
    return std::string(reinterpret_cast<const char*>(folded), static_cast<std::size_t>(n));
}

bool pyIs(std::string_view s, CharClass cls)
{
    const U32 text = decodeUtf8(s);
    if (cls == CharClass::Ascii)
        return std::all_of(text.begin(), text.end(), [](char32_t c) { return c < 0x80; });
    if (text.empty())
        return false;
    switch (cls) {
    case CharClass::Space:
        return std::all_of(text.begin(), text.end(), isPythonSpace);
    case CharClass::Alpha:
        return std::all_of(text.begin(), text.end(), isAlpha);
    case CharClass::Alnum:
        return std::all_of(text.begin(), text.end(), [](char32_t c) { return isAlpha(c) || isNumericChar(c); });
    case CharClass::Digit:
        return std::all_of(text.begin(), text.end(), isDecimalDigit);
    case CharClass::Numeric:
        return std::all_of(text.begin(), text.end(), isNumericChar);
    case CharClass::Lower:
    case CharClass::Upper: {
        bool cased = false;
        for (char32_t c : text) {
            if (cls == CharClass::Lower ? isUppercase(c) : isLowercase(c))
                return false;
            cased = cased || isCased(c);
        }
        return cased;
    }
    case CharClass::Title: {
        // Uppercase letters only after uncased ones, lowercase only after cased ones.
        bool cased = false;
        bool previousCased = false;
        for (char32_t c : text) {
            if (isUppercase(c)) {
                if (previousCased)
                    return false;
                previousCased = cased = true;
            } else if (isLowercase(c)) {
                if (!previousCased)
                    return false;
                previousCased = cased = true;
            } else {
                previousCased = false;
            }
        }
        return cased;
    }
    case CharClass::Ascii:
        break;
    }
    return false;
}

} // namespace tunebench::jinja
