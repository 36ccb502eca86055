// Token ids and decoded text identical to the Hugging Face libraries, line by line
// over the hard-case corpus tests/tokenizer/corpus.jsonl: the reference is
// tests/reference/tokenize_reference.py, which loads a folder with transformers'
// AutoTokenizer as users do (and reports where the `tokenizers` library alone would
// differ). Compared for every line: ids without and with special tokens, and the
// decoding of the latter with and without skip_special_tokens; then random id
// sequences decoded. The folders:
//  - the real Llama 2, Llama 3, Qwen3 and GPT-2 tokenizers in ../shared/fixtures/tokenizers
//    (skipped with a message where ../shared is absent, as in a fresh clone);
//  - one tokenizer per pipeline shape Tunebench reads, trained at test time by
//    tests/reference/train_tokenizers.py on the same corpus (deterministic), so a
//    plain clone still compares with the reference.
// Then the round trip decode(encode(x)) and `tunebench-cli tokenize` against the reference.

#include "core/tokenizer/tokenizer.h"
#include "support/cli_runner.h"
#include "support/reference.h"

#include <nlohmann/json.hpp>

#include <QDir>
#include <QFile>
#include <QTemporaryDir>
#include <QtTest>


using tunebench::Tokenizer;
using nlohmann::json;

namespace {

const QString kCorpus = QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/tokenizer/corpus.jsonl");
constexpr int kRandomIdLines = 60;

QStringList splitLines(const QByteArray& bytes)
{
    QStringList lines = QString::fromUtf8(bytes).split('\n');
    if (!lines.isEmpty() && lines.last().isEmpty())
        lines.removeLast();
    return lines;
}

std::vector<std::string> corpusTexts()
{
    QFile f(kCorpus);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    std::vector<std::string> texts;
    for (const QString& line : splitLines(f.readAll()))
        texts.push_back(json::parse(line.toStdString()).get<std::string>());
    return texts;
}

QString show(const json& value)
{
    return QString::fromStdString(value.dump(-1, ' ', false, json::error_handler_t::replace)).left(300);
}

// Differences of one folder's comparison, by field.
struct Tally {
    int lines = 0;
    std::map<std::string, int> mismatched;
    QStringList first;

    void compare(const std::string& field, const json& theirs, const json& ours, int line, const json& input)
    {
        if (theirs == ours)
            return;
        if (mismatched[field]++ < 2 && first.size() < 8)
            first << QString("line %1 %2 %3\n  reference: %4\n  tunebench: %5")
                         .arg(line)
                         .arg(QString::fromStdString(field), show(input).left(80), show(theirs), show(ours));
    }

    int total() const
    {
        int n = 0;
        for (const auto& [field, count] : mismatched)
            n += count;
        return n;
    }

    QString summary() const
    {
        QStringList parts;
        for (const auto& [field, count] : mismatched)
            if (count > 0)
                parts << QString("%1 %2").arg(count).arg(QString::fromStdString(field));
        return parts.isEmpty() ? QStringLiteral("no mismatch") : parts.join(", ");
    }
};

} // namespace

class TestTokenizerParity : public QObject {
    Q_OBJECT

    QTemporaryDir m_work;
    std::vector<std::string> m_texts;
    QString m_notes; // the reference's stderr: where the `tokenizers` library alone differs

    QString trained(const QString& name) const { return m_work.filePath("trained/" + name); }
    // The reference's output for a folder (written by initTestCase's one batch).
    QString referenceOutput(const QString& folder) const
    {
        return m_work.filePath("reference/" + QString::number(qHash(folder)) + ".jsonl");
    }
    QStringList referenceLines(const QString& file) const
    {
        QFile f(file);
        return f.open(QIODevice::ReadOnly) ? splitLines(f.readAll()) : QStringList();
    }

    // The folder of a row: ../shared/fixtures/tokenizers/NAME or a trained one.
    static QString shared(const QString& name) { return reference::sharedFixture("tokenizers/" + name); }
    static QStringList trainedNames()
    {
        return { "bytelevel-gpt2", "bytelevel-llama3", "bytelevel-qwen2", "sp-legacy", "sp-llama", "metaspace",
            "added-tokens", "model-qwen2", "model-gpt2", "gpt2-files", "gpt2-files-config" };
    }

private Q_SLOTS:
    void initTestCase()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        Q_UNUSED(python);
        QVERIFY(m_work.isValid());
        m_texts = corpusTexts();
        QVERIFY2(m_texts.size() >= 350, "tests/tokenizer/corpus.jsonl is missing or short");
        const reference::Result r = reference::run(
            "train_tokenizers.py", { "--corpus", kCorpus, "--out", m_work.filePath("trained") });
        QVERIFY2(r.code == 0, qPrintable("train_tokenizers.py failed: " + r.err));
        qInfo().noquote() << "trained:" << r.out.trimmed().replace('\n', "; ");

        // Every reference output in one process (importing transformers costs seconds):
        // each folder's ids and decodings, and what the CLI checks compare with.
        QStringList folders;
        for (const char* name : { "llama2", "llama3", "qwen3", "gpt2" })
            if (!shared(name).isEmpty())
                folders << shared(name);
        for (const QString& name : trainedNames())
            folders << trained(name);
        QVERIFY(QDir().mkpath(m_work.filePath("reference")));
        QByteArray jobs;
        const auto job = [&](const QStringList& args) {
            json line = json::array();
            for (const QString& a : args)
                line.push_back(a.toStdString());
            jobs += QByteArray::fromStdString(line.dump()) + '\n';
        };
        for (const QString& folder : folders)
            job({ "--tokenizer", folder, "--input", kCorpus, "--all", "--random-ids", QString::number(kRandomIdLines),
                "--output", referenceOutput(folder) });
        const QString cliFolder = trained("added-tokens");
        job({ "--tokenizer", cliFolder, "--input", kCorpus, "--add-special-tokens", "--output",
            m_work.filePath("reference/cli_ids.jsonl") });
        job({ "--tokenizer", cliFolder, "--input", m_work.filePath("reference/cli_ids.jsonl"), "--decode",
            "--skip-special-tokens", "--output", m_work.filePath("reference/cli_text.jsonl") });
        QVERIFY(writeTextFile(m_work.filePath("jobs.jsonl"), jobs));
        const reference::Result batch = reference::run("tokenize_reference.py", { "--batch", m_work.filePath("jobs.jsonl") });
        QVERIFY2(batch.code == 0, qPrintable("tokenize_reference.py --batch failed: " + batch.err));
        m_notes = batch.err;
    }

    void parity_data()
    {
        QTest::addColumn<QString>("folder"); // empty: a real folder that is not here
        QTest::addColumn<QString>("missing"); // why it is not here
        for (const char* name : { "llama2", "llama3", "qwen3", "gpt2" })
            QTest::addRow("%s", name) << shared(name)
                                      << QString("../shared/fixtures/tokenizers/%1 is not beside this checkout (a "
                                                 "fresh clone has none)")
                                             .arg(name);
        for (const QString& name : trainedNames())
            QTest::addRow("trained %s", qPrintable(name)) << trained(name) << QString();
    }

    void parity()
    {
        QFETCH(QString, folder);
        QFETCH(QString, missing);
        if (folder.isEmpty())
            QSKIP(qPrintable(missing));
        const Tokenizer tokenizer = Tokenizer::fromFolder(folder.toStdString());
        const QStringList expected = referenceLines(referenceOutput(folder));
        // The corpus, then the reference's random id sequences.
        QCOMPARE(std::size_t(expected.size()), m_texts.size() + kRandomIdLines);
        Tally tally;
        for (int i = 0; i < expected.size(); ++i) {
            const json theirs = json::parse(expected[i].toStdString());
            const int line = i + 1;
            std::vector<std::int32_t> special;
            json input;
            if (std::size_t(i) < m_texts.size()) {
                const std::string& text = m_texts[std::size_t(i)];
                input = text;
                tally.compare("ids", theirs["ids"], json(tokenizer.encode(text)), line, input);
                tally.compare("ids_special", theirs["ids_special"], json(tokenizer.encode(text, true)), line, input);
                // Decode what the reference encoded, so a difference shows in one field only.
                special = theirs["ids_special"].get<std::vector<std::int32_t>>();
            } else {
                input = theirs["input"];
                special = input.get<std::vector<std::int32_t>>();
            }
            tally.compare("decoded", theirs["decoded"], json(tokenizer.decode(special)), line, input);
            tally.compare("decoded_skip", theirs["decoded_skip"], json(tokenizer.decode(special, true)), line, input);
            ++tally.lines;
        }
        qInfo().noquote() << QString("%1: %2 lines (%3 texts, %4 id sequences) x 4 fields compared with transformers: %5")
                                 .arg(QString::fromUtf8(QTest::currentDataTag()))
                                 .arg(tally.lines)
                                 .arg(m_texts.size())
                                 .arg(kRandomIdLines)
                                 .arg(tally.summary());
        // The reference's notes on this folder: a line naming it and the indented lines after it.
        bool ours = false;
        for (const QString& note : m_notes.split('\n')) {
            if (!note.startsWith(' '))
                ours = note.startsWith(folder + ": ");
            if (ours)
                qInfo().noquote() << "  reference:" << note.left(300);
        }
        for (const QString& m : tally.first)
            qInfo().noquote() << m;
        QCOMPARE(tally.total(), 0);
    }

    void roundTrip_data()
    {
        // expected: "x" (lossless), "NFC(x)" (lossless up to the NFC normalizer), or
        // "lossy" (isLossless() must say so; nothing else asked).
        QTest::addColumn<QString>("folder");
        QTest::addColumn<QString>("expected");
        QTest::addRow("llama3") << shared("llama3") << "x";
        QTest::addRow("gpt2") << shared("gpt2") << "x";
        QTest::addRow("qwen3") << shared("qwen3") << "NFC(x)";
        QTest::addRow("llama2") << shared("llama2") << "lossy";
        QTest::addRow("trained bytelevel-llama3") << trained("bytelevel-llama3") << "x";
        QTest::addRow("trained gpt2-files") << trained("gpt2-files") << "x";
        QTest::addRow("trained bytelevel-qwen2") << trained("bytelevel-qwen2") << "NFC(x)";
        // A prefix space comes back as a space.
        QTest::addRow("trained bytelevel-gpt2") << trained("bytelevel-gpt2") << "lossy";
        QTest::addRow("trained gpt2-files-config") << trained("gpt2-files-config") << "lossy";
        QTest::addRow("trained sp-legacy") << trained("sp-legacy") << "lossy";
        QTest::addRow("trained metaspace") << trained("metaspace") << "lossy";
        QTest::addRow("trained added-tokens") << trained("added-tokens") << "lossy";
        QTest::addRow("trained model-gpt2") << trained("model-gpt2") << "x";
        QTest::addRow("trained model-qwen2") << trained("model-qwen2") << "lossy";
    }

    void roundTrip()
    {
        QFETCH(QString, folder);
        QFETCH(QString, expected);
        if (folder.isEmpty())
            QSKIP("../shared/fixtures/tokenizers is not beside this checkout (a fresh clone has none)");
        const Tokenizer tokenizer = Tokenizer::fromFolder(folder.toStdString());
        QCOMPARE(tokenizer.isLossless(), expected == "x");
        if (expected == "lossy")
            return;
        int checked = 0;
        for (const std::string& text : m_texts) {
            std::string want = text;
            if (expected == "NFC(x)")
                want = QString::fromStdString(text).normalized(QString::NormalizationForm_C).toStdString();
            const std::string decoded = tokenizer.decode(tokenizer.encode(text));
            QVERIFY2(decoded == want,
                qPrintable(QString::fromStdString(json(text).dump() + " came back as " + json(decoded).dump())));
            ++checked;
        }
        qInfo().noquote() << QString("%1: decode(encode(x)) == %2 on %3 lines")
                                 .arg(QString::fromUtf8(QTest::currentDataTag()), expected)
                                 .arg(checked);
    }

    // `tunebench-cli tokenize` prints what the reference prints, encoding with special
    // tokens and decoding without them (a trained folder, so a plain clone runs it).
    void cliMatchesReference()
    {
        const QString folder = trained("added-tokens");
        const QStringList expected = referenceLines(m_work.filePath("reference/cli_ids.jsonl"));
        const CliResult r = runCli({ "tokenize", "--tokenizer", folder, "--input", kCorpus, "--add-special-tokens" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QStringList lines = splitLines(r.out.toUtf8());
        QCOMPARE(std::size_t(lines.size()), m_texts.size());
        QCOMPARE(lines.size(), expected.size());
        for (int i = 0; i < lines.size(); ++i)
            QCOMPARE(json::parse(lines[i].toStdString()), json::parse(expected[i].toStdString()));

        const QString ids = m_work.filePath("cli_ids.jsonl");
        QVERIFY(writeTextFile(ids, r.out.toUtf8()));
        const QStringList decodedRef = referenceLines(m_work.filePath("reference/cli_text.jsonl"));
        const CliResult back
            = runCli({ "tokenize", "--decode", "--skip-special-tokens", "--tokenizer", folder, "--input", ids });
        QVERIFY2(back.code == 0, qPrintable(back.err));
        const QStringList decoded = splitLines(back.out.toUtf8());
        QCOMPARE(decoded.size(), decodedRef.size());
        QCOMPARE(std::size_t(decoded.size()), m_texts.size());
        for (int i = 0; i < decoded.size(); ++i)
            QCOMPARE(json::parse(decoded[i].toStdString()), json::parse(decodedRef[i].toStdString()));

        // A lossless folder takes the ids back to the corpus itself.
        const QString gpt2 = trained("gpt2-files");
        const CliResult plain = runCli({ "tokenize", "--tokenizer", gpt2, "--input", kCorpus });
        QCOMPARE(plain.code, 0);
        QVERIFY(writeTextFile(ids, plain.out.toUtf8()));
        const CliResult text = runCli({ "tokenize", "--decode", "--tokenizer", gpt2, "--input", ids });
        QCOMPARE(text.code, 0);
        const QStringList texts = splitLines(text.out.toUtf8());
        QCOMPARE(std::size_t(texts.size()), m_texts.size());
        for (int i = 0; i < texts.size(); ++i)
            QCOMPARE(json::parse(texts[i].toStdString()).get<std::string>(), m_texts[std::size_t(i)]);
    }

    void cliReportsBadLine()
    {
        const QString file = m_work.filePath("bad_input.jsonl");
        QVERIFY(writeTextFile(file, "\"fine\"\n{\"not\": \"a string\"}\n"));
        const CliResult r = runCli({ "tokenize", "--tokenizer", trained("bytelevel-llama3"), "--input", file });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(file + ":2"), qPrintable(r.err));
        const CliResult missing = runCli({ "tokenize", "--tokenizer", trained("bytelevel-llama3") });
        QCOMPARE(missing.code, 2);
    }
};

QTEST_GUILESS_MAIN(TestTokenizerParity)
#include "test_tokenizer_parity.moc"
