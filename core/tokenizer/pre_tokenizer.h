#pragma once

#include "core/tokenizer/pattern.h"

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// One piece of text on its way to the model. atStart: the piece begins at
// offset 0 of the original input (Metaspace's prepend_scheme "first" asks).
struct PreToken {
    std::string text;
    bool atStart = false;
};

// How a split treats the delimiters it finds (the `behavior` field).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

// The pieces [begin, end) that `behavior` makes of a text of `size` bytes whose
// delimiters are `matches` (sorted, non-overlapping). With invert, the matches
// are the content and the rest the delimiters. Empty pieces are dropped.
std::vector<Pattern::Span> splitSpans(
    std::size_t size, const std::vector<Pattern::Span>& matches, SplitBehavior behavior, bool invert = false);

// A tokenizer.json "pre_tokenizer": cuts each piece into smaller pieces (and may
// rewrite them, as ByteLevel does). Immutable and thread-safe.
class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    virtual void preTokenize(std::vector<PreToken>& pieces) const = 0;
    // Whether it may add a space (or its stand-in) that the text did not have, so
    // that decoding does not give the text back.
    virtual bool addsSpace() const { return false; }
};

// GPT-2's byte-level step: optionally a leading space, optionally the GPT-2
// split regex, then every byte mapped to its printable stand-in.
class ByteLevelPreTokenizer final : public PreTokenizer {
public:
    ByteLevelPreTokenizer(bool addPrefixSpace, bool useRegex);
    void preTokenize(std::vector<PreToken>& pieces) const override;
    bool addsSpace() const override { return m_addPrefixSpace; }

    // The GPT-2 split expression the ByteLevel pre-tokenizer uses.
    static const char* gpt2Pattern();

private:
    bool m_addPrefixSpace;
    bool m_useRegex;
    Pattern m_pattern;
};

class SplitPreTokenizer final : public PreTokenizer {
public:
    SplitPreTokenizer(Pattern pattern, SplitBehavior behavior, bool invert)
        : m_pattern(std::move(pattern))
        , m_behavior(behavior)
        , m_invert(invert)
    { }
    void preTokenize(std::vector<PreToken>& pieces) const override;

private:
    Pattern m_pattern;
    SplitBehavior m_behavior;
    bool m_invert;
};

enum class PrependScheme { Always, First, Never };

// SentencePiece's whitespace handling: spaces become the replacement character,
// which is optionally prepended, and the text is split before each of them.
class MetaspacePreTokenizer final : public PreTokenizer {
public:
    MetaspacePreTokenizer(std::string replacement, PrependScheme scheme, bool split)
        : m_replacement(std::move(replacement))
        , m_scheme(scheme)
        , m_split(split)
    { }
    void preTokenize(std::vector<PreToken>& pieces) const override;
    bool addsSpace() const override { return m_scheme != PrependScheme::Never; }

private:
    std::string m_replacement;
    PrependScheme m_scheme;
    bool m_split;
};

// Separates numeric characters from the rest, one piece per digit or per run.
class DigitsPreTokenizer final : public PreTokenizer {
public:
    explicit DigitsPreTokenizer(bool individualDigits)
        : m_individual(individualDigits)
    { }
    void preTokenize(std::vector<PreToken>& pieces) const override;

private:
    bool m_individual;
};

// Splits on White_Space and drops it.
class WhitespaceSplitPreTokenizer final : public PreTokenizer {
public:
    void preTokenize(std::vector<PreToken>& pieces) const override;
};

// `\w+|[^\w\s]+` pieces; whitespace is dropped.
class WhitespacePreTokenizer final : public PreTokenizer {
public:
    WhitespacePreTokenizer();
    void preTokenize(std::vector<PreToken>& pieces) const override;

private:
    Pattern m_pattern;
};

// Separates punctuation characters (general category P) from the rest.
class PunctuationPreTokenizer final : public PreTokenizer {
public:
    explicit PunctuationPreTokenizer(SplitBehavior behavior)
        : m_behavior(behavior)
    { }
    void preTokenize(std::vector<PreToken>& pieces) const override;

private:
    SplitBehavior m_behavior;
};

class SequencePreTokenizer final : public PreTokenizer {
public:
    explicit SequencePreTokenizer(std::vector<std::unique_ptr<PreTokenizer>> steps)
        : m_steps(std::move(steps))
    { }
    void preTokenize(std::vector<PreToken>& pieces) const override;
    bool addsSpace() const override;

private:
    std::vector<std::unique_ptr<PreTokenizer>> m_steps;
};

} // namespace tunebench
