// Encode throughput of Tunebench's tokenizer against the Hugging Face `tokenizers`
// library (Rust; tests/reference/tokenize_reference.py --bench, one thread) on the same
// text: the hard-case corpus repeated to about 4 MB, with the real tokenizers of
// ../shared/fixtures/tokenizers (rows skipped where ../shared is absent). Prints figures;
// asserts only that both sides encoded the same bytes.
//
// Run: ctest -L bench -R bench_tokenizer -V, or build/tests/bench_tokenizer directly.

#include "core/tokenizer/tokenizer.h"
#include "support/reference.h"

#include <nlohmann/json.hpp>

#include <QElapsedTimer>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>

using tunebench::Tokenizer;

namespace {

const QString kCorpus = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/tokenizer/corpus.jsonl");
constexpr std::size_t kTargetBytes = 4 * 1000 * 1000;

} // namespace

class BenchTokenizer : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::vector<std::string> m_texts; // the corpus, repeated
    std::size_t m_bytes = 0;

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
        if (reference::python().isEmpty())
            qInfo("BENCH tokenizer: no reference environment: the `tokenizers` figures are left out");
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
        REQUIRE_SHARED_FIXTURE(folder, "tokenizers/" + name);
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

        QString theirs = "n/a";
        if (!reference::python().isEmpty()) {
            const reference::Result r = reference::run(
                "tokenize_reference.py", { "--tokenizer", folder, "--input", m_dir.filePath("repeated.jsonl"), "--bench", "1" });
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const auto j = nlohmann::json::parse(r.out.trimmed().toStdString(), nullptr, false);
            QVERIFY2(j.is_object() && j.contains("seconds"), r.out.constData());
            QCOMPARE(j["bytes"].get<std::size_t>(), m_bytes);
            theirs = QString::number(m_bytes / j["seconds"].get<double>() / 1e6, 'f', 2);
        }
        qInfo("BENCH tokenizer encode %-6s: Tunebench %7.2f MB/s | tokenizers (Rust) %s MB/s  (%.1f MB, %zu tokens, "
              "1 thread)",
            qPrintable(name), ours, qPrintable(theirs), m_bytes / 1e6, tokens);
    }
};

QTEST_GUILESS_MAIN(BenchTokenizer)
#include "bench_tokenizer.moc"
