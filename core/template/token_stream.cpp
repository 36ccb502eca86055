#include "core/template/token_stream.h"

namespace tunebench::jinja {

TokenStream::TokenStream(const LexedTemplate& lexed, const std::string& origin)
    : m_tokens(lexed.tokens)
    , m_source(lexed.source)
    , m_origin(origin)
{ }

const Token& TokenStream::next()
{
    const Token& t = m_tokens[m_pos];
    if (t.type != TokenType::Eof)
        ++m_pos;
    return t;
}

bool TokenStream::skipOp(std::string_view op)
{
    if (!isOp(current(), op))
        return false;
    next();
    return true;
}

bool TokenStream::skipName(std::string_view name)
{
    if (!isName(current(), name))
        return false;
    next();
    return true;
}

std::string TokenStream::describe(const Token& t)
{
    switch (t.type) {
    case TokenType::Data:
        return "template data / text";
    case TokenType::VariableBegin:
        return "begin of print statement";
    case TokenType::VariableEnd:
        return "end of print statement";
    case TokenType::BlockBegin:
        return "begin of statement block";
    case TokenType::BlockEnd:
        return "end of statement block";
    case TokenType::Name:
    case TokenType::Operator:
        return t.text;
    case TokenType::String:
        return "string";
    case TokenType::Integer:
        return "integer";
    case TokenType::Float:
        return "float";
    case TokenType::Eof:
        return "end of template";
    }
    return "token";
}

void TokenStream::fail(SourcePos at, const std::string& message, ErrorKind kind) const
{
    throw TemplateError(kind, m_origin, at, message);
}

void TokenStream::failExpected(const std::string& expected) const
{
    if (current().type == TokenType::Eof)
        fail(here(), "unexpected end of template, expected '" + expected + "'");
    fail(here(), "expected token '" + expected + "', got '" + describe(current()) + "'");
}

void TokenStream::expectOp(std::string_view op)
{
    if (!skipOp(op))
        failExpected(std::string(op));
}

void TokenStream::expectType(TokenType type, const char* description)
{
    if (current().type != type)
        failExpected(description);
    next();
}

const Token& TokenStream::expectNameToken()
{
    if (current().type != TokenType::Name)
        failExpected("name");
    return next();
}

void TokenStream::expectName(std::string_view name)
{
    if (!skipName(name))
        failExpected(std::string(name));
}

TokenStream::DepthGuard::DepthGuard(TokenStream& stream, SourcePos at)
    : m_stream(stream)
{
    if (++m_stream.m_depth > kMaxParseDepth) {
        --m_stream.m_depth;
        m_stream.fail(
            at, "template nesting deeper than " + std::to_string(kMaxParseDepth) + " levels", ErrorKind::Limit);
    }
}

} // namespace tunebench::jinja
