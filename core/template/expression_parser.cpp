#include "core/template/expression_parser.h"

#include <algorithm>

namespace tunebench::jinja {

bool ExpressionParser::isTupleEnd(std::initializer_list<std::string_view> extraEnd) const
{
    const Token& t = current();
    if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || isOp(t, ")"))
        return true;
    return t.type == TokenType::Name && std::find(extraEnd.begin(), extraEnd.end(), t.text) != extraEnd.end();
}

// Jinja2's parse_tuple: an expression, or a tuple when commas separate several.
// `simplified` parses primaries only (assignment targets).
ExprPtr ExpressionParser::parseTuple(
    bool simplified, bool withCondition, std::initializer_list<std::string_view> extraEnd, bool explicitParentheses)
{
    const SourcePos at = here();
    std::vector<ExprPtr> items;
    bool isTuple = false;
    for (;;) {
        if (!items.empty())
            expectOp(",");
        if (isTupleEnd(extraEnd))
            break;
        items.push_back(simplified ? parsePrimary() : parseExpression(withCondition));
        if (isOp(current(), ","))
            isTuple = true;
        else
            break;
    }
    if (!isTuple) {
        if (!items.empty())
            return std::move(items.front());
        if (!explicitParentheses)
            fail(here(), "expected an expression, got '" + describe(current()) + "'");
    }
    auto tuple = make(ExprKind::Tuple, at);
    tuple->operands = std::move(items);
    return tuple;
}

ExprPtr ExpressionParser::parseExpression(bool withCondition)
{
    DepthGuard guard(*this, here());
    return withCondition ? parseCondition() : parseOr();
}

ExprPtr ExpressionParser::parseCondition()
{
    ExprPtr expr = parseOr();
    while (isName(current(), "if")) {
        const SourcePos at = here();
        next();
        auto node = make(ExprKind::Condition, at);
        ExprPtr test = parseOr();
        ExprPtr otherwise = skipName("else") ? parseCondition() : nullptr;
        node->operands.push_back(std::move(test));
        node->operands.push_back(std::move(expr));
        node->operands.push_back(std::move(otherwise));
        expr = std::move(node);
    }
    return expr;
}

ExprPtr ExpressionParser::parseOr()
{
    ExprPtr left = parseAnd();
    while (isName(current(), "or")) {
        auto node = make(ExprKind::Or, here());
        next();
        node->operands.push_back(std::move(left));
        node->operands.push_back(parseAnd());
        left = std::move(node);
    }
    return left;
}

ExprPtr ExpressionParser::parseAnd()
{
    ExprPtr left = parseNot();
    while (isName(current(), "and")) {
        auto node = make(ExprKind::And, here());
        next();
        node->operands.push_back(std::move(left));
        node->operands.push_back(parseNot());
        left = std::move(node);
    }
    return left;
}

ExprPtr ExpressionParser::parseNot()
{
    if (isName(current(), "not")) {
        DepthGuard guard(*this, here());
        auto node = make(ExprKind::Not, here());
        next();
        node->operands.push_back(parseNot());
        return node;
    }
    return parseCompare();
}

ExprPtr ExpressionParser::parseCompare()
{
    const SourcePos at = here();
    ExprPtr first = parseMath1();
    std::vector<CompareOp> ops;
    std::vector<ExprPtr> operands;
    for (;;) {
        const Token& t = current();
        CompareOp op;
        if (isOp(t, "=="))
            op = CompareOp::Eq;
        else if (isOp(t, "!="))
            op = CompareOp::Ne;
        else if (isOp(t, "<"))
            op = CompareOp::Lt;
        else if (isOp(t, "<="))
            op = CompareOp::Le;
        else if (isOp(t, ">"))
            op = CompareOp::Gt;
        else if (isOp(t, ">="))
            op = CompareOp::Ge;
        else if (isName(t, "in"))
            op = CompareOp::In;
        else if (isName(t, "not") && isName(look(), "in")) {
            next();
            op = CompareOp::NotIn;
        } else
            break;
        next();
        ops.push_back(op);
        operands.push_back(parseMath1());
    }
    if (ops.empty())
        return first;
    auto node = make(ExprKind::Compare, at);
    node->compareOps = std::move(ops);
    node->operands.push_back(std::move(first));
    for (auto& o : operands)
        node->operands.push_back(std::move(o));
    return node;
}

ExprPtr ExpressionParser::binary(BinaryOp op, ExprPtr left, ExprPtr right, SourcePos at)
{
    auto node = make(ExprKind::Binary, at);
    node->binaryOp = op;
    node->operands.push_back(std::move(left));
    node->operands.push_back(std::move(right));
    return node;
}

ExprPtr ExpressionParser::parseMath1()
{
    ExprPtr left = parseConcat();
    while (isOp(current(), "+") || isOp(current(), "-")) {
        const SourcePos at = here();
        const BinaryOp op = next().text == "+" ? BinaryOp::Add : BinaryOp::Sub;
        left = binary(op, std::move(left), parseConcat(), at);
    }
    return left;
}

ExprPtr ExpressionParser::parseConcat()
{
    const SourcePos at = here();
    ExprPtr first = parseMath2();
    if (!isOp(current(), "~"))
        return first;
    auto node = make(ExprKind::Concat, at);
    node->operands.push_back(std::move(first));
    while (skipOp("~"))
        node->operands.push_back(parseMath2());
    return node;
}

ExprPtr ExpressionParser::parseMath2()
{
    ExprPtr left = parsePow();
    for (;;) {
        const Token& t = current();
        BinaryOp op;
        if (isOp(t, "*"))
            op = BinaryOp::Mul;
        else if (isOp(t, "/"))
            op = BinaryOp::Div;
        else if (isOp(t, "//"))
            op = BinaryOp::FloorDiv;
        else if (isOp(t, "%"))
            op = BinaryOp::Mod;
        else
            break;
        const SourcePos at = here();
        next();
        left = binary(op, std::move(left), parsePow(), at);
    }
    return left;
}

ExprPtr ExpressionParser::parsePow()
{
    ExprPtr left = parseUnary(true);
    while (isOp(current(), "**")) {
        const SourcePos at = here();
        next();
        left = binary(BinaryOp::Pow, std::move(left), parseUnary(true), at);
    }
    return left;
}

ExprPtr ExpressionParser::parseUnary(bool withFilter)
{
    DepthGuard guard(*this, here());
    ExprPtr node;
    if (isOp(current(), "-") || isOp(current(), "+")) {
        const SourcePos at = here();
        node = make(next().text == "-" ? ExprKind::Negate : ExprKind::Plus, at);
        node->operands.push_back(parseUnary(false));
    } else {
        node = parsePrimary();
    }
    node = parsePostfix(std::move(node));
    if (withFilter)
        node = parseFilterExpr(std::move(node));
    return node;
}

ExprPtr ExpressionParser::parsePrimary()
{
    DepthGuard guard(*this, here());
    const Token& t = current();
    const SourcePos at = here();
    switch (t.type) {
    case TokenType::Name: {
        auto node = make(ExprKind::Literal, at);
        if (t.text == "true" || t.text == "True")
            node->literal = Value::boolean(true);
        else if (t.text == "false" || t.text == "False")
            node->literal = Value::boolean(false);
        else if (t.text == "none" || t.text == "None")
            node->literal = Value::none();
        else {
            node->kind = ExprKind::Name;
            node->name = t.text;
        }
        next();
        return node;
    }
    case TokenType::String: {
        std::string text;
        while (current().type == TokenType::String)
            text += next().text;
        auto node = make(ExprKind::Literal, at);
        node->literal = Value::string(std::move(text));
        return node;
    }
    case TokenType::Integer: {
        auto node = make(ExprKind::Literal, at);
        node->literal = Value::integer(next().integer);
        return node;
    }
    case TokenType::Float: {
        auto node = make(ExprKind::Literal, at);
        node->literal = Value::number(next().number);
        return node;
    }
    case TokenType::Operator:
        if (t.text == "(") {
            next();
            ExprPtr inner = parseTuple(false, true, {}, true);
            expectOp(")");
            return inner;
        }
        if (t.text == "[")
            return parseList();
        if (t.text == "{")
            return parseDict();
        break;
    default:
        break;
    }
    if (t.type == TokenType::Eof)
        fail(at, "unexpected end of template");
    fail(at, "unexpected '" + describe(t) + "'");
}

ExprPtr ExpressionParser::parseList()
{
    auto node = make(ExprKind::List, here());
    expectOp("[");
    while (!isOp(current(), "]")) {
        if (!node->operands.empty())
            expectOp(",");
        if (isOp(current(), "]"))
            break;
        node->operands.push_back(parseExpression(true));
    }
    expectOp("]");
    return node;
}

ExprPtr ExpressionParser::parseDict()
{
    auto node = make(ExprKind::Dict, here());
    expectOp("{");
    while (!isOp(current(), "}")) {
        if (!node->operands.empty())
            expectOp(",");
        if (isOp(current(), "}"))
            break;
        node->operands.push_back(parseExpression(true));
        expectOp(":");
        node->operands.push_back(parseExpression(true));
    }
    expectOp("}");
    return node;
}

ExprPtr ExpressionParser::parsePostfix(ExprPtr node)
{
    for (;;) {
        if (isOp(current(), ".") || isOp(current(), "["))
            node = parseSubscript(std::move(node));
        else if (isOp(current(), "("))
            node = parseCall(std::move(node));
        else
            return node;
    }
}

ExprPtr ExpressionParser::parseFilterExpr(ExprPtr node)
{
    for (;;) {
        if (isOp(current(), "|"))
            node = parseFilter(std::move(node), false);
        else if (isName(current(), "is"))
            node = parseTest(std::move(node));
        else if (isOp(current(), "("))
            node = parseCall(std::move(node));
        else
            return node;
    }
}

// Subscripts and calls report errors at the start of the whole expression.
ExprPtr ExpressionParser::parseSubscript(ExprPtr node)
{
    const SourcePos at = node->pos;
    const Token& t = next();
    if (t.text == ".") {
        const Token& attr = current();
        if (attr.type == TokenType::Name) {
            auto get = make(ExprKind::GetAttr, at);
            get->name = attr.text;
            get->operands.push_back(std::move(node));
            next();
            return get;
        }
        if (attr.type != TokenType::Integer)
            fail(here(), "expected name or number");
        auto get = make(ExprKind::GetItem, at);
        auto key = make(ExprKind::Literal, here());
        key->literal = Value::integer(attr.integer);
        next();
        get->operands.push_back(std::move(node));
        get->operands.push_back(std::move(key));
        return get;
    }
    std::vector<ExprPtr> args;
    while (!isOp(current(), "]")) {
        if (!args.empty())
            expectOp(",");
        args.push_back(parseSubscribed());
    }
    expectOp("]");
    auto get = make(ExprKind::GetItem, at);
    get->operands.push_back(std::move(node));
    if (args.size() == 1) {
        get->operands.push_back(std::move(args.front()));
    } else {
        auto tuple = make(ExprKind::Tuple, at);
        tuple->operands = std::move(args);
        get->operands.push_back(std::move(tuple));
    }
    return get;
}

ExprPtr ExpressionParser::parseSubscribed()
{
    const SourcePos at = here();
    ExprPtr start;
    if (isOp(current(), ":")) {
        next();
    } else {
        start = parseExpression(true);
        if (!isOp(current(), ":"))
            return start;
        next();
    }
    auto slice = make(ExprKind::Slice, at);
    slice->operands.push_back(std::move(start));
    if (isOp(current(), ":") || isOp(current(), "]") || isOp(current(), ","))
        slice->operands.push_back(nullptr);
    else
        slice->operands.push_back(parseExpression(true));
    if (skipOp(":")) {
        if (isOp(current(), "]") || isOp(current(), ","))
            slice->operands.push_back(nullptr);
        else
            slice->operands.push_back(parseExpression(true));
    } else {
        slice->operands.push_back(nullptr);
    }
    return slice;
}

// `(args, name=value)` into node: positional arguments after operands[0].
void ExpressionParser::parseCallArgs(Expr& node)
{
    const SourcePos at = here();
    expectOp("(");
    bool requireComma = false;
    while (!isOp(current(), ")")) {
        if (requireComma) {
            expectOp(",");
            if (isOp(current(), ")"))
                break;
        }
        if (isOp(current(), "*") || isOp(current(), "**"))
            fail(here(), "'*' and '**' argument unpacking in calls is not supported", ErrorKind::Unsupported);
        if (current().type == TokenType::Name && isOp(look(), "=")) {
            std::string key = next().text;
            next();
            node.keywords.emplace_back(std::move(key), parseExpression(true));
        } else {
            if (!node.keywords.empty())
                fail(at, "invalid syntax for function call expression");
            node.operands.push_back(parseExpression(true));
        }
        requireComma = true;
    }
    expectOp(")");
}

ExprPtr ExpressionParser::parseCall(ExprPtr callee)
{
    auto node = make(ExprKind::Call, callee->pos);
    node->operands.push_back(std::move(callee));
    parseCallArgs(*node);
    return node;
}

std::string ExpressionParser::parseDottedName()
{
    std::string name = expectNameToken().text;
    while (skipOp("."))
        name += "." + expectNameToken().text;
    return name;
}

// A filter chain; node is null in filter blocks and block sets (the block's
// output is the input). startInline: the first filter has no leading '|'.
ExprPtr ExpressionParser::parseFilter(ExprPtr node, bool startInline)
{
    while (isOp(current(), "|") || startInline) {
        if (!startInline)
            next();
        startInline = false;
        const SourcePos at = here();
        const std::string name = parseDottedName();
        auto filter = make(ExprKind::Filter, at);
        filter->name = name;
        filter->operands.push_back(std::move(node));
        if (isOp(current(), "("))
            parseCallArgs(*filter);
        node = std::move(filter);
    }
    return node;
}

ExprPtr ExpressionParser::parseTest(ExprPtr node)
{
    const SourcePos at = here();
    next(); // is
    const bool negated = skipName("not");
    const std::string name = parseDottedName();
    auto test = make(ExprKind::Test, at);
    test->name = name;
    test->operands.push_back(std::move(node));
    const Token& t = current();
    if (isOp(t, "(")) {
        parseCallArgs(*test);
    } else if ((t.type == TokenType::Name || t.type == TokenType::String || t.type == TokenType::Integer
                   || t.type == TokenType::Float || isOp(t, "(") || isOp(t, "[") || isOp(t, "{"))
        && !isName(t, "else") && !isName(t, "or") && !isName(t, "and")) {
        if (isName(t, "is"))
            fail(here(), "you cannot chain multiple tests with is");
        test->operands.push_back(parsePostfix(parsePrimary()));
    }
    if (!negated)
        return test;
    auto notNode = make(ExprKind::Not, at);
    notNode->operands.push_back(std::move(test));
    return notNode;
}

} // namespace tunebench::jinja
