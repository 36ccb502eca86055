// The template parser: Jinja2's precedence and statement forms, and the errors for
// invalid and unsupported templates, each with line:column.

#include "core/template/lexer.h"
#include "core/template/parser.h"
#include "core/template/template_error.h"
#include "core/template/value_format.h"

#include <QtTest>

using namespace tunebench::jinja;

namespace {

const char* compareName(CompareOp op)
{
    switch (op) {
    case CompareOp::Eq:
        return "==";
    case CompareOp::Ne:
        return "!=";
    case CompareOp::Lt:
        return "<";
    case CompareOp::Le:
        return "<=";
    case CompareOp::Gt:
        return ">";
    case CompareOp::Ge:
        return ">=";
    case CompareOp::In:
        return "in";
    case CompareOp::NotIn:
        return "notin";
    }
    return "?";
}

// An s-expression of the tree: (+ 1 (* 2 3)), (filter trim x), (test defined x) ...
std::string sexpr(const Expr* e)
{
    if (!e)
        return "_";
    auto operands = [&](std::size_t from) {
        std::string out;
        for (std::size_t i = from; i < e->operands.size(); ++i)
            out += " " + sexpr(e->operands[i].get());
        for (const auto& [k, v] : e->keywords)
            out += " " + k + "=" + sexpr(v.get());
        return out;
    };
    switch (e->kind) {
    case ExprKind::Literal:
        return toPythonRepr(e->literal);
    case ExprKind::Name:
        return e->name;
    case ExprKind::GetAttr:
        return "(. " + sexpr(e->operands[0].get()) + " " + e->name + ")";
    case ExprKind::GetItem:
        return "([] " + sexpr(e->operands[0].get()) + " " + sexpr(e->operands[1].get()) + ")";
    case ExprKind::Slice:
        return "(slice" + operands(0) + ")";
    case ExprKind::Call:
        return "(call " + sexpr(e->operands[0].get()) + operands(1) + ")";
    case ExprKind::Filter:
        return "(filter " + e->name + " " + sexpr(e->operands[0].get()) + operands(1) + ")";
    case ExprKind::Test:
        return "(test " + e->name + " " + sexpr(e->operands[0].get()) + operands(1) + ")";
    case ExprKind::Negate:
        return "(neg " + sexpr(e->operands[0].get()) + ")";
    case ExprKind::Plus:
        return "(pos " + sexpr(e->operands[0].get()) + ")";
    case ExprKind::Binary:
        return std::string("(") + binaryOpSymbol(e->binaryOp) + operands(0) + ")";
    case ExprKind::Concat:
        return "(~" + operands(0) + ")";
    case ExprKind::And:
        return "(and" + operands(0) + ")";
    case ExprKind::Or:
        return "(or" + operands(0) + ")";
    case ExprKind::Not:
        return "(not" + operands(0) + ")";
    case ExprKind::Compare: {
        std::string out = "(cmp " + sexpr(e->operands[0].get());
        for (std::size_t i = 0; i < e->compareOps.size(); ++i)
            out += std::string(" ") + compareName(e->compareOps[i]) + " " + sexpr(e->operands[i + 1].get());
        return out + ")";
    }
    case ExprKind::Condition:
        return "(if" + operands(0) + ")";
    case ExprKind::List:
        return "(list" + operands(0) + ")";
    case ExprKind::Tuple:
        return "(tuple" + operands(0) + ")";
    case ExprKind::Dict:
        return "(dict" + operands(0) + ")";
    }
    return "?";
}

StmtList parse(const std::string& source)
{
    return parseTemplate(tokenize(source, "t.jinja"), "t.jinja");
}

QString expression(const QString& source)
{
    const StmtList body = parse("{{ " + source.toStdString() + " }}");
    if (body.size() != 1 || body[0]->kind != StmtKind::Output)
        return "not one output";
    return QString::fromStdString(sexpr(body[0]->expr.get()));
}

} // namespace

class TestTemplateParser : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void precedence_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("tree");
        QTest::newRow("mul over add") << "1 + 2 * 3"
                                      << "(+ 1 (* 2 3))";
        QTest::newRow("left associative") << "10 - 2 - 3"
                                          << "(- (- 10 2) 3)";
        QTest::newRow("pow is left associative in Jinja") << "2 ** 3 ** 2"
                                                          << "(** (** 2 3) 2)";
        QTest::newRow("unary minus binds tighter than pow") << "-2 ** 2"
                                                            << "(** (neg 2) 2)";
        QTest::newRow("concat between add and mul") << "a ~ b + c ~ d * e"
                                                    << "(+ (~ a b) (~ c (* d e)))";
        QTest::newRow("filter binds tighter than minus") << "x|length - 1"
                                                         << "(- (filter length x) 1)";
        QTest::newRow("filter on negation") << "-x|abs"
                                            << "(filter abs (neg x))";
        QTest::newRow("filter chain with arguments") << "x|replace('a', 'b')|trim"
                                                     << "(filter trim (filter replace x 'a' 'b'))";
        QTest::newRow("filter keyword") << "x|default('d', boolean=true)"
                                        << "(filter default x 'd' boolean=True)";
        QTest::newRow("not over in") << "not a in b"
                                     << "(not (cmp a in b))";
        QTest::newRow("not in") << "a not in b"
                                << "(cmp a notin b)";
        QTest::newRow("chained comparison") << "1 < x <= 3"
                                            << "(cmp 1 < x <= 3)";
        QTest::newRow("and over or") << "a or b and c"
                                     << "(or a (and b c))";
        QTest::newRow("conditional") << "a if b else c if d else e"
                                     << "(if b a (if d c e))";
        QTest::newRow("conditional without else") << "a if b"
                                                  << "(if b a _)";
        QTest::newRow("test with argument") << "x is divisibleby 3"
                                            << "(test divisibleby x 3)";
        QTest::newRow("test negated") << "x is not none"
                                      << "(not (test none x))";
        QTest::newRow("test with call arguments") << "x is sameas(false)"
                                                  << "(test sameas x False)";
        QTest::newRow("test stops at and") << "x is defined and y"
                                           << "(and (test defined x) y)";
        QTest::newRow("attribute and item") << "m.content[0]['k'].x"
                                            << "(. ([] ([] (. m content) 0) 'k') x)";
        QTest::newRow("dot number is an item") << "a.0"
                                               << "([] a 0)";
        QTest::newRow("slices") << "s[1:] ~ s[::-1] ~ s[:2:]"
                                << "(~ ([] s (slice 1 _ _)) ([] s (slice _ _ (neg 1))) ([] s (slice _ 2 _)))";
        QTest::newRow("method call") << "s.split(',', 1)"
                                     << "(call (. s split) ',' 1)";
        QTest::newRow("call keywords") << "f(1, b=2,)"
                                       << "(call f 1 b=2)";
        QTest::newRow("literals") << "[1, 'a', none, true, (2,), {'k': 3}, 1.5]"
                                  << "(list 1 'a' None True (tuple 2) (dict 'k' 3) 1.5)";
        QTest::newRow("adjacent strings join") << "'a' \"b\""
                                               << "'ab'";
        QTest::newRow("tuple without parentheses") << "1, 2"
                                                   << "(tuple 1 2)";
        QTest::newRow("empty tuple") << "()"
                                     << "(tuple)";
        QTest::newRow("Python constants") << "True ~ None ~ false"
                                          << "(~ True None False)";
    }

    void precedence()
    {
        QFETCH(QString, source);
        QFETCH(QString, tree);
        QCOMPARE(expression(source), tree);
    }

    void statements()
    {
        const StmtList body = parse("{% for k, v in d|items if v recursive %}{{ k }}{% else %}none{% endfor %}"
                                    "{% set ns.x = 1 %}{% set a, b = 1, 2 %}{% set c | upper %}x{% endset %}"
                                    "{% macro m(a, b=2) %}{{ caller() }}{% endmacro %}"
                                    "{% if a %}1{% elif b %}2{% else %}3{% endif %}");
        QCOMPARE(body.size(), std::size_t(6));
        const Stmt& loop = *body[0];
        QCOMPARE(loop.kind, StmtKind::For);
        QCOMPARE(loop.target.kind, Target::Kind::Tuple);
        QCOMPARE(loop.target.items.size(), std::size_t(2));
        QCOMPARE(QString::fromStdString(sexpr(loop.expr.get())), QStringLiteral("(filter items d)"));
        QCOMPARE(QString::fromStdString(sexpr(loop.condition.get())), QStringLiteral("v"));
        QVERIFY(loop.recursive);
        QCOMPARE(loop.elseBody.size(), std::size_t(1));
        QCOMPARE(body[1]->target.kind, Target::Kind::NamespaceAttr);
        QCOMPARE(QString::fromStdString(body[1]->target.attribute), QStringLiteral("x"));
        QCOMPARE(body[2]->target.kind, Target::Kind::Tuple);
        QCOMPARE(body[3]->kind, StmtKind::SetBlock);
        QCOMPARE(QString::fromStdString(sexpr(body[3]->filter.get())), QStringLiteral("(filter upper _)"));
        const Stmt& macro = *body[4];
        QCOMPARE(macro.kind, StmtKind::Macro);
        QCOMPARE(macro.params.size(), std::size_t(2));
        QVERIFY(!macro.params[0].defaultValue);
        QVERIFY(macro.params[1].defaultValue);
        QVERIFY(macro.usesCaller);
        QVERIFY(!macro.usesVarargs);
        QCOMPARE(body[5]->branches.size(), std::size_t(2));
        QCOMPARE(body[5]->elseBody.size(), std::size_t(1));
    }

    void unknownFilterInsideIfFailsOnlyWhenRun()
    {
        // Jinja2 checks names at compile time except in if statements and if-expressions.
        QCOMPARE(parse("{% if false %}{{ x|nosuch }}{% endif %}").size(), std::size_t(1));
        QCOMPARE(parse("{{ x|nosuch if false else 1 }}").size(), std::size_t(1));
    }

    void errors_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("message");
        QTest::newRow("unsupported tag") << "line one\n  {% include 'other.jinja' %}" << int(ErrorKind::Unsupported)
                                         << "t.jinja:2:6: the 'include' tag is not supported";
        QTest::newRow("extends") << "{% extends 'base' %}" << int(ErrorKind::Unsupported)
                                 << "t.jinja:1:4: the 'extends' tag is not supported";
        QTest::newRow("unknown tag") << "{% frobnicate %}" << int(ErrorKind::Syntax)
                                     << "t.jinja:1:4: unknown tag 'frobnicate'";
        QTest::newRow("do needs an extension")
            << "{% do x %}" << int(ErrorKind::Syntax) << "t.jinja:1:4: unknown tag 'do'";
        QTest::newRow("unclosed if") << "{% if x %}\nbody" << int(ErrorKind::Syntax)
                                     << "t.jinja:2:5: unexpected end of template, expected 'elif' or 'else' or 'endif'";
        QTest::newRow("nesting mistake") << "{% for x in y %}{% endif %}" << int(ErrorKind::Syntax)
                                         << "t.jinja:1:20: unknown tag 'endif' (expected 'endfor' or 'else')";
        QTest::newRow("unknown filter") << "{{ x|nosuch }}" << int(ErrorKind::Syntax)
                                        << "t.jinja:1:6: no filter named 'nosuch'";
        QTest::newRow("unknown test") << "{{ x is nosuch }}" << int(ErrorKind::Syntax)
                                      << "t.jinja:1:6: no test named 'nosuch'";
        QTest::newRow("unsupported filter") << "{{ x|truncate(5) }}" << int(ErrorKind::Unsupported)
                                            << "t.jinja:1:6: the filter 'truncate' is not supported";
        QTest::newRow("unsupported filter even in if")
            << "{% if a %}{{ x|urlize }}{% endif %}" << int(ErrorKind::Unsupported)
            << "t.jinja:1:16: the filter 'urlize' is not supported";
        QTest::newRow("argument unpacking") << "{{ f(*args) }}" << int(ErrorKind::Unsupported)
                                            << "t.jinja:1:6: '*' and '**' argument unpacking in calls is not supported";
        QTest::newRow("break outside loop")
            << "{% break %}" << int(ErrorKind::Syntax) << "t.jinja:1:4: 'break' outside loop";
        QTest::newRow("break inside macro inside loop")
            << "{% for x in y %}{% macro m() %}{% continue %}{% endmacro %}{% endfor %}" << int(ErrorKind::Syntax)
            << "t.jinja:1:35: 'continue' outside loop";
        QTest::newRow("default before required") << "{% macro m(a=1, b) %}{% endmacro %}" << int(ErrorKind::Syntax)
                                                 << "t.jinja:1:18: non-default argument follows default argument";
        QTest::newRow("expected expression")
            << "{{ }}" << int(ErrorKind::Syntax) << "t.jinja:1:4: expected an expression, got 'end of print statement'";
        QTest::newRow("missing end of tag")
            << "{{ x " << int(ErrorKind::Syntax)
            << "t.jinja:1:6: unexpected end of template, expected 'end of print statement'";
        QTest::newRow("chained tests") << "{{ x is defined is none }}" << int(ErrorKind::Syntax)
                                       << "t.jinja:1:17: you cannot chain multiple tests with is";
        QTest::newRow("assign to literal")
            << "{% set 1 = 2 %}" << int(ErrorKind::Syntax) << "t.jinja:1:8: can't assign to this expression";
        QTest::newRow("positional after keyword") << "{{ f(a=1, 2) }}" << int(ErrorKind::Syntax)
                                                  << "t.jinja:1:5: invalid syntax for function call expression";
        QTest::newRow("call block needs a call")
            << "{% call x %}{% endcall %}" << int(ErrorKind::Syntax) << "t.jinja:1:9: expected call";
    }

    void errors()
    {
        QFETCH(QString, source);
        QFETCH(int, kind);
        QFETCH(QString, message);
        try {
            parse(source.toStdString());
            QFAIL("accepted");
        } catch (const TemplateError& e) {
            QCOMPARE(QString::fromUtf8(e.what()), message);
            QCOMPARE(int(e.kind()), kind);
        }
    }

    void deepNestingIsRefused()
    {
        const std::string deep = "{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}";
        try {
            parse(deep);
            QFAIL("accepted");
        } catch (const TemplateError& e) {
            QCOMPARE(e.kind(), ErrorKind::Limit);
            QVERIFY2(QString(e.what()).contains("nesting deeper than"), e.what());
        }
        std::string blocks;
        for (int i = 0; i < 1000; ++i)
            blocks += "{% if x %}";
        try {
            parse(blocks);
            QFAIL("accepted");
        } catch (const TemplateError& e) {
            QCOMPARE(e.kind(), ErrorKind::Limit);
        }
    }
};

QTEST_GUILESS_MAIN(TestTemplateParser)
#include "test_template_parser.moc"
