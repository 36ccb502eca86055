// Streaming record readers: JSON Lines, JSON arrays, CSV/TSV and text, with line numbers.

#include "core/data/record_reader.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;

namespace {

struct Read {
    std::vector<SourceRecord> records;
    std::vector<RecordError> errors;
};

std::string writeFile(const QTemporaryDir& dir, const std::string& name, const std::string& text)
{
    const std::string path = dir.path().toStdString() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

Read readAll(const std::string& path)
{
    Read r;
    readRecords(
        path, detectFileType(path),
        [&](SourceRecord&& rec) {
            r.records.push_back(std::move(rec));
            return true;
        },
        [&](RecordError&& e) { r.errors.push_back(std::move(e)); });
    return r;
}

} // namespace

class TestRecordReader : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void jsonLinesWithBadLines()
    {
        const auto path = writeFile(m_dir, "a.jsonl",
            "\xEF\xBB\xBF{\"text\": \"one\"}\n\n{\"text\": \"two\"}\r\n{broken\n[1, 2]\n"
            "   \n{\"text\": \"last\"}");
        const Read r = readAll(path);
        QCOMPARE(r.records.size(), 3u);
        QCOMPARE(r.records[0].line, 1);
        QCOMPARE(r.records[0].value["text"].get<std::string>(), std::string("one"));
        QCOMPARE(r.records[1].line, 3);
        QCOMPARE(r.records[2].line, 7);
        QCOMPARE(r.errors.size(), 2u);
        QCOMPARE(r.errors[0].line, 4);
        QVERIFY2(QString::fromStdString(r.errors[0].message).startsWith("not valid JSON"), r.errors[0].message.c_str());
        QCOMPARE(r.errors[1].line, 5);
        QCOMPARE(r.errors[1].message, std::string("expected a JSON object, got array"));
    }

    // Found by the fuzz target: numbers beyond double's range made nlohmann
    // throw out of the reader even in its non-throwing mode.
    void numberOverflowIsARecordError()
    {
        const auto path = writeFile(m_dir, "big.jsonl", "{\"text\": 1e400}\n{\"text\": \"ok\"}\n");
        const Read r = readAll(path);
        QCOMPARE(r.records.size(), 1u);
        QCOMPARE(r.errors.size(), 1u);
        QCOMPARE(r.errors[0].line, 1);
        QVERIFY2(r.errors[0].message.find("number overflow") != std::string::npos, r.errors[0].message.c_str());
        const auto array = writeFile(m_dir, "big.json", "[{\"text\": \"a\"},\n {\"n\": -1e999}]");
        const Read a = readAll(array);
        QCOMPARE(a.records.size(), 1u);
        QCOMPARE(a.errors.size(), 1u);
        QCOMPARE(a.errors[0].line, 2);
    }

    void jsonArrayStreamsElementsWithLines()
    {
        const auto path = writeFile(m_dir, "b.json",
            "[\n  {\"text\": \"a, b ] } { [\"},\n  {\"text\": \"x\\\"y\",\n   \"n\": [1, {\"k\": 2}]},"
            "\n  \"not an object\",\n  {\"text\": \"multi\\nline\"}\n]\n");
        const Read r = readAll(path);
        QCOMPARE(r.records.size(), 3u);
        QCOMPARE(r.records[0].line, 2);
        QCOMPARE(r.records[0].value["text"].get<std::string>(), std::string("a, b ] } { ["));
        QCOMPARE(r.records[1].line, 3);
        QCOMPARE(r.records[1].value["text"].get<std::string>(), std::string("x\"y"));
        QCOMPARE(r.records[1].value["n"][1]["k"].get<int>(), 2);
        QCOMPARE(r.records[2].line, 6);
        QCOMPARE(r.errors.size(), 1u);
        QCOMPARE(r.errors[0].line, 5);
    }

    void brokenJsonArraysAreErrors_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message");
        QTest::newRow("not an array") << "{\"text\": 1}"
                                      << ":1: expected a JSON array";
        QTest::newRow("never closed") << "[{\"text\": \"a\"},\n{\"text\": \"b\"}"
                                      << "not closed";
        QTest::newRow("trailing comma") << "[{\"text\": \"a\"},\n]"
                                        << ":2: a comma before ']'";
        QTest::newRow("text after") << "[]\nx"
                                    << ":2: unexpected text";
        QTest::newRow("unbalanced") << "[{\"a\": 1}}]"
                                    << "unbalanced";
    }

    void brokenJsonArraysAreErrors()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        const auto path = writeFile(m_dir, "broken.json", text.toStdString());
        try {
            readRecords(
                path, FileType::JsonArray, [](SourceRecord&&) { return true; }, [](RecordError&&) {});
            QFAIL("a broken array was accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(path)), e.what());
        }
    }

    void csvQuotingAndMultilineCells()
    {
        const auto path = writeFile(m_dir, "c.csv",
            "prompt,chosen,rejected\r\n\"Hi, there\",\"say \"\"yes\"\"\",no\n"
            "\"two\nlines\",a,b\nshort,row\nx,y,z\n");
        const Read r = readAll(path);
        QCOMPARE(r.records.size(), 3u);
        QCOMPARE(r.records[0].value["prompt"].get<std::string>(), std::string("Hi, there"));
        QCOMPARE(r.records[0].value["chosen"].get<std::string>(), std::string("say \"yes\""));
        QCOMPARE(r.records[1].line, 3);
        QCOMPARE(r.records[1].value["prompt"].get<std::string>(), std::string("two\nlines"));
        QCOMPARE(r.records[2].line, 6);
        QCOMPARE(r.errors.size(), 1u);
        QCOMPARE(r.errors[0].line, 5);
        QCOMPARE(r.errors[0].message, std::string("expected 3 cells as in the header, got 2"));
    }

    void csvHeaderProblems()
    {
        const auto dup = writeFile(m_dir, "dup.csv", "a,b,a\n1,2,3\n");
        QVERIFY_THROWS_EXCEPTION(InputError, readAll(dup));
        const auto open = writeFile(m_dir, "open.csv", "a,b\n\"1,2\n");
        QVERIFY_THROWS_EXCEPTION(InputError, readAll(open));
    }

    void tsvAndText()
    {
        const auto tsv = writeFile(m_dir, "d.tsv", "instruction\toutput\nAdd 2 and 2\t4\n");
        Read r = readAll(tsv);
        QCOMPARE(r.records.size(), 1u);
        QCOMPARE(r.records[0].value["output"].get<std::string>(), std::string("4"));
        const auto txt = writeFile(m_dir, "e.txt", "first line\n\n  \nsecond line\n");
        r = readAll(txt);
        QCOMPARE(r.records.size(), 2u);
        QCOMPARE(r.records[1].line, 4);
        QCOMPARE(r.records[1].value["text"].get<std::string>(), std::string("second line"));
    }

    void fileTypes()
    {
        QVERIFY(detectFileType(writeFile(m_dir, "f.json", "  \n[]")) == FileType::JsonArray);
        QVERIFY(detectFileType(writeFile(m_dir, "g.json", "{\"a\":1}\n{\"a\":2}\n")) == FileType::Jsonl);
        QVERIFY(detectFileType("x.NDJSON") == FileType::Jsonl);
        QVERIFY_THROWS_EXCEPTION(InputError, detectFileType("x.parquet"));
        QVERIFY_THROWS_EXCEPTION(InputError, readAll(m_dir.path().toStdString() + "/missing.jsonl"));
    }

    void progressAndCancel()
    {
        std::string big;
        for (int i = 0; i < 60000; ++i)
            big += "{\"text\": \"record number " + std::to_string(i) + " with some padding\"}\n";
        const auto path = writeFile(m_dir, "big.jsonl", big);
        int calls = 0;
        std::uint64_t lastDone = 0;
        std::int64_t seen = 0;
        bool finished = readRecords(
            path, FileType::Jsonl,
            [&](SourceRecord&&) {
                ++seen;
                return true;
            },
            [](RecordError&&) {},
            [&](std::uint64_t done, std::uint64_t total) {
                ++calls;
                lastDone = done;
                return total == big.size();
            });
        QVERIFY(finished);
        QCOMPARE(seen, 60000);
        QVERIFY(calls >= 3);
        QCOMPARE(lastDone, static_cast<std::uint64_t>(big.size()));

        seen = 0;
        finished = readRecords(
            path, FileType::Jsonl,
            [&](SourceRecord&&) {
                ++seen;
                return true;
            },
            [](RecordError&&) {}, [&](std::uint64_t, std::uint64_t) { return false; });
        QVERIFY(!finished);
        QVERIFY(seen > 0 && seen < 60000);
    }

    void sha256KnownAnswers_data()
    {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("digest");
        QTest::newRow("empty") << QByteArray() << "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        QTest::newRow("abc") << QByteArray("abc") << "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        QTest::newRow("448 bits") << QByteArray("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                                  << "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
        QTest::newRow("million a") << QByteArray(1000000, 'a')
                                   << "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    }

    void sha256KnownAnswers()
    {
        QFETCH(QByteArray, input);
        QFETCH(QString, digest);
        QCOMPARE(QString::fromStdString(sha256Hex(std::string_view(input.constData(), input.size()))), digest);
        // The same in uneven pieces.
        Sha256 h;
        for (qsizetype i = 0; i < input.size(); i += 37)
            h.update(std::string_view(input.constData() + i, std::min<qsizetype>(37, input.size() - i)));
        QCOMPARE(QString::fromStdString(h.hexDigest()), digest);
    }
};

QTEST_GUILESS_MAIN(TestRecordReader)
#include "test_record_reader.moc"
