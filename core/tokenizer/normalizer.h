#pragma once

#include "core/tokenizer/pattern.h"

#include <memory>
#include <string>
#include <vector>

namespace tunebench {

// A tokenizer.json "normalizer": rewrites a section of input text (the text
// between added tokens) before pre-tokenization. Implementations are immutable
// and thread-safe; input is valid UTF-8 and so is the output.
class Normalizer {
public:
    virtual ~Normalizer() = default;
    // Rewrites `text` in place.
    virtual void normalize(std::string& text) const = 0;
};

enum class UnicodeForm { Nfc, Nfd, Nfkc, Nfkd };

// NFC, NFD, NFKC, NFKD through utf8proc.
class UnicodeNormalizer final : public Normalizer {
public:
    explicit UnicodeNormalizer(UnicodeForm form)
        : m_form(form)
    { }
    void normalize(std::string& text) const override;

private:
    UnicodeForm m_form;
};

// Prepends a string to any non-empty text (Llama-2's "▁").
class PrependNormalizer final : public Normalizer {
public:
    explicit PrependNormalizer(std::string prefix)
        : m_prefix(std::move(prefix))
    { }
    void normalize(std::string& text) const override;

private:
    std::string m_prefix;
};

// Appends a string to any non-empty text.
class AppendNormalizer final : public Normalizer {
public:
    explicit AppendNormalizer(std::string suffix)
        : m_suffix(std::move(suffix))
    { }
    void normalize(std::string& text) const override;

private:
    std::string m_suffix;
};

// Replaces every match of a pattern with fixed content.
class ReplaceNormalizer final : public Normalizer {
public:
    ReplaceNormalizer(Pattern pattern, std::string content)
        : m_pattern(std::move(pattern))
        , m_content(std::move(content))
    { }
    void normalize(std::string& text) const override;

private:
    Pattern m_pattern;
    std::string m_content;
};

// Per-character Unicode lowercase mapping (no context rules such as final sigma,
// as in the `tokenizers` library).
class LowercaseNormalizer final : public Normalizer {
public:
    void normalize(std::string& text) const override;
};

// Removes White_Space characters at the start and/or end.
class StripNormalizer final : public Normalizer {
public:
    StripNormalizer(bool left, bool right)
        : m_left(left)
        , m_right(right)
    { }
    void normalize(std::string& text) const override;

private:
    bool m_left;
    bool m_right;
};

// Removes combining marks (general category Mn).
class StripAccentsNormalizer final : public Normalizer {
public:
    void normalize(std::string& text) const override;
};

class SequenceNormalizer final : public Normalizer {
public:
    explicit SequenceNormalizer(std::vector<std::unique_ptr<Normalizer>> steps)
        : m_steps(std::move(steps))
    { }
    void normalize(std::string& text) const override;

private:
    std::vector<std::unique_ptr<Normalizer>> m_steps;
};

} // namespace tunebench
