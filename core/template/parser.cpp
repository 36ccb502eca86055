#include "core/template/parser.h"

#include "core/template/expression_parser.h"
#include "core/template/name_check.h"

#include <algorithm>
#include <functional>
#include <initializer_list>

namespace tunebench::jinja {

namespace {

// Tags Jinja2 knows that this interpreter does not run (template inheritance and
// loading need a loader, which transformers' environment does not have either).
bool isUnsupportedTag(const std::string& name)
{
    static const char* const kTags[] = { "block", "extends", "include", "import", "from", "autoescape" };
    return std::find(std::begin(kTags), std::end(kTags), name) != std::end(kTags);
}

// Jinja2's statements (if, for, set, macro, call, filter, with, print, break,
// continue, and transformers' generation block) over the expression grammar.
class Parser : public ExpressionParser {
public:
    using ExpressionParser::ExpressionParser;

    StmtList parse() { return subparse({}); }

private:
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
            StmtList body = parseStatements({ "endgeneration" }, true);
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
            StmtList body = parseStatements({ "elif", "else", "endif" }, false);
            node->branches.emplace_back(std::move(condition), std::move(body));
            const std::string word = next().text;
            if (word == "elif")
                continue;
            if (word == "else")
                node->elseBody = parseStatements({ "endif" }, true);
            break;
        }
        return node;
    }

    StmtPtr parseFor()
    {
        auto node = std::make_unique<Stmt>(StmtKind::For, here());
        next();
        node->target = parseAssignTarget(false, { "in" });
        expectName("in");
        node->expr = parseTuple(false, false, { "recursive" }, false);
        if (skipName("if"))
            node->condition = parseExpression(true);
        node->recursive = skipName("recursive");
        ++m_loopDepth;
        node->body = parseStatements({ "endfor", "else" }, false);
        --m_loopDepth;
        if (next().text == "else")
            node->elseBody = parseStatements({ "endfor" }, true);
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
        node->body = parseStatements({ "endset" }, true);
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
        node->body = parseStatements({ "endmacro" }, true);
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
        node->body = parseStatements({ "endcall" }, true);
        m_loopDepth = savedLoopDepth;
        scanMacroNames(*node);
        return node;
    }

    StmtPtr parseFilterBlock()
    {
        auto node = std::make_unique<Stmt>(StmtKind::FilterBlock, here());
        next();
        node->filter = parseFilter(nullptr, true);
        node->body = parseStatements({ "endfilter" }, true);
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
        node->body = parseStatements({ "endwith" }, true);
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
            return std::any_of(
                macro.params.begin(), macro.params.end(), [&](const MacroParam& p) { return p.name == n; });
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

    int m_loopDepth = 0;
};

} // namespace

StmtList parseTemplate(const LexedTemplate& lexed, const std::string& origin)
{
    StmtList body = Parser(lexed, origin).parse();
    checkFilterAndTestNames(body, origin);
    return body;
}

} // namespace tunebench::jinja
