// Chat templates rendered by Tunebench equal the reference renderings of
// tests/reference/render_chat_template.py, line by line over
// tests/template/conversations.jsonl, twice:
//  - transformers' AutoTokenizer.apply_chat_template(tokenize=False), what users run:
//    the real Llama 3 and Qwen3 templates of ../shared/fixtures/tokenizers (skipped where
//    ../shared is absent) and every hand-made feature template in tests/template/features;
//  - the same Jinja2 environment built on the reference environment's Jinja2, which is
//    quick enough for the one-line templates of tests/template/snippets.jsonl too.
// A render that fails in the reference must fail here too, with the same message when
// the template raised it. Then the CLI on the same files. All reference renders come
// from one Python process (importing transformers costs seconds).

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"
#include "support/cli_runner.h"
#include "support/reference.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <optional>

using tunebench::ChatTemplate;
using ordered_json = nlohmann::ordered_json;

namespace {

const QString kSource = QStringLiteral(TUNEBENCH_SOURCE_DIR);
const QString kConversations = kSource + "/tests/template/conversations.jsonl";
const QString kSnippets = kSource + "/tests/template/snippets.jsonl";
const QString kSnippetConversations = kSource + "/tests/template/snippet_conversations.jsonl";
const QString kFeatures = kSource + "/tests/template/features";
const char* kFeatureTokens = R"({"bos_token": "<s>", "eos_token": "</s>"})";

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
    return QString("first difference at byte %1\n  reference: %2\n  tunebench: %3")
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
            problem = QString("raised messages differ\n  reference: %1\n  tunebench: %2")
                          .arg(QString::fromStdString(expected.error), QString::fromStdString(actual.error));
        } else if (expected.text) {
            problem = "the reference rendered it, tunebench failed: " + QString::fromStdString(actual.error);
        } else {
            problem = "the reference failed (" + QString::fromStdString(expected.error)
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

    QTemporaryDir m_work;

    // A reference rendering written by initTestCase's batch: RENDERER over a row.
    QString output(const QString& renderer, const QString& row) const
    {
        return m_work.filePath(renderer + "-" + QString::number(qHash(row)) + ".jsonl");
    }
    static QString shared(const QString& name) { return reference::sharedFixture("tokenizers/" + name); }
    QString namedFolder() const { return m_work.filePath("named"); }
    QString jinjaFolder() const { return m_work.filePath("jinja-file"); }
    static QStringList features()
    {
        return QDir(kFeatures).entryList({ "*.jinja" }, QDir::Files, QDir::Name);
    }
    // The arguments naming a row's template.
    static QStringList source(const QString& tokenizer, const QString& templateFile)
    {
        return tokenizer.isEmpty() ? QStringList { "--template", templateFile, "--special-tokens", kFeatureTokens }
                                   : QStringList { "--tokenizer", tokenizer };
    }

    static ChatTemplate load(const QString& tokenizer, const QString& templateFile)
    {
        if (!tokenizer.isEmpty())
            return ChatTemplate::fromFolder(tokenizer.toStdString());
        QFile f(templateFile);
        if (!f.open(QIODevice::ReadOnly))
            qFatal("cannot read %s", qPrintable(templateFile));
        return ChatTemplate(f.readAll().toStdString(), templateFile.toStdString(), ordered_json::parse(kFeatureTokens));
    }

    // Compares Tunebench with a reference output over the conversations.
    static Tally compareWith(const QString& file, const ChatTemplate& chat, const QStringList& conversations)
    {
        Tally tally;
        QFile f(file);
        const QStringList expected = f.open(QIODevice::ReadOnly) ? splitLines(f.readAll()) : QStringList();
        if (expected.size() != conversations.size()) {
            tally.mismatched = 1;
            tally.firstMismatch = QString("%1 has %2 lines for %3 conversations").arg(file).arg(expected.size()).arg(conversations.size());
            return tally;
        }
        for (int i = 0; i < conversations.size(); ++i) {
            const QString where = "conversations.jsonl:" + QString::number(i + 1);
            tally.compare(referenceOutcome(expected[i]), ourOutcome(chat, conversations[i], where.toStdString()), where);
        }
        return tally;
    }

private Q_SLOTS:
    void initTestCase()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        Q_UNUSED(python);
        QVERIFY(m_work.isValid());
        QVERIFY2(readLines(kConversations).size() >= 50, "tests/template/conversations.jsonl is missing or short");
        QVERIFY2(features().size() >= 10, "tests/template/features has too few templates");

        // Folders whose template transformers chooses: named templates (tool_use for a
        // conversation with tools), and chat_template.jinja beside a config template.
        const auto readFeature = [](const char* name) {
            QFile f(kFeatures + "/" + name);
            return f.open(QIODevice::ReadOnly) ? f.readAll().toStdString() : std::string();
        };
        const ordered_json tokenizerJson = { { "version", "1.0" }, { "truncation", nullptr }, { "padding", nullptr },
            { "added_tokens", ordered_json::array() }, { "normalizer", nullptr }, { "pre_tokenizer", nullptr },
            { "post_processor", nullptr }, { "decoder", nullptr },
            { "model", { { "type", "BPE" }, { "vocab", { { "a", 0 } } }, { "merges", ordered_json::array() } } } };
        ordered_json config = ordered_json::parse(kFeatureTokens);
        config["tokenizer_class"] = "PreTrainedTokenizerFast";
        for (const QString& folder : { namedFolder(), jinjaFolder() }) {
            QVERIFY(QDir().mkpath(folder));
            QVERIFY(writeTextFile(folder + "/tokenizer.json", QByteArray::fromStdString(tokenizerJson.dump())));
        }
        config["chat_template"] = ordered_json::array(
            { ordered_json { { "name", "default" }, { "template", readFeature("chat_style.jinja") } },
                ordered_json { { "name", "tool_use" }, { "template", readFeature("control_flow.jinja") } } });
        QVERIFY(writeTextFile(namedFolder() + "/tokenizer_config.json", QByteArray::fromStdString(config.dump())));
        config["chat_template"] = "config template {{ messages|length }}";
        QVERIFY(writeTextFile(jinjaFolder() + "/tokenizer_config.json", QByteArray::fromStdString(config.dump())));
        QVERIFY(writeTextFile(jinjaFolder() + "/chat_template.jinja", QByteArray::fromStdString(readFeature("loops.jinja"))));

        QByteArray jobs;
        const auto job = [&](const QStringList& args) {
            ordered_json line = ordered_json::array();
            for (const QString& a : args)
                line.push_back(a.toStdString());
            jobs += QByteArray::fromStdString(line.dump()) + '\n';
        };
        QList<QPair<QString, QString>> rows; // (tokenizer, template file)
        for (const char* name : { "llama3", "qwen3" })
            if (!shared(name).isEmpty())
                rows.append({ shared(name), QString() });
        for (const QString& f : features())
            rows.append({ QString(), kFeatures + "/" + f });
        rows.append({ namedFolder(), QString() });
        rows.append({ jinjaFolder(), QString() });
        for (const auto& [tokenizer, templateFile] : rows) {
            for (const char* renderer : { "jinja2", "transformers" })
                job(source(tokenizer, templateFile)
                    + QStringList { "--renderer", renderer, "--input", kConversations, "--keep-going", "--output",
                          output(renderer, tokenizer + templateFile) });
        }
        job({ "--template-list", kSnippets, "--input", kSnippetConversations, "--special-tokens", kFeatureTokens,
            "--output", output("jinja2", "snippets") });
        QVERIFY(writeTextFile(m_work.filePath("jobs.jsonl"), jobs));
        const reference::Result r = reference::run("render_chat_template.py", { "--batch", m_work.filePath("jobs.jsonl") });
        QVERIFY2(r.code == 0, qPrintable("render_chat_template.py --batch failed: " + r.err));
    }

    void parity_data()
    {
        QTest::addColumn<QString>("tokenizer"); // a tokenizer folder, or empty
        QTest::addColumn<QString>("templateFile"); // a feature template, or empty
        for (const char* name : { "llama3", "qwen3" })
            QTest::newRow(name) << shared(name) << QString();
        for (const QString& f : features())
            QTest::newRow(qPrintable("feature " + QFileInfo(f).baseName())) << QString() << kFeatures + "/" + f;
        QTest::newRow("folder with default and tool_use templates") << namedFolder() << QString();
        QTest::newRow("folder with chat_template.jinja and a config template") << jinjaFolder() << QString();
    }

    void parity()
    {
        QFETCH(QString, tokenizer);
        QFETCH(QString, templateFile);
        const QString name = QString::fromUtf8(QTest::currentDataTag());
        if (tokenizer.isEmpty() && templateFile.isEmpty())
            QSKIP(qPrintable("../shared/fixtures/tokenizers/" + name
                + " is not beside this checkout (a fresh clone has none): the test needs its real chat template"));
        const QStringList conversations = readLines(kConversations);
        const ChatTemplate chat = load(tokenizer, templateFile);
        for (const char* renderer : { "transformers", "jinja2" }) {
            const Tally tally = compareWith(output(renderer, tokenizer + templateFile), chat, conversations);
            qInfo().noquote() << "parity" << name << "vs" << renderer << ":" << tally.summary(conversations.size());
            QVERIFY2(tally.mismatched == 0, qPrintable(QString(renderer) + ": " + tally.firstMismatch));
            // Parity by failing everything alike would prove nothing.
            QVERIFY2(tally.identical >= conversations.size() * 3 / 4, qPrintable(tally.summary(conversations.size())));
        }
    }

    void llama2HasNoChatTemplate()
    {
        REQUIRE_SHARED_FIXTURE(dir, "tokenizers/llama2");
        // Its tokenizer_config.json carries no chat_template (null): both sides must say so.
        const reference::Result r
            = reference::run("render_chat_template.py", { "--tokenizer", dir, "--input", kConversations });
        QVERIFY2(r.code != 0, "the reference rendered a template for Llama-2");
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
        const QStringList expected = readLines(output("jinja2", "snippets"));
        QCOMPARE(expected.size(), templates.size() * conversations.size());
        Tally tally;
        for (int t = 0; t < templates.size(); ++t) {
            const std::string text = ordered_json::parse(templates[t].toStdString()).get<std::string>();
            std::optional<ChatTemplate> chat;
            std::string compileError;
            try {
                chat.emplace(text, "snippet", ordered_json::parse(kFeatureTokens));
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
        qInfo().noquote() << "parity snippets vs jinja2 :" << tally.summary(templates.size() * conversations.size());
        QVERIFY2(tally.mismatched == 0, qPrintable(tally.firstMismatch));
        QVERIFY(tally.identical > tally.bothFailed);
    }

    // The CLI prints what transformers renders, byte for byte (both print JSON strings
    // with only the escapes JSON requires); a feature template, so a plain clone runs it.
    void cliMatchesReference()
    {
        const QString templateFile = kFeatures + "/chat_style.jinja";
        const QStringList expected = readLines(output("transformers", templateFile));
        QVERIFY(!expected.isEmpty());
        const CliResult r = runCli(QStringList { "chat-template" } + source(QString(), templateFile)
            + QStringList { "--input", kConversations, "--keep-going" });
        QCOMPARE(r.code, 1); // the empty conversations fail
        const QStringList lines = splitLines(r.out.toUtf8());
        QCOMPARE(lines.size(), expected.size());
        int rendered = 0;
        for (int i = 0; i < lines.size(); ++i) {
            QCOMPARE(lines[i].startsWith('"'), expected[i].startsWith('"'));
            if (expected[i].startsWith('"')) {
                QCOMPARE(lines[i], expected[i]);
                ++rendered;
            }
        }
        QVERIFY(rendered >= lines.size() * 3 / 4);
    }

    void cliStopsAtTheFailingLine()
    {
        const QString templateFile = kFeatures + "/chat_style.jinja";
        const QStringList expected = readLines(output("transformers", templateFile));
        int firstFailure = 0;
        while (firstFailure < expected.size() && expected[firstFailure].startsWith('"'))
            ++firstFailure;
        QVERIFY2(firstFailure < expected.size(), "expected some conversation to fail (the empty ones)");
        const CliResult r
            = runCli(QStringList { "chat-template" } + source(QString(), templateFile) + QStringList { "--input", kConversations });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(kConversations + ":" + QString::number(firstFailure + 1) + ": "), qPrintable(r.err));
        QCOMPARE(splitLines(r.out.toUtf8()), expected.mid(0, firstFailure));
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
