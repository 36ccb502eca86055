#include "added_tokens.h"

#include "core/tokenizer/normalizer.h"
#include "core/tokenizer/unicode.h"

#include <algorithm>

namespace tunebench {

namespace {

// Start of the run of White_Space that ends text (text.size() if none).
std::size_t whitespaceRunBefore(std::string_view text)
{
    std::size_t begin = text.size();
    while (begin > 0) {
        std::size_t start = begin - 1;
        while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
            --start;
        std::size_t probe = start;
        if (!unicode::isWhiteSpace(unicode::nextCodePoint(text, probe)))
            break;
        begin = start;
    }
    return begin;
}

// Length of the run of White_Space that starts text.
std::size_t whitespaceRunAfter(std::string_view text)
{
    std::size_t end = 0;
    while (end < text.size()) {
        std::size_t next = end;
        if (!unicode::isWhiteSpace(unicode::nextCodePoint(text, next)))
            break;
        end = next;
    }
    return end;
}

bool endsWithWordChar(std::string_view text)
{
    if (text.empty())
        return false;
    std::size_t start = text.size() - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80)
        --start;
    return unicode::isWordChar(unicode::nextCodePoint(text, start));
}

bool startsWithWordChar(std::string_view text)
{
    std::size_t pos = 0;
    return !text.empty() && unicode::isWordChar(unicode::nextCodePoint(text, pos));
}

} // namespace

void AddedVocabulary::Matcher::add(std::string_view pattern, std::int32_t token)
{
    if (pattern.empty())
        return;
    firstByte[static_cast<unsigned char>(pattern[0])] = true;
    std::int32_t node = 0;
    for (const char c : pattern) {
        const auto byte = static_cast<unsigned char>(c);
        std::int32_t child = -1;
        for (const auto& [b, n] : nodes[static_cast<std::size_t>(node)].children)
            if (b == byte)
                child = n;
        if (child < 0) {
            child = static_cast<std::int32_t>(nodes.size());
            nodes[static_cast<std::size_t>(node)].children.emplace_back(byte, child);
            nodes.emplace_back();
        }
        node = child;
    }
    // The first token given a content keeps it (special tokens come first).
    if (nodes[static_cast<std::size_t>(node)].token < 0)
        nodes[static_cast<std::size_t>(node)].token = token;
}

std::pair<std::size_t, std::int32_t> AddedVocabulary::Matcher::longestAt(std::string_view text, std::size_t pos) const
{
    std::pair<std::size_t, std::int32_t> best { 0, -1 };
    std::int32_t node = 0;
    for (std::size_t i = pos; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        std::int32_t child = -1;
        for (const auto& [b, n] : nodes[static_cast<std::size_t>(node)].children)
            if (b == byte)
                child = n;
        if (child < 0)
            break;
        node = child;
        if (nodes[static_cast<std::size_t>(node)].token >= 0)
            best = { i + 1 - pos, nodes[static_cast<std::size_t>(node)].token };
    }
    return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer)
{
    // Special tokens are searched before the others, as in the library's matcher.
    std::stable_partition(tokens.begin(), tokens.end(), [](const AddedToken& t) { return t.special; });
    m_tokens = std::move(tokens);
    m_decoded.reserve(m_tokens.size());
    for (std::size_t i = 0; i < m_tokens.size(); ++i) {
        const AddedToken& t = m_tokens[i];
        m_byId.emplace(t.id, i);
        m_byContent.emplace(t.content, i);
        m_decoded.push_back(t.content);
        if (t.content.empty())
            continue;
        if (t.normalized) {
            std::string form = t.content;
            if (normalizer)
                normalizer->normalize(form);
            m_normalized.add(form, static_cast<std::int32_t>(i));
            m_decoded.back() = std::move(form);
        } else {
            m_raw.add(t.content, static_cast<std::int32_t>(i));
        }
    }
}

const AddedToken* AddedVocabulary::byId(std::int32_t id) const
{
    const auto it = m_byId.find(id);
    return it == m_byId.end() ? nullptr : &m_tokens[it->second];
}

const std::string& AddedVocabulary::decodedText(const AddedToken& token) const
{
    return m_decoded[static_cast<std::size_t>(&token - m_tokens.data())];
}

const AddedToken* AddedVocabulary::byContent(std::string_view content) const
{
    const auto it = m_byContent.find(std::string(content));
    return it == m_byContent.end() ? nullptr : &m_tokens[it->second];
}

std::vector<AddedVocabulary::Segment> AddedVocabulary::split(std::string_view text, bool normalizedSet) const
{
    const Matcher& matcher = normalizedSet ? m_normalized : m_raw;
    std::vector<Segment> segments;
    std::size_t consumed = 0; // end of the last segment emitted
    std::size_t pos = 0;
    while (pos < text.size()) {
        if (!matcher.firstByte[static_cast<unsigned char>(text[pos])]) {
            ++pos;
            continue;
        }
        const auto [length, index] = matcher.longestAt(text, pos);
        if (length == 0) {
            ++pos;
            continue;
        }
        const AddedToken& token = m_tokens[static_cast<std::size_t>(index)];
        std::size_t start = pos;
        std::size_t stop = pos + length;
        pos = stop; // a discarded match still consumes its text, as the library's iterator does
        if (token.singleWord) {
            const bool startOk = start == 0 || !endsWithWordChar(text.substr(0, start));
            const bool stopOk = stop == text.size() || !startsWithWordChar(text.substr(stop));
            if (!startOk || !stopOk)
                continue;
        }
        if (token.lstrip)
            start = std::max(whitespaceRunBefore(text.substr(0, start)), consumed);
        if (token.rstrip)
            stop += whitespaceRunAfter(text.substr(stop));
        if (consumed < start)
            segments.push_back({ consumed, start, std::nullopt });
        segments.push_back({ start, stop, token.id });
        consumed = stop;
        pos = stop;
    }
    if (consumed < text.size())
        segments.push_back({ consumed, text.size(), std::nullopt });
    return segments;
}

} // namespace tunebench
