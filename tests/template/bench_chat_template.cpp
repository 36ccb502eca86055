// Chat template rendering speed: Tunebench's interpreter against Jinja2 (which compiles
// templates to Python bytecode; the reference environment's, through
// tests/reference/render_chat_template.py --time-repeats), over
// tests/template/conversations.jsonl, with the real Llama 3 and Qwen3 templates of
// ../shared/fixtures/tokenizers (rows skipped where ../shared is absent) and a feature
// template. Prints renders per second and output MB/s for each; asserts nothing about speed.

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"
#include "support/reference.h"

#include <nlohmann/json.hpp>

#include <QElapsedTimer>
#include <QFile>
#include <QtTest>

using tunebench::ChatTemplate;
using ordered_json = nlohmann::ordered_json;

namespace {

const QString kSource = QStringLiteral(TUNEBENCH_SOURCE_DIR);
const QString kConversations = kSource + "/tests/template/conversations.jsonl";
constexpr int kRepeats = 40;

std::vector<ordered_json> requests()
{
    QFile f(kConversations);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    std::vector<ordered_json> out;
    for (const QByteArray& line : f.readAll().split('\n'))
        if (!line.trimmed().isEmpty())
            out.push_back(ordered_json::parse(line.toStdString()));
    return out;
}

} // namespace

class BenchChatTemplate : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void render_data()
    {
        QTest::addColumn<QString>("tokenizer");
        QTest::addColumn<QString>("templateFile");
        QTest::newRow("llama3") << "tokenizers/llama3" << QString();
        QTest::newRow("qwen3") << "tokenizers/qwen3" << QString();
        QTest::newRow("feature chat_style") << QString() << kSource + "/tests/template/features/chat_style.jinja";
    }

    void render()
    {
        QFETCH(QString, tokenizer); // a shared fixture, or empty
        QFETCH(QString, templateFile);
        if (!tokenizer.isEmpty()) {
            tokenizer = reference::sharedFixture(tokenizer);
            if (tokenizer.isEmpty())
                QSKIP("../shared/fixtures/tokenizers is not beside this checkout (a fresh clone has none)");
        }
        const auto chats = requests();
        QVERIFY(!chats.empty());
        const char* tokens = R"({"bos_token": "<s>", "eos_token": "</s>"})";
        std::optional<ChatTemplate> chat;
        if (tokenizer.isEmpty()) {
            QFile f(templateFile);
            QVERIFY(f.open(QIODevice::ReadOnly));
            chat.emplace(f.readAll().toStdString(), templateFile.toStdString(), ordered_json::parse(tokens));
        } else {
            chat.emplace(ChatTemplate::fromFolder(tokenizer.toStdString()));
        }
        int renders = 0;
        std::size_t bytes = 0;
        QElapsedTimer timer;
        timer.start();
        for (int r = 0; r < kRepeats; ++r) {
            for (const auto& request : chats) {
                try {
                    bytes += chat->renderRequest(request, "bench").size();
                    ++renders;
                } catch (const tunebench::InputError&) {
                    // Conversations the template rejects are skipped here and in Python alike.
                }
            }
        }
        const double seconds = timer.nsecsElapsed() / 1e9;
        qInfo().noquote() << QString("tunebench: %1 renders in %2 s = %3 renders/s, %4 MB/s output")
                                 .arg(renders)
                                 .arg(seconds, 0, 'f', 3)
                                 .arg(renders / seconds, 0, 'f', 0)
                                 .arg(bytes / seconds / 1e6, 0, 'f', 1);

        if (reference::python().isEmpty())
            QSKIP("no reference environment for the Jinja2 figure");
        QStringList args { "--input", kConversations, "--keep-going", "--time-repeats", QString::number(kRepeats),
            "--output", "/dev/null" };
        if (tokenizer.isEmpty())
            args << "--template" << templateFile << "--special-tokens" << tokens;
        else
            args << "--tokenizer" << tokenizer;
        const reference::Result r = reference::run("render_chat_template.py", args);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const auto figures = ordered_json::parse(r.err.trimmed().split('\n').last().toStdString());
        const double pySeconds = figures["seconds"].get<double>();
        const int pyRenders = figures["renders"].get<int>();
        qInfo().noquote() << QString("Jinja2: %1 renders in %2 s = %3 renders/s, %4 MB/s output (ratio %5x)")
                                 .arg(pyRenders)
                                 .arg(pySeconds, 0, 'f', 3)
                                 .arg(pyRenders / pySeconds, 0, 'f', 0)
                                 .arg(figures["output_bytes"].get<double>() / pySeconds / 1e6, 0, 'f', 1)
                                 .arg((renders / seconds) / (pyRenders / pySeconds), 0, 'f', 2);
        QCOMPARE(renders, pyRenders); // the same work on both sides
    }
};

QTEST_GUILESS_MAIN(BenchChatTemplate)
#include "bench_chat_template.moc"
