#include "decoder.h"

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/unicode.h"

namespace tunebench {

namespace {

std::optional<std::uint8_t> byteToken(const std::string& token)
{
    if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>')
        return std::nullopt;
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9')
            return c - '0';
        if (c >= 'A' && c <= 'F')
            return c - 'A' + 10;
        if (c >= 'a' && c <= 'f')
            return c - 'a' + 10;
        return -1;
    };
    const int hi = hex(token[3]);
    const int lo = hex(token[4]);
    if (hi < 0 || lo < 0)
        return std::nullopt;
    return static_cast<std::uint8_t>(hi * 16 + lo);
}

std::vector<char32_t> codePoints(const std::string& text)
{
    std::vector<char32_t> cps;
    std::size_t pos = 0;
    while (pos < text.size())
        cps.push_back(unicode::nextCodePoint(text, pos));
    return cps;
}

} // namespace

void ByteLevelDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    std::string bytes;
    for (const std::string& token : tokens) {
        std::string tokenBytes;
        bool inAlphabet = true;
        std::size_t pos = 0;
        while (pos < token.size() && inAlphabet) {
            const auto byte = byte_level::byteFor(unicode::nextCodePoint(token, pos));
            if (byte)
                tokenBytes.push_back(static_cast<char>(*byte));
            else
                inAlphabet = false;
        }
        // A token with characters outside the alphabet (an added token, say) is kept as it is.
        bytes.append(inAlphabet ? tokenBytes : token);
    }
    tokens.assign(1, unicode::fromUtf8Lossy(bytes));
}

void MetaspaceDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        const bool drop = i == 0 && m_scheme != PrependScheme::Never;
        std::string out;
        std::size_t pos = 0;
        const std::string& t = tokens[i];
        while (pos < t.size()) {
            if (!m_replacement.empty() && t.compare(pos, m_replacement.size(), m_replacement) == 0) {
                if (!drop)
                    out.push_back(' ');
                pos += m_replacement.size();
            } else {
                out.push_back(t[pos++]);
            }
        }
        tokens[i] = std::move(out);
    }
}

void ReplaceDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    for (std::string& t : tokens)
        t = m_pattern.replaceAll(t, m_content);
}

void ByteFallbackDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    std::vector<std::string> out;
    out.reserve(tokens.size());
    std::string pending;
    std::size_t pendingCount = 0;
    const auto flush = [&]() {
        if (pendingCount == 0)
            return;
        if (!unicode::firstInvalidUtf8(pending)) {
            out.push_back(pending);
        } else {
            for (std::size_t i = 0; i < pendingCount; ++i)
                out.emplace_back("\xEF\xBF\xBD");
        }
        pending.clear();
        pendingCount = 0;
    };
    for (std::string& t : tokens) {
        if (const auto byte = byteToken(t)) {
            pending.push_back(static_cast<char>(*byte));
            ++pendingCount;
        } else {
            flush();
            out.push_back(std::move(t));
        }
    }
    flush();
    tokens = std::move(out);
}

void FuseDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    std::string joined;
    for (const std::string& t : tokens)
        joined.append(t);
    tokens.assign(1, std::move(joined));
}

void StripDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    for (std::string& t : tokens) {
        const std::vector<char32_t> cps = codePoints(t);
        std::size_t begin = 0;
        while (begin < m_start && begin < cps.size() && cps[begin] == m_content)
            ++begin;
        std::size_t end = cps.size();
        for (std::size_t i = 0; i < m_stop && end > begin && cps[end - 1] == m_content; ++i)
            --end;
        std::string out;
        for (std::size_t i = begin; i < end; ++i)
            unicode::appendUtf8(out, cps[i]);
        t = std::move(out);
    }
}

void BpeSuffixDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    const Pattern suffix = Pattern::literal(m_suffix);
    for (std::size_t i = 0; i < tokens.size(); ++i)
        tokens[i] = suffix.replaceAll(tokens[i], i + 1 == tokens.size() ? "" : " ");
}

void SequenceDecoder::decodeChain(std::vector<std::string>& tokens) const
{
    for (const auto& step : m_steps)
        step->decodeChain(tokens);
}

bool SequenceDecoder::isByteLevel() const
{
    for (const auto& step : m_steps)
        if (step->isByteLevel())
            return true;
    return false;
}

} // namespace tunebench
