#include "core/template/lexer.h"

#include "core/template/unicode_text.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>

namespace tunebench::jinja {

namespace {

// Longest first, as Jinja2 orders its operator alternatives.
constexpr std::array<std::string_view, 25> kOperators = {
    "//",
    "**",
    "==",
    "!=",
    ">=",
    "<=",
    "+",
    "-",
    "/",
    "*",
    "%",
    "~",
    "[",
    "]",
    "(",
    ")",
    "{",
    "}",
    ">",
    "<",
    "=",
    ".",
    ":",
    "|",
    ",",
};

std::string normaliseNewlines(std::string_view source, bool keepTrailingNewline)
{
    std::string out;
    out.reserve(source.size());
    for (std::size_t i = 0; i < source.size(); ++i) {
        if (source[i] == '\r') {
            out += '\n';
            if (i + 1 < source.size() && source[i + 1] == '\n')
                ++i;
        } else {
            out += source[i];
        }
    }
    if (!keepTrailingNewline && !out.empty() && out.back() == '\n')
        out.pop_back();
    return out;
}

// The code point at a byte offset of valid UTF-8, and its length in bytes.
char32_t codePointAt(std::string_view s, std::size_t pos, std::size_t* length)
{
    utf8proc_int32_t cp = 0;
    const auto n = utf8proc_iterate(
        reinterpret_cast<const utf8proc_uint8_t*>(s.data() + pos), static_cast<utf8proc_ssize_t>(s.size() - pos), &cp);
    *length = n > 0 ? static_cast<std::size_t>(n) : 1;
    return n > 0 ? static_cast<char32_t>(cp) : 0xFFFD;
}

// Byte length of `s` without its trailing Python whitespace.
std::size_t rstripLength(std::string_view s)
{
    std::size_t end = s.size();
    while (end > 0) {
        std::size_t start = end - 1;
        while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80)
            --start;
        std::size_t len = 0;
        if (!isPythonSpace(codePointAt(s, start, &len)))
            break;
        end = start;
    }
    return end;
}

// End of a run of Python whitespace starting at pos.
std::size_t skipSpace(std::string_view s, std::size_t pos)
{
    while (pos < s.size()) {
        std::size_t len = 0;
        if (!isPythonSpace(codePointAt(s, pos, &len)))
            break;
        pos += len;
    }
    return pos;
}

bool allSpace(std::string_view s)
{
    return !s.empty() && skipSpace(s, 0) == s.size();
}

bool isDigit(char c)
{
    return c >= '0' && c <= '9';
}

bool isNameStart(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool isNameChar(char c)
{
    return isNameStart(c) || isDigit(c);
}

class Lexer {
public:
    Lexer(std::string_view source, const std::string& origin, const LexerOptions& options)
        : m_map(normaliseNewlines(source, options.keepTrailingNewline))
        , m_src(m_map.text())
        , m_origin(origin)
        , m_options(options)
    { }

    LexedTemplate run()
    {
        decodeUtf8(m_src, m_origin); // rejects invalid UTF-8 before anything else
        std::size_t pos = 0;
        while (pos < m_src.size())
            pos = lexRoot(pos);
        push(TokenType::Eof, {}, m_src.size());
        return LexedTemplate { std::move(m_map), std::move(m_tokens) };
    }

private:
    enum class TagKind { Variable, Block, Comment, Raw };

    [[noreturn]] void fail(std::size_t offset, const std::string& message, ErrorKind kind = ErrorKind::Syntax) const
    {
        throw TemplateError(kind, m_origin, m_map.position(offset), message);
    }

    void push(TokenType type, std::string text, std::size_t offset)
    {
        Token t;
        t.type = type;
        t.text = std::move(text);
        t.offset = offset;
        m_tokens.push_back(std::move(t));
    }

    bool startsWith(std::size_t pos, std::string_view what) const { return m_src.compare(pos, what.size(), what) == 0; }

    // Matches `{%(-|+|)\s*raw\s*(?:-%}\s*|%})` at pos; returns its end or npos.
    std::size_t matchRawBegin(std::size_t pos) const
    {
        std::size_t p = pos + 2;
        if (p < m_src.size() && (m_src[p] == '-' || m_src[p] == '+'))
            ++p;
        p = skipSpace(m_src, p);
        if (!startsWith(p, "raw"))
            return std::string::npos;
        p = skipSpace(m_src, p + 3);
        if (startsWith(p, "-%}"))
            return skipSpace(m_src, p + 3);
        if (startsWith(p, "%}"))
            return p + 2;
        return std::string::npos;
    }

    // Whitespace control for the text before a tag: '-' strips all of it, and
    // lstrip_blocks drops the spaces between the line's start and a block tag.
    std::string_view controlledText(std::string_view text, char sign, bool isVariable) const
    {
        if (sign == '-')
            return text.substr(0, rstripLength(text));
        if (sign != '+' && m_options.lstripBlocks && !isVariable) {
            const std::size_t nl = text.rfind('\n');
            const std::size_t lineStart = nl == std::string_view::npos ? 0 : nl + 1;
            if ((lineStart > 0 || m_lineStarting) && allSpace(text.substr(lineStart)))
                return text.substr(0, lineStart);
        }
        return text;
    }

    void pushData(std::string_view text, std::size_t offset)
    {
        if (!text.empty())
            push(TokenType::Data, std::string(text), offset);
    }

    std::size_t lexRoot(std::size_t pos)
    {
        std::size_t found = pos;
        TagKind kind = TagKind::Block;
        std::size_t rawEnd = std::string::npos;
        for (;; ++found) {
            found = m_src.find('{', found);
            if (found == std::string::npos || found + 1 >= m_src.size()) {
                pushData(std::string_view(m_src).substr(pos), pos);
                return m_src.size();
            }
            const char c = m_src[found + 1];
            if (c == '%') {
                rawEnd = matchRawBegin(found);
                kind = rawEnd != std::string::npos ? TagKind::Raw : TagKind::Block;
                break;
            }
            if (c == '{') {
                kind = TagKind::Variable;
                break;
            }
            if (c == '#') {
                kind = TagKind::Comment;
                break;
            }
        }
        const char sign = found + 2 < m_src.size() && (m_src[found + 2] == '-' || m_src[found + 2] == '+')
            ? m_src[found + 2]
            : '\0';
        const std::string_view text = std::string_view(m_src).substr(pos, found - pos);
        pushData(controlledText(text, sign, kind == TagKind::Variable), pos);
        m_lineStarting = false; // the opening tag is the end of the last match
        const std::size_t inner = found + 2 + (sign ? 1 : 0);
        switch (kind) {
        case TagKind::Comment:
            return lexComment(found, inner);
        case TagKind::Raw:
            m_lineStarting = m_src[rawEnd - 1] == '\n';
            return lexRaw(found, rawEnd);
        case TagKind::Variable:
        case TagKind::Block:
            return lexTag(found, inner, kind == TagKind::Block);
        }
        return m_src.size();
    }

    // The end of a block-like closing delimiter at pos (`+X`, `-X` plus following
    // whitespace, or `X` plus one newline under trim_blocks), or npos.
    std::size_t matchBlockEnd(std::size_t pos, std::string_view delimiter) const
    {
        if (m_src.compare(pos, 1, "+") == 0 && startsWith(pos + 1, delimiter))
            return pos + 1 + delimiter.size();
        if (m_src.compare(pos, 1, "-") == 0 && startsWith(pos + 1, delimiter))
            return skipSpace(m_src, pos + 1 + delimiter.size());
        if (startsWith(pos, delimiter)) {
            std::size_t end = pos + delimiter.size();
            if (m_options.trimBlocks && end < m_src.size() && m_src[end] == '\n')
                ++end;
            return end;
        }
        return std::string::npos;
    }

    std::size_t lexComment(std::size_t begin, std::size_t inner)
    {
        for (std::size_t p = inner; p < m_src.size(); ++p) {
            const std::size_t end = matchBlockEnd(p, "#}");
            if (end != std::string::npos) {
                m_lineStarting = m_src[end - 1] == '\n';
                return end;
            }
        }
        fail(begin, "missing end of comment tag");
    }

    std::size_t lexRaw(std::size_t begin, std::size_t bodyStart)
    {
        for (std::size_t p = m_src.find("{%", bodyStart); p != std::string::npos; p = m_src.find("{%", p + 1)) {
            std::size_t q = p + 2;
            char sign = '\0';
            if (q < m_src.size() && (m_src[q] == '-' || m_src[q] == '+'))
                sign = m_src[q++];
            q = skipSpace(m_src, q);
            if (!startsWith(q, "endraw"))
                continue;
            q = skipSpace(m_src, q + 6);
            const std::size_t end = matchBlockEnd(q, "%}");
            if (end == std::string::npos)
                continue;
            const std::string_view body = std::string_view(m_src).substr(bodyStart, p - bodyStart);
            pushData(controlledText(body, sign, false), bodyStart);
            m_lineStarting = m_src[end - 1] == '\n';
            return end;
        }
        fail(begin, "missing end of raw directive");
    }

    std::size_t lexTag(std::size_t begin, std::size_t pos, bool block)
    {
        push(block ? TokenType::BlockBegin : TokenType::VariableBegin, {}, begin);
        std::vector<char> balance;
        while (pos < m_src.size()) {
            if (balance.empty()) {
                std::size_t end = std::string::npos;
                if (block) {
                    end = matchBlockEnd(pos, "%}");
                } else if (startsWith(pos, "-}}")) {
                    end = skipSpace(m_src, pos + 3);
                } else if (startsWith(pos, "}}")) {
                    end = pos + 2;
                }
                if (end != std::string::npos) {
                    push(block ? TokenType::BlockEnd : TokenType::VariableEnd, {}, pos);
                    m_lineStarting = m_src[end - 1] == '\n';
                    return end;
                }
            }
            const std::size_t spaceEnd = skipSpace(m_src, pos);
            if (spaceEnd != pos) {
                pos = spaceEnd;
                continue;
            }
            if (std::size_t end = matchFloat(pos); end != std::string::npos) {
                pushFloat(pos, end);
                pos = end;
                continue;
            }
            if (std::size_t end = matchInteger(pos); end != std::string::npos) {
                pushInteger(pos, end);
                pos = end;
                continue;
            }
            if (isNameStart(m_src[pos])) {
                std::size_t end = pos;
                while (end < m_src.size() && isNameChar(m_src[end]))
                    ++end;
                if (end < m_src.size() && static_cast<unsigned char>(m_src[end]) >= 0x80)
                    fail(pos, "identifiers with non-ASCII characters are not supported", ErrorKind::Unsupported);
                push(TokenType::Name, m_src.substr(pos, end - pos), pos);
                pos = end;
                continue;
            }
            if (m_src[pos] == '\'' || m_src[pos] == '"') {
                if (std::size_t end = matchString(pos); end != std::string::npos) {
                    push(TokenType::String, decodeStringLiteral(pos, end), pos);
                    pos = end;
                    continue;
                }
            }
            if (std::size_t end = matchOperator(pos, balance); end != std::string::npos) {
                pos = end;
                continue;
            }
            std::size_t len = 0;
            const char32_t cp = codePointAt(m_src, pos, &len);
            if (cp >= 0x80 && isAlpha(cp))
                fail(pos, "identifiers with non-ASCII characters are not supported", ErrorKind::Unsupported);
            fail(pos,
                "unexpected character " + reprChar(pos, len)
                    + (m_src[pos] == '\'' || m_src[pos] == '"' ? " (unterminated string)" : ""));
        }
        // Jinja2 stops here too; the parser reports the missing end of the tag.
        return pos;
    }

    std::string reprChar(std::size_t pos, std::size_t len) const { return "'" + m_src.substr(pos, len) + "'"; }

    // `(\d+_)*\d+` at pos: its end, or pos when there is no digit.
    std::size_t matchDigits(std::size_t pos) const
    {
        std::size_t p = pos;
        while (p < m_src.size() && isDigit(m_src[p]))
            ++p;
        if (p == pos)
            return pos;
        while (p + 1 < m_src.size() && m_src[p] == '_' && isDigit(m_src[p + 1])) {
            p += 1;
            while (p < m_src.size() && isDigit(m_src[p]))
                ++p;
        }
        return p;
    }

    std::size_t matchExponent(std::size_t pos) const
    {
        if (pos >= m_src.size() || (m_src[pos] != 'e' && m_src[pos] != 'E'))
            return std::string::npos;
        std::size_t p = pos + 1;
        if (p < m_src.size() && (m_src[p] == '+' || m_src[p] == '-'))
            ++p;
        const std::size_t end = matchDigits(p);
        return end == p ? std::string::npos : end;
    }

    // Jinja2's float rule: digits with a fraction, an exponent or both, not
    // directly after a dot (so `a.0.1` stays subscripts).
    std::size_t matchFloat(std::size_t pos) const
    {
        if (pos > 0 && m_src[pos - 1] == '.')
            return std::string::npos;
        const std::size_t intEnd = matchDigits(pos);
        if (intEnd == pos)
            return std::string::npos;
        std::size_t fracEnd = std::string::npos;
        if (intEnd < m_src.size() && m_src[intEnd] == '.') {
            const std::size_t f = matchDigits(intEnd + 1);
            if (f != intEnd + 1)
                fracEnd = f;
        }
        if (fracEnd != std::string::npos) {
            const std::size_t e = matchExponent(fracEnd);
            return e != std::string::npos ? e : fracEnd;
        }
        return matchExponent(intEnd);
    }

    std::size_t matchInteger(std::size_t pos) const
    {
        const char c = m_src[pos];
        if (!isDigit(c))
            return std::string::npos;
        if (c == '0' && pos + 1 < m_src.size()) {
            const char p = static_cast<char>(m_src[pos + 1] | 0x20);
            auto isBaseDigit = [p](char d) {
                if (p == 'b')
                    return d == '0' || d == '1';
                if (p == 'o')
                    return d >= '0' && d <= '7';
                return isDigit(d) || ((d | 0x20) >= 'a' && (d | 0x20) <= 'f');
            };
            if (p == 'b' || p == 'o' || p == 'x') {
                std::size_t q = pos + 2;
                std::size_t end = std::string::npos;
                while (q < m_src.size()) {
                    std::size_t r = q;
                    if (m_src[r] == '_')
                        ++r;
                    if (r < m_src.size() && isBaseDigit(m_src[r])) {
                        q = r + 1;
                        end = q;
                    } else {
                        break;
                    }
                }
                if (end != std::string::npos)
                    return end;
            }
        }
        std::size_t q = pos + 1;
        auto accepts = [c](char d) { return c == '0' ? d == '0' : isDigit(d); };
        while (q < m_src.size()) {
            std::size_t r = q;
            if (m_src[r] == '_')
                ++r;
            if (r < m_src.size() && accepts(m_src[r]))
                q = r + 1;
            else
                break;
        }
        return q;
    }

    void pushFloat(std::size_t pos, std::size_t end)
    {
        std::string text;
        for (std::size_t i = pos; i < end; ++i)
            if (m_src[i] != '_')
                text += m_src[i];
        Token t;
        t.type = TokenType::Float;
        t.number = std::strtod(text.c_str(), nullptr);
        t.text = m_src.substr(pos, end - pos);
        t.offset = pos;
        m_tokens.push_back(std::move(t));
    }

    void pushInteger(std::size_t pos, std::size_t end)
    {
        std::string digits;
        int base = 10;
        std::size_t start = pos;
        if (end - pos > 2 && m_src[pos] == '0' && !isDigit(m_src[pos + 1]) && m_src[pos + 1] != '_') {
            const char p = static_cast<char>(m_src[pos + 1] | 0x20);
            base = p == 'b' ? 2 : (p == 'o' ? 8 : 16);
            start = pos + 2;
        }
        for (std::size_t i = start; i < end; ++i)
            if (m_src[i] != '_')
                digits += m_src[i];
        errno = 0;
        char* stop = nullptr;
        const long long value = std::strtoll(digits.c_str(), &stop, base);
        if (errno == ERANGE)
            fail(pos, "integer literal " + m_src.substr(pos, end - pos) + " does not fit in 64 bits",
                ErrorKind::Unsupported);
        Token t;
        t.type = TokenType::Integer;
        t.integer = value;
        t.text = m_src.substr(pos, end - pos);
        t.offset = pos;
        m_tokens.push_back(std::move(t));
    }

    std::size_t matchString(std::size_t pos) const
    {
        const char quote = m_src[pos];
        for (std::size_t p = pos + 1; p < m_src.size(); ++p) {
            if (m_src[p] == '\\') {
                ++p;
                continue;
            }
            if (m_src[p] == quote)
                return p + 1;
        }
        return std::string::npos;
    }

    std::size_t matchOperator(std::size_t pos, std::vector<char>& balance)
    {
        for (std::string_view op : kOperators) {
            if (!startsWith(pos, op))
                continue;
            const char c = op[0];
            if (op.size() == 1 && (c == '(' || c == '[' || c == '{')) {
                balance.push_back(c == '(' ? ')' : (c == '[' ? ']' : '}'));
            } else if (op.size() == 1 && (c == ')' || c == ']' || c == '}')) {
                if (balance.empty())
                    fail(pos, std::string("unexpected '") + c + "'");
                if (balance.back() != c)
                    fail(pos, std::string("unexpected '") + c + "', expected '" + balance.back() + "'");
                balance.pop_back();
            }
            push(TokenType::Operator, std::string(op), pos);
            return pos + op.size();
        }
        return std::string::npos;
    }

    // Python's unicode-escape decoding of a literal's body, as Jinja2 applies it.
    std::string decodeStringLiteral(std::size_t begin, std::size_t end) const
    {
        const std::string_view body = std::string_view(m_src).substr(begin + 1, end - begin - 2);
        std::string out;
        out.reserve(body.size());
        auto hexValue = [&](std::size_t at, int digits, const char* name) -> char32_t {
            char32_t v = 0;
            for (int i = 0; i < digits; ++i) {
                const std::size_t k = at + static_cast<std::size_t>(i);
                const char d = k < body.size() ? body[k] : '\0';
                int x = -1;
                if (isDigit(d))
                    x = d - '0';
                else if ((d | 0x20) >= 'a' && (d | 0x20) <= 'f')
                    x = (d | 0x20) - 'a' + 10;
                if (x < 0)
                    fail(begin, std::string("truncated ") + name + " escape in string literal");
                v = v * 16 + static_cast<char32_t>(x);
            }
            return v;
        };
        auto appendCodePoint = [&](char32_t cp) {
            if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
                fail(begin, "string literal escapes to a code point UTF-8 cannot hold", ErrorKind::Unsupported);
            appendUtf8(out, cp);
        };
        for (std::size_t i = 0; i < body.size(); ++i) {
            const char c = body[i];
            if (c != '\\' || i + 1 >= body.size()) {
                out += c;
                continue;
            }
            const char e = body[++i];
            switch (e) {
            case '\n':
                break; // line continuation
            case '\\':
            case '\'':
            case '"':
                out += e;
                break;
            case 'a':
                out += '\a';
                break;
            case 'b':
                out += '\b';
                break;
            case 'f':
                out += '\f';
                break;
            case 'n':
                out += '\n';
                break;
            case 'r':
                out += '\r';
                break;
            case 't':
                out += '\t';
                break;
            case 'v':
                out += '\v';
                break;
            case 'x':
                appendCodePoint(hexValue(i + 1, 2, "\\xXX"));
                i += 2;
                break;
            case 'u':
                appendCodePoint(hexValue(i + 1, 4, "\\uXXXX"));
                i += 4;
                break;
            case 'U':
                appendCodePoint(hexValue(i + 1, 8, "\\UXXXXXXXX"));
                i += 8;
                break;
            case 'N':
                fail(begin, "\\N{...} escapes in string literals are not supported", ErrorKind::Unsupported);
            default:
                if (e >= '0' && e <= '7') {
                    char32_t v = static_cast<char32_t>(e - '0');
                    for (int k = 0; k < 2 && i + 1 < body.size() && body[i + 1] >= '0' && body[i + 1] <= '7'; ++k)
                        v = v * 8 + static_cast<char32_t>(body[++i] - '0');
                    appendCodePoint(v);
                } else if (static_cast<unsigned char>(e) >= 0x80) {
                    // Jinja2 escapes non-ASCII text to \xNN/\uNNNN before decoding, so a
                    // backslash in front of one keeps that escape's spelling.
                    std::size_t len = 0;
                    const char32_t cp = codePointAt(body, i, &len);
                    char buf[16];
                    if (cp < 0x100)
                        std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(cp));
                    else if (cp < 0x10000)
                        std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(cp));
                    else
                        std::snprintf(buf, sizeof buf, "\\U%08x", static_cast<unsigned>(cp));
                    out += buf;
                    i += len - 1;
                } else {
                    out += '\\';
                    out += e;
                }
            }
        }
        return out;
    }

    SourceMap m_map;
    const std::string& m_src;
    const std::string& m_origin;
    LexerOptions m_options;
    std::vector<Token> m_tokens;
    bool m_lineStarting = true;
};

} // namespace

SourceMap::SourceMap(std::string text)
    : m_text(std::move(text))
{
    m_lineStarts.push_back(0);
    for (std::size_t i = 0; i < m_text.size(); ++i)
        if (m_text[i] == '\n')
            m_lineStarts.push_back(i + 1);
}

SourcePos SourceMap::position(std::size_t offset) const
{
    auto it = std::upper_bound(m_lineStarts.begin(), m_lineStarts.end(), offset);
    const std::size_t line = static_cast<std::size_t>(it - m_lineStarts.begin());
    const std::size_t start = m_lineStarts[line - 1];
    const std::size_t column = codePointCount(std::string_view(m_text).substr(start, offset - start)) + 1;
    return SourcePos { static_cast<std::uint32_t>(line), static_cast<std::uint32_t>(column) };
}

LexedTemplate tokenize(std::string_view source, const std::string& origin, const LexerOptions& options)
{
    return Lexer(source, origin, options).run();
}

} // namespace tunebench::jinja
