#pragma once

#include "core/template/ast.h"
#include "core/template/token_stream.h"

#include <initializer_list>
#include <string>
#include <string_view>

namespace tunebench::jinja {

// Jinja2's expression grammar and precedence (condition < or < and < not < compare <
// + - < ~ < * / // % < ** < unary < primary with postfix subscripts, calls, filters
// and tests), building Expr trees. The statement parser extends it. Throws
// TemplateError as TokenStream does.
class ExpressionParser : public TokenStream {
public:
    using TokenStream::TokenStream;

    // Jinja2's parse_tuple: an expression, or a tuple when commas separate several.
    // `simplified` parses primaries only (assignment targets).
    ExprPtr parseTuple(bool simplified, bool withCondition, std::initializer_list<std::string_view> extraEnd,
        bool explicitParentheses);
    ExprPtr parseExpression(bool withCondition);
    ExprPtr parsePrimary();
    ExprPtr parsePostfix(ExprPtr node);
    // A filter chain; node is null in filter blocks and block sets (the block's
    // output is the input). startInline: the first filter has no leading '|'.
    ExprPtr parseFilter(ExprPtr node, bool startInline);

protected:
    ExprPtr make(ExprKind kind, SourcePos at) { return std::make_unique<Expr>(kind, at); }

private:
    bool isTupleEnd(std::initializer_list<std::string_view> extraEnd) const;
    ExprPtr parseCondition();
    ExprPtr parseOr();
    ExprPtr parseAnd();
    ExprPtr parseNot();
    ExprPtr parseCompare();
    ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, SourcePos at);
    ExprPtr parseMath1();
    ExprPtr parseConcat();
    ExprPtr parseMath2();
    ExprPtr parsePow();
    ExprPtr parseUnary(bool withFilter);
    ExprPtr parseList();
    ExprPtr parseDict();
    ExprPtr parseFilterExpr(ExprPtr node);
    // Subscripts and calls report errors at the start of the whole expression.
    ExprPtr parseSubscript(ExprPtr node);
    ExprPtr parseSubscribed();
    // `(args, name=value)` into node: positional arguments after operands[0].
    void parseCallArgs(Expr& node);
    ExprPtr parseCall(ExprPtr callee);
    std::string parseDottedName();
    ExprPtr parseTest(ExprPtr node);
};

} // namespace tunebench::jinja
