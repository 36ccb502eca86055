#pragma once

#include "core/template/ast.h"
#include "core/template/lexer.h"

#include <string>

namespace tunebench::jinja {

// Builds the statement tree from tokens with Jinja2's grammar and precedence.
// Checks at parse time what Jinja2 checks at compile time (unknown filters and
// tests, break outside a loop). Throws TemplateError: Syntax for invalid Jinja2,
// Unsupported (naming the construct) for valid Jinja2 this interpreter lacks,
// Limit for nesting deeper than kMaxParseDepth (token_stream.h); always with origin:line:column.
StmtList parseTemplate(const LexedTemplate& lexed, const std::string& origin);

} // namespace tunebench::jinja
