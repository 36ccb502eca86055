#pragma once

#include "core/template/lexer.h"
#include "core/template/template_error.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench::jinja {

// Deeper nesting of blocks or expressions is refused rather than risking the stack.
inline constexpr int kMaxParseDepth = 200;

// The parser's cursor over the lexer's tokens: lookahead, expectations, and errors
// that name origin:line:column (TemplateError, ErrorKind::Syntax unless given).
class TokenStream {
public:
    TokenStream(const LexedTemplate& lexed, const std::string& origin);

    const Token& current() const { return m_tokens[m_pos]; }
    const Token& look() const { return m_tokens[std::min(m_pos + 1, m_tokens.size() - 1)]; }
    const Token& next();
    SourcePos pos(const Token& t) const { return m_source.position(t.offset); }
    SourcePos here() const { return pos(current()); }
    bool isOp(const Token& t, std::string_view op) const { return t.type == TokenType::Operator && t.text == op; }
    bool isName(const Token& t, std::string_view name) const { return t.type == TokenType::Name && t.text == name; }
    bool skipOp(std::string_view op);
    bool skipName(std::string_view name);
    static std::string describe(const Token& t);
    [[noreturn]] void fail(SourcePos at, const std::string& message, ErrorKind kind = ErrorKind::Syntax) const;
    [[noreturn]] void failExpected(const std::string& expected) const;
    void expectOp(std::string_view op);
    void expectType(TokenType type, const char* description);
    const Token& expectNameToken();
    void expectName(std::string_view name);

    // Counts nesting for as long as it lives; past kMaxParseDepth it throws
    // TemplateError (ErrorKind::Limit).
    class DepthGuard {
    public:
        DepthGuard(TokenStream& stream, SourcePos at);
        ~DepthGuard() { --m_stream.m_depth; }
        DepthGuard(const DepthGuard&) = delete;
        DepthGuard& operator=(const DepthGuard&) = delete;

    private:
        TokenStream& m_stream;
    };

private:
    const std::vector<Token>& m_tokens;
    const SourceMap& m_source;
    const std::string& m_origin;
    std::size_t m_pos = 0;
    int m_depth = 0;
};

} // namespace tunebench::jinja
