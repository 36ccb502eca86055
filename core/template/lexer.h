#pragma once

#include "core/template/template_error.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench::jinja {

enum class TokenType {
    Data, // template text between tags (already whitespace-controlled)
    VariableBegin, // {{
    VariableEnd, // }}
    BlockBegin, // {%
    BlockEnd, // %}
    Name,
    String, // text holds the decoded value
    Integer, // integer holds the value
    Float, // number holds the value
    Operator,
    Eof,
};

struct Token {
    TokenType type = TokenType::Eof;
    std::string text;
    std::int64_t integer = 0;
    double number = 0.0;
    std::size_t offset = 0; // byte offset in the normalised source
};

// Jinja2 Environment options that change lexing; the defaults are transformers'.
struct LexerOptions {
    bool trimBlocks = true; // drop the first newline after a block or comment tag
    bool lstripBlocks = true; // drop spaces and tabs before a block or comment tag on its line
    bool keepTrailingNewline = false;
};

// The template text as lexed (newlines normalised to \n, one trailing newline
// dropped) and the way back from byte offsets to line:column.
class SourceMap {
public:
    explicit SourceMap(std::string text);
    const std::string& text() const { return m_text; }
    // 1-based line and column (in code points) of a byte offset.
    SourcePos position(std::size_t offset) const;

private:
    std::string m_text;
    std::vector<std::size_t> m_lineStarts;
};

struct LexedTemplate {
    SourceMap source;
    std::vector<Token> tokens; // ends with one Eof token
};

// Splits a template into tokens with Jinja2's rules: `{%-`/`-%}` strip whitespace
// around a tag, `{%+`/`+%}` keep it, trim_blocks and lstrip_blocks as configured,
// comments dropped, {% raw %} bodies passed through as text. Throws TemplateError
// (Syntax, or Unsupported for valid input beyond this lexer) naming origin:line:column.
LexedTemplate tokenize(std::string_view source, const std::string& origin, const LexerOptions& options = {});

} // namespace tunebench::jinja
