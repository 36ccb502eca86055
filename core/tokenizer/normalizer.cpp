#include "normalizer.h"

#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

#include <utf8proc.h>

#include <cstdlib>

namespace tunebench {

namespace {

// Code points that every normalization form leaves alone and that never combine
// with a neighbour (no canonical or compatibility decomposition, combining class
// 0, not the second half of any composition): U+0000..U+009F and the CJK unified
// ideographs. A text made only of them is already normalized in every form, the
// common case worth skipping utf8proc's allocation for.
bool isNormalizationInert(char32_t cp)
{
    return cp < 0xA0 || (cp >= 0x4E00 && cp <= 0x9FFF);
}

} // namespace

void UnicodeNormalizer::normalize(std::string& text) const
{
    if (text.empty())
        return;
    bool inert = true;
    for (std::size_t pos = 0; pos < text.size() && inert;) {
        if (static_cast<unsigned char>(text[pos]) < 0x80) {
            ++pos;
            continue;
        }
        inert = isNormalizationInert(unicode::nextCodePoint(text, pos));
    }
    if (inert)
        return;
    int options = UTF8PROC_STABLE;
    switch (m_form) {
    case UnicodeForm::Nfc:
        options |= UTF8PROC_COMPOSE;
        break;
    case UnicodeForm::Nfd:
        options |= UTF8PROC_DECOMPOSE;
        break;
    case UnicodeForm::Nfkc:
        options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
        break;
    case UnicodeForm::Nfkd:
        options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
        break;
    }
    utf8proc_uint8_t* result = nullptr;
    const utf8proc_ssize_t n = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
        static_cast<utf8proc_ssize_t>(text.size()), &result, static_cast<utf8proc_option_t>(options));
    if (n < 0) {
        std::free(result);
        throw InputError(std::string("Unicode normalization failed: ") + utf8proc_errmsg(n));
    }
    text.assign(reinterpret_cast<const char*>(result), static_cast<std::size_t>(n));
    std::free(result);
}

void PrependNormalizer::normalize(std::string& text) const
{
    if (!text.empty())
        text.insert(0, m_prefix);
}

void AppendNormalizer::normalize(std::string& text) const
{
    if (!text.empty())
        text.append(m_suffix);
}

void ReplaceNormalizer::normalize(std::string& text) const
{
    text = m_pattern.replaceAll(text, m_content);
}

void LowercaseNormalizer::normalize(std::string& text) const
{
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const char32_t cp = unicode::nextCodePoint(text, pos);
        if (cp == 0x130) {
            // The one unconditional multi-character lowercase mapping (SpecialCasing.txt).
            out.append("i\xCC\x87");
            continue;
        }
        unicode::appendUtf8(out, static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp))));
    }
    text = std::move(out);
}

void StripNormalizer::normalize(std::string& text) const
{
    std::size_t begin = 0;
    std::size_t end = text.size();
    if (m_left) {
        while (begin < end) {
            std::size_t next = begin;
            if (!unicode::isWhiteSpace(unicode::nextCodePoint(text, next)))
                break;
            begin = next;
        }
    }
    if (m_right) {
        while (end > begin) {
            std::size_t start = end - 1;
            while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
                --start;
            std::size_t probe = start;
            if (!unicode::isWhiteSpace(unicode::nextCodePoint(text, probe)))
                break;
            end = start;
        }
    }
    text = text.substr(begin, end - begin);
}

void StripAccentsNormalizer::normalize(std::string& text) const
{
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t begin = pos;
        const char32_t cp = unicode::nextCodePoint(text, pos);
        if (utf8proc_category(static_cast<utf8proc_int32_t>(cp)) != UTF8PROC_CATEGORY_MN)
            out.append(text, begin, pos - begin);
    }
    text = std::move(out);
}

void SequenceNormalizer::normalize(std::string& text) const
{
    for (const auto& step : m_steps)
        step->normalize(text);
}

} // namespace tunebench
