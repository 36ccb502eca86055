#pragma once

#include "core/tokenizer/pattern.h"
#include "core/tokenizer/pre_tokenizer.h"

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// A tokenizer.json "decoder": turns the token strings of an id sequence back
// into text, step by step (each step maps a list of strings to a new list; the
// tokenizer joins the final list). Immutable and thread-safe.
class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decodeChain(std::vector<std::string>& tokens) const = 0;
    // Whether this decoder (or a step of it) is ByteLevel.
    virtual bool isByteLevel() const { return false; }
};

// Maps byte-level characters back to bytes; the result is read as UTF-8 with
// ill-formed sequences replaced by U+FFFD. Yields one string.
class ByteLevelDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override;
    bool isByteLevel() const override { return true; }
};

// Turns the replacement character back into spaces; in the first token it is
// dropped unless the prepend scheme is "never".
class MetaspaceDecoder final : public Decoder {
public:
    MetaspaceDecoder(std::string replacement, PrependScheme scheme)
        : m_replacement(std::move(replacement))
        , m_scheme(scheme)
    { }
    void decodeChain(std::vector<std::string>& tokens) const override;

private:
    std::string m_replacement;
    PrependScheme m_scheme;
};

class ReplaceDecoder final : public Decoder {
public:
    ReplaceDecoder(Pattern pattern, std::string content)
        : m_pattern(std::move(pattern))
        , m_content(std::move(content))
    { }
    void decodeChain(std::vector<std::string>& tokens) const override;

private:
    Pattern m_pattern;
    std::string m_content;
};

// Runs of <0xNN> tokens become the text their bytes spell; a run that is not
// valid UTF-8 becomes one U+FFFD per byte.
class ByteFallbackDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override;
};

// Joins every token into one.
class FuseDecoder final : public Decoder {
public:
    void decodeChain(std::vector<std::string>& tokens) const override;
};

// Removes up to `start` leading and `stop` trailing copies of a character from each token.
class StripDecoder final : public Decoder {
public:
    StripDecoder(char32_t content, std::size_t start, std::size_t stop)
        : m_content(content)
        , m_start(start)
        , m_stop(stop)
    { }
    void decodeChain(std::vector<std::string>& tokens) const override;

private:
    char32_t m_content;
    std::size_t m_start;
    std::size_t m_stop;
};

// The BPEDecoder: the end-of-word suffix becomes a space (nothing after the last token).
class BpeSuffixDecoder final : public Decoder {
public:
    explicit BpeSuffixDecoder(std::string suffix)
        : m_suffix(std::move(suffix))
    { }
    void decodeChain(std::vector<std::string>& tokens) const override;

private:
    std::string m_suffix;
};

class SequenceDecoder final : public Decoder {
public:
    explicit SequenceDecoder(std::vector<std::unique_ptr<Decoder>> steps)
        : m_steps(std::move(steps))
    { }
    void decodeChain(std::vector<std::string>& tokens) const override;
    bool isByteLevel() const override;

private:
    std::vector<std::unique_ptr<Decoder>> m_steps;
};

} // namespace tunebench
