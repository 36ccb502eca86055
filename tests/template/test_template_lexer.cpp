// The template lexer: tokens, Jinja2's whitespace control (trim_blocks, lstrip_blocks,
// -/+ modifiers), literals, positions, and errors that name line:column.

#include "core/template/lexer.h"
#include "core/template/template_error.h"

#include <QtTest>

using namespace tunebench::jinja;

namespace {

// A compact spelling of a token list: D'text' for data, {{ }} {% %}, N'name',
// S'string', I42, F1.5, O'op'; Eof is left out.
QString describe(const LexedTemplate& lexed)
{
    QStringList parts;
    for (const Token& t : lexed.tokens) {
        const QString text = QString::fromStdString(t.text);
        switch (t.type) {
        case TokenType::Data:
            parts << "D'" + QString(text).replace("\n", "\\n").replace("\t", "\\t") + "'";
            break;
        case TokenType::VariableBegin:
            parts << "{{";
            break;
        case TokenType::VariableEnd:
            parts << "}}";
            break;
        case TokenType::BlockBegin:
            parts << "{%";
            break;
        case TokenType::BlockEnd:
            parts << "%}";
            break;
        case TokenType::Name:
            parts << "N'" + text + "'";
            break;
        case TokenType::String:
            parts << "S'" + QString(text).replace("\n", "\\n").replace("\t", "\\t") + "'";
            break;
        case TokenType::Integer:
            parts << "I" + QString::number(t.integer);
            break;
        case TokenType::Float:
            parts << "F" + QString::number(t.number);
            break;
        case TokenType::Operator:
            parts << "O'" + text + "'";
            break;
        case TokenType::Eof:
            break;
        }
    }
    return parts.join(' ');
}

QString lex(const QString& source, const LexerOptions& options = {})
{
    return describe(tokenize(source.toStdString(), "t.jinja", options));
}

} // namespace

class TestTemplateLexer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void tokens_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<QString>("expected");
        QTest::newRow("text only") << "hello"
                                   << "D'hello'";
        QTest::newRow("variable") << "a {{ x }} b"
                                  << "D'a ' {{ N'x' }} D' b'";
        QTest::newRow("block") << "{% if x %}y{% endif %}"
                               << "{% N'if' N'x' %} D'y' {% N'endif' %}";
        QTest::newRow("comment dropped") << "a{# note #}b"
                                         << "D'a' D'b'";
        QTest::newRow("operators longest first") << "{{ a//b**c==d!=e>=f<=g }}"
                                                 << "{{ N'a' O'//' N'b' O'**' N'c' O'==' N'd' O'!=' N'e' O'>=' N'f' "
                                                    "O'<=' N'g' }}";
        QTest::newRow("dict braces balance before }}") << "{{ {'a':{'b':1}}}}"
                                                       << "{{ O'{' S'a' O':' O'{' S'b' O':' I1 O'}' O'}' }}";
        QTest::newRow("numbers") << "{{ 1_000 0x1F 0o17 0b101 1.5e3 2E-3 .5 1. }}"
                                 << "{{ I1000 I31 I15 I5 F1500 F0.002 O'.' I5 I1 O'.' }}";
        QTest::newRow("digits after a dot are items") << "{{ a.0.1 }}"
                                                      << "{{ N'a' O'.' I0 O'.' I1 }}";
        QTest::newRow("leading zero") << "{{ 0123 }}"
                                      << "{{ I0 I123 }}";
        QTest::newRow("string escapes") << "{{ 'a\\tb\\n\\x41\\u00e9\\101\\q\\'\"' }}"
                                        << "{{ S'a\\tb\\nAéA\\q'\"' }}";
        QTest::newRow("double-quoted") << "{{ \"it's\" }}"
                                       << "{{ S'it's' }}";
        QTest::newRow("adjacent strings stay two tokens") << "{{ 'a' 'b' }}"
                                                          << "{{ S'a' S'b' }}";
        QTest::newRow("trim_blocks eats one newline") << "{% if x %}\n\nA{% endif %}\nB"
                                                      << "{% N'if' N'x' %} D'\\nA' {% N'endif' %} D'B'";
        QTest::newRow("variable end keeps newline") << "{{ x }}\nB"
                                                    << "{{ N'x' }} D'\\nB'";
        QTest::newRow("lstrip_blocks drops indentation") << "a\n    {% if x %}y{% endif %}"
                                                         << "D'a\\n' {% N'if' N'x' %} D'y' {% N'endif' %}";
        QTest::newRow("lstrip at template start") << "  \t{% if x %}{% endif %}"
                                                  << "{% N'if' N'x' %} {% N'endif' %}";
        QTest::newRow("lstrip not before variables") << "a\n    {{ x }}"
                                                     << "D'a\\n    ' {{ N'x' }}";
        QTest::newRow("lstrip needs only spaces") << "a\n  b {% if x %}{% endif %}"
                                                  << "D'a\\n  b ' {% N'if' N'x' %} {% N'endif' %}";
        QTest::newRow("lstrip of comments") << "a\n  {# c #}\nb"
                                            << "D'a\\n' D'b'";
        QTest::newRow("minus strips all whitespace before") << "a \n\t {%- if x %}{% endif %}"
                                                            << "D'a' {% N'if' N'x' %} {% N'endif' %}";
        QTest::newRow("minus strips all whitespace after") << "{% if x -%} \n\n b{% endif %}"
                                                           << "{% N'if' N'x' %} D'b' {% N'endif' %}";
        QTest::newRow("variable minus") << "a  {{- x -}}  b"
                                        << "D'a' {{ N'x' }} D'b'";
        QTest::newRow("plus keeps indentation") << "a\n  {%+ if x %}{% endif %}"
                                                << "D'a\\n  ' {% N'if' N'x' %} {% N'endif' %}";
        QTest::newRow("plus keeps the newline") << "{% if x +%}\nb{% endif %}"
                                                << "{% N'if' N'x' %} D'\\nb' {% N'endif' %}";
        QTest::newRow("unicode whitespace is whitespace") << "a\u3000{%- if x %}{% endif %}"
                                                          << "D'a' {% N'if' N'x' %} {% N'endif' %}";
        QTest::newRow("raw") << "{% raw %}{{ x }}{% endraw %}"
                             << "D'{{ x }}'";
        QTest::newRow("raw with stripping") << "a {%- raw -%}  b  {%- endraw %} c"
                                            << "D'a' D'b' D' c'";
        QTest::newRow("crlf normalised") << "a\r\nb\rc"
                                         << "D'a\\nb\\nc'";
        QTest::newRow("one trailing newline dropped") << "a\n\n"
                                                      << "D'a\\n'";
        QTest::newRow("newlines inside tags") << "{%\nif\nx\n%}{% endif %}"
                                              << "{% N'if' N'x' %} {% N'endif' %}";
    }

    void tokens()
    {
        QFETCH(QString, source);
        QFETCH(QString, expected);
        QCOMPARE(lex(source), expected);
    }

    void optionsCanBeTurnedOff()
    {
        LexerOptions plain;
        plain.trimBlocks = false;
        plain.lstripBlocks = false;
        plain.keepTrailingNewline = true;
        QCOMPARE(lex("  {% if x %}\nA\n", plain), QStringLiteral("D'  ' {% N'if' N'x' %} D'\\nA\\n'"));
    }

    void positionsAreLineAndCodePointColumn()
    {
        const LexedTemplate lexed = tokenize("é\n  ab {{ x }}", "t");
        const Token& name = lexed.tokens[2];
        QCOMPARE(QString::fromStdString(name.text), QStringLiteral("x"));
        const SourcePos pos = lexed.source.position(name.offset);
        QCOMPARE(pos.line, 2u);
        QCOMPARE(pos.column, 9u);
        QCOMPARE(lexed.source.position(1).column, 2u); // after the two bytes of é, one code point
    }

    void errors_data()
    {
        QTest::addColumn<QString>("source");
        QTest::addColumn<int>("kind");
        QTest::addColumn<QString>("message");
        QTest::newRow("unexpected character")
            << "ab\n{{ 1 ! 2 }}" << int(ErrorKind::Syntax) << "t.jinja:2:6: unexpected character '!'";
        QTest::newRow("unterminated string")
            << "{{ 'abc }}" << int(ErrorKind::Syntax) << "t.jinja:1:4: unexpected character ''' (unterminated string)";
        QTest::newRow("unbalanced bracket")
            << "{{ (1] }}" << int(ErrorKind::Syntax) << "t.jinja:1:6: unexpected ']', expected ')'";
        QTest::newRow("missing end of comment")
            << "x\n {# never closed" << int(ErrorKind::Syntax) << "t.jinja:2:2: missing end of comment tag";
        QTest::newRow("missing endraw") << "{% raw %} x" << int(ErrorKind::Syntax)
                                        << "t.jinja:1:1: missing end of raw directive";
        QTest::newRow("bad escape") << "{{ '\\x4' }}" << int(ErrorKind::Syntax)
                                    << "t.jinja:1:4: truncated \\xXX escape in string literal";
        QTest::newRow("non-ASCII identifier") << "{{ café }}" << int(ErrorKind::Unsupported)
                                              << "t.jinja:1:4: identifiers with non-ASCII characters are not supported";
        QTest::newRow("huge integer") << "{{ 99999999999999999999 }}" << int(ErrorKind::Unsupported)
                                      << "t.jinja:1:4: integer literal 99999999999999999999 does not fit in 64 bits";
        QTest::newRow("named escape") << "{{ '\\N{BULLET}' }}" << int(ErrorKind::Unsupported)
                                      << "t.jinja:1:4: \\N{...} escapes in string literals are not supported";
    }

    void errors()
    {
        QFETCH(QString, source);
        QFETCH(int, kind);
        QFETCH(QString, message);
        try {
            tokenize(source.toStdString(), "t.jinja");
            QFAIL("accepted");
        } catch (const TemplateError& e) {
            QCOMPARE(QString::fromUtf8(e.what()), message);
            QCOMPARE(int(e.kind()), kind);
        }
    }

    void invalidUtf8IsAnInputError()
    {
        try {
            tokenize(std::string("ok \xff"), "bad.jinja");
            QFAIL("accepted");
        } catch (const tunebench::InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("bad.jinja: invalid UTF-8"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestTemplateLexer)
#include "test_template_lexer.moc"
