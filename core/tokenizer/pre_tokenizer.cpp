#include "pre_tokenizer.h"

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/unicode.h"

#include <utf8proc.h>

#include <algorithm>

namespace tunebench {

namespace {

struct Event {
    std::size_t begin;
    std::size_t end;
    bool isMatch;
};

// Cuts every piece with `find` (text -> delimiter spans) and `behavior`.
template <typename Find> void splitEach(std::vector<PreToken>& pieces, SplitBehavior behavior, bool invert, Find find)
{
    std::vector<PreToken> out;
    out.reserve(pieces.size());
    for (PreToken& piece : pieces) {
        for (const auto& [b, e] : splitSpans(piece.text.size(), find(piece.text), behavior, invert))
            out.push_back({ piece.text.substr(b, e - b), piece.atStart && b == 0 });
    }
    pieces = std::move(out);
}

// Each character satisfying `pred` as its own match, as the `tokenizers`
// library's character patterns produce them.
template <typename Pred> std::vector<Pattern::Span> charMatches(const std::string& text, Pred pred)
{
    std::vector<Pattern::Span> spans;
    std::size_t pos = 0;
    while (pos < text.size()) {
        const std::size_t begin = pos;
        if (pred(unicode::nextCodePoint(text, pos)))
            spans.emplace_back(begin, pos);
    }
    return spans;
}

bool isPunctuation(char32_t cp)
{
    if (cp < 0x80)
        return (cp >= 0x21 && cp <= 0x2F) || (cp >= 0x3A && cp <= 0x40) || (cp >= 0x5B && cp <= 0x60)
            || (cp >= 0x7B && cp <= 0x7E);
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO:
        return true;
    default:
        return false;
    }
}

} // namespace

std::vector<Pattern::Span> splitSpans(
    std::size_t size, const std::vector<Pattern::Span>& matches, SplitBehavior behavior, bool invert)
{
    std::vector<Event> events;
    events.reserve(matches.size() * 2 + 1);
    std::size_t prev = 0;
    for (const auto& [b, e] : matches) {
        if (prev < b)
            events.push_back({ prev, b, invert });
        events.push_back({ b, e, !invert });
        prev = e;
    }
    if (prev < size)
        events.push_back({ prev, size, invert });

    std::vector<Pattern::Span> pieces;
    pieces.reserve(events.size());
    switch (behavior) {
    case SplitBehavior::Removed:
        for (const Event& ev : events)
            if (!ev.isMatch)
                pieces.emplace_back(ev.begin, ev.end);
        break;
    case SplitBehavior::Isolated:
        for (const Event& ev : events)
            pieces.emplace_back(ev.begin, ev.end);
        break;
    case SplitBehavior::MergedWithPrevious: {
        bool previousMatch = false;
        for (const Event& ev : events) {
            if (ev.isMatch && !previousMatch && !pieces.empty())
                pieces.back().second = ev.end;
            else
                pieces.emplace_back(ev.begin, ev.end);
            previousMatch = ev.isMatch;
        }
        break;
    }
    case SplitBehavior::MergedWithNext: {
        bool previousMatch = false;
        for (auto it = events.rbegin(); it != events.rend(); ++it) {
            if (it->isMatch && !previousMatch && !pieces.empty())
                pieces.back().first = it->begin;
            else
                pieces.emplace_back(it->begin, it->end);
            previousMatch = it->isMatch;
        }
        std::reverse(pieces.begin(), pieces.end());
        break;
    }
    case SplitBehavior::Contiguous: {
        bool previousMatch = false;
        for (const Event& ev : events) {
            if (ev.isMatch == previousMatch && !pieces.empty())
                pieces.back().second = ev.end;
            else
                pieces.emplace_back(ev.begin, ev.end);
            previousMatch = ev.isMatch;
        }
        break;
    }
    }
    std::erase_if(pieces, [](const Pattern::Span& s) { return s.first == s.second; });
    return pieces;
}

const char* ByteLevelPreTokenizer::gpt2Pattern()
{
    return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
}

ByteLevelPreTokenizer::ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex)
    : m_addPrefixSpace(addPrefixSpace)
    , m_useRegex(useRegex)
    , m_pattern(Pattern::regex(gpt2Pattern(), "the ByteLevel pre-tokenizer's GPT-2 expression"))
{ }

void ByteLevelPreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    if (m_addPrefixSpace) {
        for (PreToken& piece : pieces)
            if (piece.text.empty() || piece.text.front() != ' ')
                piece.text.insert(0, " ");
    }
    if (m_useRegex)
        splitEach(pieces, SplitBehavior::Isolated, false, [&](const std::string& t) { return m_pattern.findAll(t); });
    for (PreToken& piece : pieces)
        piece.text = byte_level::encode(piece.text);
}

void SplitPreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    splitEach(pieces, m_behavior, m_invert, [&](const std::string& t) { return m_pattern.findAll(t); });
}

void MetaspacePreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    for (PreToken& piece : pieces) {
        std::string replaced;
        replaced.reserve(piece.text.size() + m_replacement.size());
        for (const char c : piece.text) {
            if (c == ' ')
                replaced.append(m_replacement);
            else
                replaced.push_back(c);
        }
        const bool startsWithReplacement = replaced.compare(0, m_replacement.size(), m_replacement) == 0;
        if (!startsWithReplacement
            && (m_scheme == PrependScheme::Always || (m_scheme == PrependScheme::First && piece.atStart)))
            replaced.insert(0, m_replacement);
        piece.text = std::move(replaced);
    }
    if (m_split) {
        const Pattern delimiter = Pattern::literal(m_replacement);
        splitEach(
            pieces, SplitBehavior::MergedWithNext, false, [&](const std::string& t) { return delimiter.findAll(t); });
    }
}

void DigitsPreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    splitEach(pieces, m_individual ? SplitBehavior::Isolated : SplitBehavior::Contiguous, false,
        [](const std::string& t) { return charMatches(t, unicode::isNumeric); });
}

void WhitespaceSplitPreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    splitEach(pieces, SplitBehavior::Removed, false,
        [](const std::string& t) { return charMatches(t, unicode::isWhiteSpace); });
}

WhitespacePreTokenizer::WhitespacePreTokenizer()
    : m_pattern(Pattern::regex(R"(\w+|[^\w\s]+)", "the Whitespace pre-tokenizer's expression"))
{ }

void WhitespacePreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    splitEach(pieces, SplitBehavior::Removed, true, [&](const std::string& t) { return m_pattern.findAll(t); });
}

void PunctuationPreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    splitEach(pieces, m_behavior, false, [](const std::string& t) { return charMatches(t, isPunctuation); });
}

bool SequencePreTokenizer::addsSpace() const
{
    return std::any_of(m_steps.begin(), m_steps.end(), [](const auto& step) { return step->addsSpace(); });
}

void SequencePreTokenizer::preTokenize(std::vector<PreToken>& pieces) const
{
    for (const auto& step : m_steps)
        step->preTokenize(pieces);
}

} // namespace tunebench
