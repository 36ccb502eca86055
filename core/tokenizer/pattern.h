#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tunebench {

// What the `pattern` fields of tokenizer.json name: {"String": "..."} (a literal)
// or {"Regex": "..."} (an Oniguruma regular expression, run here through PCRE2
// with Unicode properties; \s and \S are rewritten to Oniguruma's White_Space set
// so the two engines agree on U+180E, U+0085 and U+FEFF, and ^ and $ match at
// line boundaries as in Oniguruma's default Ruby syntax).
//
// Immutable after construction; findAll is safe from several threads at once.
class Pattern {
public:
    using Span = std::pair<std::size_t, std::size_t>; // [begin, end) byte offsets

    static Pattern literal(std::string text);
    // Throws InputError naming `where` (e.g. "tokenizer.json: pre_tokenizer.pattern.Regex")
    // with PCRE2's message and the offset when the expression does not compile.
    static Pattern regex(const std::string& expression, const std::string& where);

    Pattern(Pattern&&) noexcept;
    Pattern& operator=(Pattern&&) noexcept;
    ~Pattern();

    // Non-overlapping matches in order, as Oniguruma's find_iter yields them
    // (after an empty match the search resumes one character later). Text must
    // be valid UTF-8. Throws InputError if the engine gives up on the input.
    std::vector<Span> findAll(std::string_view text) const;
    // Every match replaced by `content`.
    std::string replaceAll(std::string_view text, std::string_view content) const;

    // The expression with \s and \S made Oniguruma-compatible (exposed for tests).
    static std::string onigurumaCompatible(std::string_view expression);

private:
    struct Compiled;
    Pattern() = default;
    std::string m_literal;
    std::unique_ptr<Compiled> m_regex;
};

} // namespace tunebench
