// The evaluator and values: Python's formatting and equality, Jinja2's undefined
// values and scoping, errors with positions, and the limits that stop runaway
// templates. (Parity with Jinja2 and transformers is test_chat_template_parity's job; these
// pin the pieces with expected values written down.)

#include "core/template/template.h"
#include "core/template/template_error.h"
#include "core/template/value.h"
#include "core/template/value_format.h"

#include <nlohmann/json.hpp>

#include <QtTest>

#include <thread>

using namespace tunebench::jinja;

namespace {

std::string render(const std::string& source, const Variables& vars = {}, const RenderLimits& limits = {})
{
    return Template::parse(source, "t.jinja").render(vars, limits);
}

TemplateError renderError(const std::string& source, const Variables& vars = {}, const RenderLimits& limits = {})
{
    try {
        render(source, vars, limits);
    } catch (const TemplateError& e) {
        return e;
    }
    return TemplateError(ErrorKind::Syntax, "none", {}, "no error");
}

} // namespace

class TestTemplateEvaluator : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void floatRepr_data()
    {
        QTest::addColumn<double>("value");
        QTest::addColumn<QString>("repr");
        QTest::newRow("integral") << 1.0 << "1.0";
        QTest::newRow("negative zero") << -0.0 << "-0.0";
        QTest::newRow("shortest") << 0.1 << "0.1";
        QTest::newRow("sum") << 0.1 + 0.2 << "0.30000000000000004";
        QTest::newRow("small positional") << 0.0001 << "0.0001";
        QTest::newRow("small scientific") << 0.00001 << "1e-05";
        QTest::newRow("large positional") << 1e15 << "1000000000000000.0";
        QTest::newRow("large scientific") << 1e16 << "1e+16";
        QTest::newRow("mantissa") << 1.2345678901234568e+17 << "1.2345678901234568e+17";
        QTest::newRow("tiny") << 5e-324 << "5e-324";
        QTest::newRow("inf") << std::numeric_limits<double>::infinity() << "inf";
    }

    void floatRepr()
    {
        QFETCH(double, value);
        QFETCH(QString, repr);
        QCOMPARE(QString::fromStdString(formatPythonFloat(value)), repr);
    }

    void stringRepr_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("repr");
        QTest::newRow("plain") << "abc"
                               << "'abc'";
        QTest::newRow("single quote") << "it's"
                                      << "\"it's\"";
        QTest::newRow("both quotes") << "a'b\"c"
                                     << "'a\\'b\"c'";
        QTest::newRow("escapes") << "\t\n\r\\"
                                 << "'\\t\\n\\r\\\\'";
        QTest::newRow("control") << QString::fromUtf8("\x01\x7f") << "'\\x01\\x7f'";
        QTest::newRow("printable unicode") << "é😀"
                                           << "'é😀'";
        QTest::newRow("non-printable unicode") << QString::fromUtf8("\u00a0\u2028") << "'\\xa0\\u2028'";
    }

    void stringRepr()
    {
        QFETCH(QString, text);
        QFETCH(QString, repr);
        QCOMPARE(QString::fromStdString(reprPythonString(text.toStdString())), repr);
    }

    void valuesFromJsonKeepOrderAndTypes()
    {
        const auto j = nlohmann::ordered_json::parse(R"({"z": 1, "a": [1.0, null, true, "s"], "m": {}})");
        const Value v = Value::fromJson(j);
        QCOMPARE(
            QString::fromStdString(toPythonStr(v)), QStringLiteral("{'z': 1, 'a': [1.0, None, True, 's'], 'm': {}}"));
    }

    void dictKeysFollowPythonEquality()
    {
        Dict d;
        d.set(Value::integer(1), Value::string("int"));
        d.set(Value::number(1.0), Value::string("float replaces"));
        d.set(Value::boolean(true), Value::string("bool replaces"));
        QCOMPARE(d.size(), std::size_t(1));
        QCOMPARE(QString::fromStdString(d.find(Value::integer(1))->str()), QStringLiteral("bool replaces"));
        QVERIFY_THROWS_EXCEPTION(RuntimeProblem, d.set(Value::sequence({}), Value::none()));
    }

    void rendering_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("output");
        QTest::newRow("python str of values") << "{{ none }} {{ true }} {{ 1.50 }} {{ [1, 'a'] }} {{ (1,) }}"
                                              << "None True 1.5 [1, 'a'] (1,)";
        QTest::newRow("undefined prints nothing") << "[{{ nope }}]"
                                                  << "[]";
        QTest::newRow("missing attribute is undefined") << "{{ {'a': 1}.b is defined }}"
                                                        << "False";
        QTest::newRow("dict method before key") << "{{ {'items': 1}.items is defined }}{{ {'items': 1}['items'] }}"
                                                << "True1";
        QTest::newRow("loop scope does not leak")
            << "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{% endfor %}{{ x }}"
            << "1";
        QTest::newRow("if scope leaks") << "{% if true %}{% set x = 2 %}{% endif %}{{ x }}"
                                        << "2";
        QTest::newRow("namespace carries out of loops")
            << "{% set ns = namespace(n=0) %}{% for i in [1, 2] %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}"
            << "3";
        QTest::newRow("macro sees top level at call time")
            << "{% macro m() %}{{ x }}{% endmacro %}{% set x = 5 %}{{ m() }}"
            << "5";
        QTest::newRow("python division") << "{{ 7 / 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** -1 }}"
                                         << "3.5 -4 2 0.5";
        QTest::newRow("generators are single use") << "{% set g = [1, 2]|select %}{{ g|list }}{{ g|list }}"
                                                   << "[1, 2][]";
        QTest::newRow("range repr") << "{{ range(3) }} {{ range(10)[2:8:2] }}"
                                    << "range(0, 3) range(2, 8, 2)";
        QTest::newRow("tojson without html escaping") << "{{ {'a': '<&>', 'b': [1.0, none]}|tojson }}"
                                                      << "{\"a\": \"<&>\", \"b\": [1.0, null]}";
        QTest::newRow("full case mapping") << "{{ 'straße'|upper }} {{ 'ΑΣ'|lower }}"
                                           << "STRASSE ας";
        QTest::newRow("code point slicing") << "{{ 'héllo'[1:3] }} {{ 'héllo'|length }}"
                                            << "él 5";
    }

    void rendering()
    {
        QFETCH(QString, source);
        QFETCH(QString, output);
        QCOMPARE(QString::fromStdString(render(source.toStdString())), output);
    }

    void errorsNameKindAndPosition_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("message");
        QTest::newRow("attribute of undefined")
            << "line\n{{ nope.attr }}" << int(ErrorKind::Undefined) << "t.jinja:2:4: 'nope' is undefined";
        QTest::newRow("missing key then attribute")
            << "{{ {'a': 1}.b.c }}" << int(ErrorKind::Undefined) << "t.jinja:1:4: 'dict object' has no attribute 'b'";
        QTest::newRow("type error") << "{% set x = 1 %}\n\n   {{ 'a' + x }}" << int(ErrorKind::Type)
                                    << "t.jinja:3:11: unsupported operand type(s) for +: 'str' and 'int'";
        QTest::newRow("division by zero") << "{{ 1 / 0 }}" << int(ErrorKind::Type) << "t.jinja:1:6: division by zero";
        QTest::newRow("sandbox refuses mutation")
            << "{{ [1].append(2) }}" << int(ErrorKind::Undefined)
            << "t.jinja:1:4: access to attribute 'append' of 'list' object is unsafe.";
        QTest::newRow("sandbox range limit")
            << "{{ range(200000)|length }}" << int(ErrorKind::Security)
            << "t.jinja:1:4: Range too big. The sandbox blocks ranges larger than MAX_RANGE (100000).";
        QTest::newRow("unsupported method") << "{{ 'x'.encode() }}" << int(ErrorKind::Unsupported)
                                            << "t.jinja:1:4: the method str.encode() is not supported";
        QTest::newRow("big integers")
            << "{{ 2 ** 64 }}" << int(ErrorKind::Unsupported)
            << "t.jinja:1:6: integer result does not fit in 64 bits (Python's unbounded integers are not supported)";
        QTest::newRow("unpacking") << "{% for a, b in [1] %}{% endfor %}" << int(ErrorKind::Type)
                                   << "t.jinja:1:4: 'int' object is not iterable";
        QTest::newRow("unknown filter run inside if")
            << "{% if true %}{{ 1|nosuch }}{% endif %}" << int(ErrorKind::Type)
            << "t.jinja:1:19: No filter named 'nosuch' found.";
        QTest::newRow("macro arguments") << "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}" << int(ErrorKind::Type)
                                         << "t.jinja:1:34: macro 'm' takes not more than 1 argument(s)";
    }

    void errorsNameKindAndPosition()
    {
        QFETCH(QString, source);
        QFETCH(int, kind);
        QFETCH(QString, message);
        const TemplateError e = renderError(source.toStdString());
        QCOMPARE(QString::fromUtf8(e.what()), message);
        QCOMPARE(int(e.kind()), kind);
    }

    void runawayTemplatesHitLimits()
    {
        RenderLimits small;
        small.maxOutputBytes = 100000;
        small.maxSteps = 50000;
        small.maxCallDepth = 20;
        RenderLimits smallOutput;
        smallOutput.maxOutputBytes = 100000;
        TemplateError e = renderError("{% for i in range(100000) %}{{ 'xxxxxxxxxx' }}{% endfor %}", {}, smallOutput);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        QVERIFY2(QString(e.what()).contains("the rendered output would exceed the limit of 100000 bytes"), e.what());
        e = renderError("{% for i in range(1000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        QVERIFY2(QString(e.what()).contains("more than 50000 steps"), e.what());
        e = renderError("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        QVERIFY2(QString(e.what()).contains("macro calls nested deeper than 20 levels"), e.what());
        e = renderError("{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        QVERIFY2(QString(e.what()).contains("recursive loop nested deeper than 20 levels"), e.what());
        // Repetition is refused before it allocates.
        e = renderError("{{ 'x' * 1000000000000 }}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        e = renderError("{{ [1] * 1000000000000 }}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
        e = renderError("{% set s = 'ab' * 30000 %}{{ s.replace('a', s) }}", {}, small);
        QCOMPARE(e.kind(), ErrorKind::Limit);
    }

    void errorInsideMacroPointsIntoTheMacro()
    {
        const TemplateError e = renderError("{% macro m(x) %}\n  {{ x.a.b }}\n{% endmacro %}\n{{ m({}) }}");
        QCOMPARE(e.kind(), ErrorKind::Undefined);
        QCOMPARE(e.position().line, 2u);
        QCOMPARE(e.position().column, 6u);
        QCOMPARE(QString::fromStdString(e.message()), QStringLiteral("'dict object' has no attribute 'a'"));
    }

    void rendersFromSeveralThreads()
    {
        const Template t = Template::parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + "
                                           "m|length %}{% endfor %}{{ ns.n }}",
            "t.jinja");
        std::vector<std::string> results(4);
        std::vector<std::thread> threads;
        for (std::size_t i = 0; i < results.size(); ++i) {
            threads.emplace_back([&, i] {
                Variables vars;
                std::vector<Value> messages(1000 + i, Value::string("abc"));
                vars.emplace_back("messages", Value::sequence(std::move(messages)));
                for (int k = 0; k < 20; ++k)
                    results[i] = t.render(vars);
            });
        }
        for (auto& th : threads)
            th.join();
        for (std::size_t i = 0; i < results.size(); ++i)
            QCOMPARE(QString::fromStdString(results[i]), QString::number(3 * (1000 + i)));
    }
};

QTEST_GUILESS_MAIN(TestTemplateEvaluator)
#include "test_template_evaluator.moc"
