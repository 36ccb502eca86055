#include "core/template/parser.h"

#include "core/template/filters.h"
#include "core/template/predicates.h"

#include <algorithm>
#include <functional>
#include <initializer_list>

namespace tunebench::jinja {

namespace {

// Tags Jinja2 knows that this interpreter does not run (template inheritance and
// loading need a loader, which transformers' environment does not have either).
bool isUnsupportedTag(const std::string& name)
{
    static const char* const kTags[] = {"block", "extends", "include", "import", "from", "autoescape"};
    return std::find(std::begin(kTags), std::end(kTags), name) != std::end(kTags);
}

class Parser {
public:
    Parser(const LexedTemplate& lexed, const std::string& origin)
        : m_tokens(lexed.tokens), m_source(lexed.source), m_origin(origin)
    {
    }

    StmtList parse()
    {
        StmtList body = subparse({});
        return body;
    }

private:
    // ---- token stream -------------------------------------------------------------

    const Token& current() const { return m_tokens[m_pos]; }
    const Token& look() const { return m_tokens[std::min(m_pos + 1, m_tokens.size() - 1)]; }
    const Token& next()
    {
        const Token& t = m_tokens[m_pos];
        if (t.type != TokenType::Eof)
            ++m_pos;
        return t;
    }
    SourcePos pos(const Token& t) const { return m_source.position(t.offset); }
    SourcePos here() const { return pos(current()); }

    bool isOp(const Token& t, std::string_view op) const { return t.type == TokenType::Operator && t.text == op; }
    bool isName(const Token& t, std::string_view name) const { return t.type == TokenType::Name && t.text == name; }
    bool skipOp(std::string_view op)
    {
        if (!isOp(current(), op))
            return false;
        next();
        return true;
    }
    bool skipName(std::string_view name)
    {
        if (!isName(current(), name))
            return false;
        next();
        return true;
    }

    static std::string describe(const Token& t)
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

    [[noreturn]] void fail(SourcePos at, const std::string& message, ErrorKind kind = ErrorKind::Syntax) const
    {
        throw TemplateError(kind, m_origin, at, message);
    }

    [[noreturn]] void failExpected(const std::string& expected) const
    {
        if (current().type == TokenType::Eof)
            fail(here(), "unexpected end of template, expected '" + expected + "'");
        fail(here(), "expected token '" + expected + "', got '" + describe(current()) + "'");
    }

    void expectOp(std::string_view op)
    {
        if (!skipOp(op))
            failExpected(std::string(op));
    }

    void expectType(TokenType type, const char* description)
    {
        if (current().type != type)
            failExpected(description);
        next();
    }

    const Token& expectNameToken()
    {
        if (current().type != TokenType::Name)
            failExpected("name");
        return next();
    }

    void expectName(std::string_view name)
    {
        if (!skipName(name))
            failExpected(std::string(name));
    }

    struct DepthGuard {
        DepthGuard(Parser& p, SourcePos at) : parser(p)
        {
            if (++parser.m_depth > kMaxParseDepth)
                parser.fail(at, "template nesting deeper than " + std::to_string(kMaxParseDepth) + " levels",
                            ErrorKind::Limit);
        }
        ~DepthGuard() { --parser.m_depth; }
        Parser& parser;
    };

    // ---- statements ---------------------------------------------------------------

    // Statements until a block tag whose name is in endNames (left current) or the
    // end of the template (an error when endNames is not empty).
    StmtList subparse(std::initializer_list<std::string_view> endNames)
    {
        DepthGuard guard(*this, here());
        StmtList body;
        for (;;) {
            const Token& t = current();
            switch (t.type) {
            case TokenType::Data: {
                auto s = std::make_unique<Stmt>(StmtKind::Text, pos(t));
                s->text = t.text;
                body.push_back(std::move(s));
                next();
                break;
            }
            case TokenType::VariableBegin: {
                next();
                auto s = std::make_unique<Stmt>(StmtKind::Output, here());
                s->expr = parseTuple(false, true, {}, false);
                expectType(TokenType::VariableEnd, "end of print statement");
                body.push_back(std::move(s));
                break;
            }
            case TokenType::BlockBegin: {
                next();
                if (current().type == TokenType::Name
                    && std::find(endNames.begin(), endNames.end(), current().text) != endNames.end())
                    return body;
                parseStatement(body, endNames);
                expectType(TokenType::BlockEnd, "end of statement block");
                break;
            }
            case TokenType::Eof:
                if (endNames.size() != 0) {
                    std::string names;
                    for (std::string_view n : endNames)
                        names += (names.empty() ? "'" : " or '") + std::string(n) + "'";
                    fail(here(), "unexpected end of template, expected " + names);
                }
                return body;
            default:
                fail(here(), "unexpected '" + describe(t) + "'");
            }
        }
    }

    // The body of a block statement: `%}` then statements up to one of endNames.
    StmtList parseStatements(std::initializer_list<std::string_view> endNames, bool dropNeedle)
    {
        skipOp(":");
        expectType(TokenType::BlockEnd, "end of statement block");
        StmtList body = subparse(endNames);
        if (dropNeedle)
            next();
        return body;
    }

    void parseStatement(StmtList& out, std::initializer_list<std::string_view> endNames)
    {
        const Token& t = current();
        if (t.type != TokenType::Name)
            fail(here(), "tag name expected");
        const std::string name = t.text;
        const SourcePos at = here();
        if (name == "if")
            out.push_back(parseIf());
        else if (name == "for")
            out.push_back(parseFor());
        else if (name == "set")
            out.push_back(parseSet());
        else if (name == "macro")
            out.push_back(parseMacro());
        else if (name == "call")
            out.push_back(parseCallBlock());
        else if (name == "filter")
            out.push_back(parseFilterBlock());
        else if (name == "with")
            out.push_back(parseWith());
        else if (name == "print")
            parsePrint(out);
        else if (name == "break" || name == "continue") {
            next();
            if (m_loopDepth == 0)
                fail(at, "'" + name + "' outside loop");
            out.push_back(std::make_unique<Stmt>(name == "break" ? StmtKind::Break : StmtKind::Continue, at));
        } else if (name == "generation") {
            // transformers' {% generation %} marks assistant text; it renders its body as is.
            next();
            StmtList body = parseStatements({"endgeneration"}, true);
            for (auto& s : body)
                out.push_back(std::move(s));
        } else if (isUnsupportedTag(name)) {
            fail(at, "the '" + name + "' tag is not supported", ErrorKind::Unsupported);
        } else {
            std::string message = "unknown tag '" + name + "'";
            if (endNames.size() != 0) {
                std::string names;
                for (std::string_view n : endNames)
                    names += (names.empty() ? "'" : " or '") + std::string(n) + "'";
                message += " (expected " + names + ")";
            }
            fail(at, message);
        }
    }

    StmtPtr parseIf()
    {
        auto node = std::make_unique<Stmt>(StmtKind::If, here());
        next();
        for (;;) {
            ExprPtr condition = parseTuple(false, false, {}, false);
            StmtList body = parseStatements({"elif", "else", "endif"}, false);
            node->branches.emplace_back(std::move(condition), std::move(body));
            const std::string word = next().text;
            if (word == "elif")
                continue;
            if (word == "else")
                node->elseBody = parseStatements({"endif"}, true);
            break;
        }
        return node;
    }

    StmtPtr parseFor()
    {
        auto node = std::make_unique<Stmt>(StmtKind::For, here());
        next();
        node->target = parseAssignTarget(false, {"in"});
        expectName("in");
        node->expr = parseTuple(false, false, {"recursive"}, false);
        if (skipName("if"))
            node->condition = parseExpression(true);
        node->recursive = skipName("recursive");
        ++m_loopDepth;
        node->body = parseStatements({"endfor", "else"}, false);
        --m_loopDepth;
        if (next().text == "else")
            node->elseBody = parseStatements({"endfor"}, true);
        return node;
    }

    StmtPtr parseSet()
    {
        const SourcePos at = here();
        next();
        Target target = parseAssignTarget(true, {});
        if (skipOp("=")) {
            auto node = std::make_unique<Stmt>(StmtKind::Set, at);
            node->target = std::move(target);
            node->expr = parseTuple(false, true, {}, false);
            return node;
        }
        auto node = std::make_unique<Stmt>(StmtKind::SetBlock, at);
        node->target = std::move(target);
        node->filter = parseFilter(nullptr, false);
        node->body = parseStatements({"endset"}, true);
        return node;
    }

    void parseSignature(Stmt& node)
    {
        expectOp("(");
        while (!isOp(current(), ")")) {
            if (!node.params.empty())
                expectOp(",");
            MacroParam param;
            param.name = expectNameToken().text;
            if (skipOp("="))
                param.defaultValue = parseExpression(true);
            else if (!node.params.empty() && node.params.back().defaultValue)
                fail(here(), "non-default argument follows default argument");
            node.params.push_back(std::move(param));
        }
        expectOp(")");
    }

    StmtPtr parseMacro()
    {
        auto node = std::make_unique<Stmt>(StmtKind::Macro, here());
        next();
        node->name = expectNameToken().text;
        parseSignature(*node);
        const int savedLoopDepth = m_loopDepth;
        m_loopDepth = 0;
        node->body = parseStatements({"endmacro"}, true);
        m_loopDepth = savedLoopDepth;
        scanMacroNames(*node);
        return node;
    }

    StmtPtr parseCallBlock()
    {
        auto node = std::make_unique<Stmt>(StmtKind::CallBlock, here());
        next();
        if (isOp(current(), "("))
            parseSignature(*node);
        const SourcePos callPos = here();
        node->expr = parseExpression(true);
        if (node->expr->kind != ExprKind::Call)
            fail(callPos, "expected call");
        const int savedLoopDepth = m_loopDepth;
        m_loopDepth = 0;
        node->body = parseStatements({"endcall"}, true);
        m_loopDepth = savedLoopDepth;
        scanMacroNames(*node);
        return node;
    }

    StmtPtr parseFilterBlock()
    {
        auto node = std::make_unique<Stmt>(StmtKind::FilterBlock, here());
        next();
        node->filter = parseFilter(nullptr, true);
        node->body = parseStatements({"endfilter"}, true);
        return node;
    }

    StmtPtr parseWith()
    {
        auto node = std::make_unique<Stmt>(StmtKind::With, here());
        next();
        while (current().type != TokenType::BlockEnd) {
            if (!node->targets.empty())
                expectOp(",");
            node->targets.push_back(parseAssignTarget(false, {}));
            expectOp("=");
            node->values.push_back(parseExpression(true));
        }
        node->body = parseStatements({"endwith"}, true);
        return node;
    }

    void parsePrint(StmtList& out)
    {
        next();
        bool first = true;
        while (current().type != TokenType::BlockEnd) {
            if (!first)
                expectOp(",");
            first = false;
            auto s = std::make_unique<Stmt>(StmtKind::Output, here());
            s->expr = parseExpression(true);
            out.push_back(std::move(s));
        }
    }

    Target targetFromExpr(const Expr& e)
    {
        Target t;
        t.pos = e.pos;
        if (e.kind == ExprKind::Name) {
            t.kind = Target::Kind::Name;
            t.name = e.name;
            return t;
        }
        if (e.kind == ExprKind::Tuple) {
            t.kind = Target::Kind::Tuple;
            for (const auto& item : e.operands)
                t.items.push_back(targetFromExpr(*item));
            return t;
        }
        fail(e.pos, "can't assign to this expression");
    }

    Target parseAssignTarget(bool withNamespace, std::initializer_list<std::string_view> extraEnd)
    {
        if (withNamespace && current().type == TokenType::Name && isOp(look(), ".")) {
            Target t;
            t.pos = here();
            t.kind = Target::Kind::NamespaceAttr;
            t.name = next().text;
            next();
            t.attribute = expectNameToken().text;
            return t;
        }
        ExprPtr e = parseTuple(true, true, extraEnd, false);
        if (e->kind == ExprKind::Name && (e->name == "true" || e->name == "false" || e->name == "none"))
            fail(e->pos, "can't assign to a constant");
        return targetFromExpr(*e);
    }

    // Marks the names a macro body reads that change how it can be called.
    void scanMacroNames(Stmt& macro)
    {
        auto declared = [&](const std::string& n) {
            return std::any_of(macro.params.begin(), macro.params.end(),
                               [&](const MacroParam& p) { return p.name == n; });
        };
        std::function<void(const Expr*)> visitExpr = [&](const Expr* e) {
            if (!e)
                return;
            if (e->kind == ExprKind::Name) {
                if (e->name == "caller" && !declared("caller"))
                    macro.usesCaller = true;
                if (e->name == "varargs" && !declared("varargs"))
                    macro.usesVarargs = true;
                if (e->name == "kwargs" && !declared("kwargs"))
                    macro.usesKwargs = true;
            }
            for (const auto& o : e->operands)
                visitExpr(o.get());
            for (const auto& [k, v] : e->keywords)
                visitExpr(v.get());
        };
        std::function<void(const StmtList&)> visitBody = [&](const StmtList& body) {
            for (const auto& s : body) {
                visitExpr(s->expr.get());
                visitExpr(s->condition.get());
                visitExpr(s->filter.get());
                for (const auto& v : s->values)
                    visitExpr(v.get());
                for (const auto& [c, b] : s->branches) {
                    visitExpr(c.get());
                    visitBody(b);
                }
                for (const auto& p : s->params)
                    visitExpr(p.defaultValue.get());
                visitBody(s->body);
                visitBody(s->elseBody);
            }
        };
        visitBody(macro.body);
        for (const auto& p : macro.params)
            visitExpr(p.defaultValue.get());
    }

    // ---- expressions --------------------------------------------------------------

    ExprPtr make(ExprKind kind, SourcePos at) { return std::make_unique<Expr>(kind, at); }

    bool isTupleEnd(std::initializer_list<std::string_view> extraEnd) const
    {
        const Token& t = current();
        if (t.type == TokenType::VariableEnd || t.type == TokenType::BlockEnd || isOp(t, ")"))
            return true;
        return t.type == TokenType::Name && std::find(extraEnd.begin(), extraEnd.end(), t.text) != extraEnd.end();
    }

    // Jinja2's parse_tuple: an expression, or a tuple when commas separate several.
    // `simplified` parses primaries only (assignment targets).
    ExprPtr parseTuple(bool simplified, bool withCondition, std::initializer_list<std::string_view> extraEnd,
                       bool explicitParentheses)
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

    ExprPtr parseExpression(bool withCondition)
    {
        DepthGuard guard(*this, here());
        return withCondition ? parseCondition() : parseOr();
    }

    ExprPtr parseCondition()
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

    ExprPtr parseOr()
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

    ExprPtr parseAnd()
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

    ExprPtr parseNot()
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

    ExprPtr parseCompare()
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

    ExprPtr binary(BinaryOp op, ExprPtr left, ExprPtr right, SourcePos at)
    {
        auto node = make(ExprKind::Binary, at);
        node->binaryOp = op;
        node->operands.push_back(std::move(left));
        node->operands.push_back(std::move(right));
        return node;
    }

    ExprPtr parseMath1()
    {
        ExprPtr left = parseConcat();
        while (isOp(current(), "+") || isOp(current(), "-")) {
            const SourcePos at = here();
            const BinaryOp op = next().text == "+" ? BinaryOp::Add : BinaryOp::Sub;
            left = binary(op, std::move(left), parseConcat(), at);
        }
        return left;
    }

    ExprPtr parseConcat()
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

    ExprPtr parseMath2()
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

    ExprPtr parsePow()
    {
        ExprPtr left = parseUnary(true);
        while (isOp(current(), "**")) {
            const SourcePos at = here();
            next();
            left = binary(BinaryOp::Pow, std::move(left), parseUnary(true), at);
        }
        return left;
    }

    ExprPtr parseUnary(bool withFilter)
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

    ExprPtr parsePrimary()
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

    ExprPtr parseList()
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

    ExprPtr parseDict()
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

    ExprPtr parsePostfix(ExprPtr node)
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

    ExprPtr parseFilterExpr(ExprPtr node)
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
    ExprPtr parseSubscript(ExprPtr node)
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

    ExprPtr parseSubscribed()
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
    void parseCallArgs(Expr& node)
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

    ExprPtr parseCall(ExprPtr callee)
    {
        auto node = make(ExprKind::Call, callee->pos);
        node->operands.push_back(std::move(callee));
        parseCallArgs(*node);
        return node;
    }

    std::string parseDottedName()
    {
        std::string name = expectNameToken().text;
        while (skipOp("."))
            name += "." + expectNameToken().text;
        return name;
    }

    // A filter chain; node is null in filter blocks and block sets (the block's
    // output is the input). startInline: the first filter has no leading '|'.
    ExprPtr parseFilter(ExprPtr node, bool startInline)
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

    ExprPtr parseTest(ExprPtr node)
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

    const std::vector<Token>& m_tokens;
    const SourceMap& m_source;
    const std::string& m_origin;
    std::size_t m_pos = 0;
    int m_depth = 0;
    int m_loopDepth = 0;
};

// Jinja2 checks filter and test names when it compiles, except inside an `if`
// statement or an inline if-expression ("soft" frames, which new scopes such as
// loop bodies and macros end): there an unknown name fails only if it runs.
class NameCheck {
public:
    explicit NameCheck(const std::string& origin) : m_origin(origin) { }

    void body(const StmtList& statements, bool soft)
    {
        for (const auto& s : statements)
            statement(*s, soft);
    }

private:
    void statement(const Stmt& s, bool soft)
    {
        switch (s.kind) {
        case StmtKind::If:
            for (const auto& [condition, branch] : s.branches) {
                expr(condition.get(), true);
                body(branch, true);
            }
            body(s.elseBody, true);
            return;
        case StmtKind::For:
            expr(s.expr.get(), soft);
            expr(s.condition.get(), false);
            body(s.body, false);
            body(s.elseBody, false);
            return;
        case StmtKind::With:
            for (const auto& v : s.values)
                expr(v.get(), soft);
            body(s.body, false);
            return;
        case StmtKind::CallBlock:
            expr(s.expr.get(), soft);
            for (const auto& p : s.params)
                expr(p.defaultValue.get(), false);
            body(s.body, false);
            return;
        case StmtKind::Macro:
            for (const auto& p : s.params)
                expr(p.defaultValue.get(), false);
            body(s.body, false);
            return;
        case StmtKind::SetBlock:
        case StmtKind::FilterBlock:
            expr(s.filter.get(), false);
            body(s.body, false);
            return;
        default:
            expr(s.expr.get(), soft);
            return;
        }
    }

    void expr(const Expr* e, bool soft)
    {
        if (!e)
            return;
        if (e->kind == ExprKind::Condition)
            soft = true;
        if (e->kind == ExprKind::Filter || e->kind == ExprKind::Test) {
            const bool isFilter = e->kind == ExprKind::Filter;
            const Support support = isFilter ? filterSupport(e->name) : testSupport(e->name);
            const std::string what = isFilter ? "filter" : "test";
            if (support == Support::NotImplemented)
                throw TemplateError(ErrorKind::Unsupported, m_origin, e->pos,
                                    "the " + what + " '" + e->name + "' is not supported");
            if (support == Support::Unknown && !soft)
                throw TemplateError(ErrorKind::Syntax, m_origin, e->pos, "no " + what + " named '" + e->name + "'");
        }
        for (const auto& o : e->operands)
            expr(o.get(), soft);
        for (const auto& [k, v] : e->keywords)
            expr(v.get(), soft);
    }

    const std::string& m_origin;
};

} // namespace

StmtList parseTemplate(const LexedTemplate& lexed, const std::string& origin)
{
    StmtList body = Parser(lexed, origin).parse();
    NameCheck(origin).body(body, false);
    return body;
}

} // namespace tunebench::jinja
