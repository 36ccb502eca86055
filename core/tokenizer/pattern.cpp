#include "pattern.h"

#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace tunebench {

namespace {

// Oniguruma's \s is the Unicode White_Space property; PCRE2's adds U+180E.
constexpr std::string_view kWhiteSpaceClass
    = "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}";

std::string pcre2Message(int code)
{
    PCRE2_UCHAR buffer[256];
    const int n = pcre2_get_error_message(code, buffer, sizeof buffer);
    return n < 0 ? "PCRE2 error " + std::to_string(code) : std::string(reinterpret_cast<const char*>(buffer));
}

// One JIT stack and match context per thread: the default 32 KiB JIT stack is
// too small for long runs of whitespace under `\s+(?!\S)`.
struct ThreadMatchContext {
    pcre2_match_context* context = nullptr;
    pcre2_jit_stack* stack = nullptr;
    ThreadMatchContext()
    {
        context = pcre2_match_context_create(nullptr);
        stack = pcre2_jit_stack_create(64 * 1024, 16 * 1024 * 1024, nullptr);
        if (context && stack)
            pcre2_jit_stack_assign(context, nullptr, stack);
    }
    ~ThreadMatchContext()
    {
        pcre2_jit_stack_free(stack);
        pcre2_match_context_free(context);
    }
    ThreadMatchContext(const ThreadMatchContext&) = delete;
    ThreadMatchContext& operator=(const ThreadMatchContext&) = delete;
};

pcre2_match_context* threadMatchContext()
{
    thread_local ThreadMatchContext ctx;
    return ctx.context;
}

struct MatchData {
    pcre2_match_data* data;
    explicit MatchData(const pcre2_code* code)
        : data(pcre2_match_data_create_from_pattern(code, nullptr))
    { }
    ~MatchData() { pcre2_match_data_free(data); }
    MatchData(const MatchData&) = delete;
    MatchData& operator=(const MatchData&) = delete;
};

} // namespace

struct Pattern::Compiled {
    pcre2_code* code = nullptr;
    std::string expression;
    ~Compiled() { pcre2_code_free(code); }
};

Pattern::Pattern(Pattern&&) noexcept = default;
Pattern& Pattern::operator=(Pattern&&) noexcept = default;
Pattern::~Pattern() = default;

Pattern Pattern::literal(std::string text)
{
    Pattern p;
    p.m_literal = std::move(text);
    return p;
}

std::string Pattern::onigurumaCompatible(std::string_view expr)
{
    std::string out;
    out.reserve(expr.size() + 64);
    bool inClass = false;
    for (std::size_t i = 0; i < expr.size(); ++i) {
        const char c = expr[i];
        if (c == '\\' && i + 1 < expr.size()) {
            const char e = expr[i + 1];
            if (e == 's') {
                if (inClass)
                    out.append(kWhiteSpaceClass);
                else
                    out.append("[").append(kWhiteSpaceClass).append("]");
            } else if (e == 'S' && !inClass) {
                out.append("[^").append(kWhiteSpaceClass).append("]");
            } else {
                out.push_back(c);
                out.push_back(e);
            }
            ++i;
            continue;
        }
        if (!inClass && c == '[') {
            inClass = true;
            out.push_back(c);
            // A ']' right after '[' or '[^' is a literal member, not the end.
            if (i + 1 < expr.size() && expr[i + 1] == '^') {
                out.push_back('^');
                ++i;
            }
            if (i + 1 < expr.size() && expr[i + 1] == ']') {
                out.push_back(']');
                ++i;
            }
            continue;
        }
        if (inClass && c == '[' && i + 1 < expr.size() && expr[i + 1] == ':') {
            // POSIX class [:name:] inside a bracket expression: copy it whole.
            const std::size_t close = expr.find(":]", i + 2);
            if (close != std::string_view::npos) {
                out.append(expr.substr(i, close + 2 - i));
                i = close + 1;
                continue;
            }
        }
        if (inClass && c == ']')
            inClass = false;
        out.push_back(c);
    }
    return out;
}

Pattern Pattern::regex(const std::string& expression, const std::string& where)
{
    const std::string translated = onigurumaCompatible(expression);
    int errorCode = 0;
    PCRE2_SIZE errorOffset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translated.data()), translated.size(),
        // Oniguruma's default (Ruby) syntax makes ^ and $ line anchors.
        PCRE2_UTF | PCRE2_UCP | PCRE2_MULTILINE, &errorCode, &errorOffset, nullptr);
    if (!code) {
        throw InputError(where + ": regular expression " + expression + " does not compile: " + pcre2Message(errorCode)
            + " (at offset " + std::to_string(errorOffset) + " of the PCRE2 form " + translated + ")");
    }
    // JIT is an optimisation: where it is unavailable the interpreter gives the same matches.
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
    Pattern p;
    p.m_regex = std::make_unique<Compiled>();
    p.m_regex->code = code;
    p.m_regex->expression = expression;
    return p;
}

std::vector<Pattern::Span> Pattern::findAll(std::string_view text) const
{
    std::vector<Span> spans;
    if (!m_regex) {
        if (m_literal.empty())
            return spans;
        std::size_t pos = 0;
        while ((pos = text.find(m_literal, pos)) != std::string_view::npos) {
            spans.emplace_back(pos, pos + m_literal.size());
            pos += m_literal.size();
        }
        return spans;
    }
    MatchData md(m_regex->code);
    if (!md.data)
        throw Error("out of memory creating PCRE2 match data");
    pcre2_match_context* context = threadMatchContext();
    const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
    std::size_t start = 0;
    while (start <= text.size()) {
        const int rc = pcre2_match(m_regex->code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, md.data, context);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            throw InputError("regular expression " + m_regex->expression + " failed on a text of "
                + std::to_string(text.size()) + " bytes: " + pcre2Message(rc));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(md.data);
        const std::size_t b = ovector[0];
        const std::size_t e = ovector[1];
        spans.emplace_back(b, e);
        if (e > b) {
            start = e;
        } else {
            if (e >= text.size())
                break;
            start = e + unicode::sequenceLength(static_cast<unsigned char>(text[e]));
        }
    }
    return spans;
}

std::string Pattern::replaceAll(std::string_view text, std::string_view content) const
{
    std::string out;
    out.reserve(text.size());
    std::size_t last = 0;
    for (const auto& [b, e] : findAll(text)) {
        out.append(text.substr(last, b - last));
        out.append(content);
        last = e;
    }
    out.append(text.substr(last));
    return out;
}

} // namespace tunebench
