// Importing datasets into a workspace: format detection, validation with exact
// lines and fields, all-or-nothing refusal, skipping, column mapping, storage.

#include "core/data/dataset_import.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

std::string writeFile(const QTemporaryDir& dir, const std::string& name, const std::string& text)
{
    const std::string path = dir.path().toStdString() + "/" + name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

int foldersIn(const fs::path& dir)
{
    int n = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        (void)entry;
        ++n;
    }
    return n;
}

} // namespace

class TestDatasetImport : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::optional<Workspace> m_ws;

private Q_SLOTS:
    void init() { m_ws.emplace(Workspace::create(m_dir.path().toStdString() + "/ws-" + QTest::currentTestFunction())); }
    void cleanup() { m_ws.reset(); }

    void detectsEachFormat_data()
    {
        QTest::addColumn<QString>("file");
        QTest::addColumn<QString>("content");
        QTest::addColumn<QString>("format");
        QTest::newRow("text") << "t.jsonl"
                              << "{\"text\": \"hello\"}\n"
                              << "text";
        QTest::newRow("plain text file") << "t.txt"
                                         << "hello world\n"
                                         << "text";
        QTest::newRow("alpaca") << "a.jsonl"
                                << "{\"instruction\": \"Add\", \"input\": \"2+2\", \"output\": \"4\"}\n"
                                << "instruction";
        QTest::newRow("alpaca without input") << "a.json"
                                              << "[{\"instruction\": \"Say hi\", \"output\": \"hi\"}]"
                                              << "instruction";
        QTest::newRow("chat") << "c.jsonl"
                              << "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, "
                                 "{\"role\": \"assistant\", \"content\": \"Hello\"}]}\n"
                              << "chat";
        QTest::newRow("preference") << "p.csv"
                                    << "prompt,chosen,rejected\nQ,good,bad\n"
                                    << "preference";
        QTest::newRow("preference with messages")
            << "pm.jsonl"
            << "{\"prompt\": [{\"role\": \"user\", \"content\": \"Q\"}], \"chosen\": [{\"role\": \"assistant\", "
               "\"content\": \"A\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": \"B\"}]}\n"
            << "preference";
        QTest::newRow("unpaired") << "u.jsonl"
                                  << "{\"prompt\": \"Q\", \"completion\": \"A\", \"label\": true}\n"
                                     "{\"prompt\": \"Q\", \"completion\": \"B\", \"label\": \"false\"}\n"
                                  << "unpaired_preference";
    }

    void detectsEachFormat()
    {
        QFETCH(QString, file);
        QFETCH(QString, content);
        QFETCH(QString, format);
        const auto path = writeFile(m_dir, file.toStdString(), content.toStdString());
        ImportResult r = importDataset(*m_ws, path, {});
        QVERIFY2(r.imported, r.errors.empty() ? "" : r.errors[0].message.c_str());
        QCOMPARE(QString::fromStdString(std::string(toString(r.format))), format);
        const auto stored = DatasetStore(m_ws->db()).find(*r.id);
        QVERIFY(stored);
        QCOMPARE(QString::fromStdString(stored->format), format);
        QCOMPARE(stored->records, r.records);
        QVERIFY(QString::fromStdString(stored->contentHash).startsWith("sha256:"));
        QVERIFY(fs::is_regular_file(m_ws->datasetDir(*r.id) / "data.jsonl"));
        QVERIFY(fs::is_regular_file(m_ws->datasetDir(*r.id) / "meta.json"));
        const auto records = loadDatasetRecords(*m_ws, *r.id);
        QCOMPARE(static_cast<std::int64_t>(records.size()), r.records);
    }

    void canonicalRecords()
    {
        const auto path = writeFile(m_dir, "u.jsonl",
            "{\"prompt\": \"Q\", \"completion\": \"A\", \"label\": \"yes\", \"extra\": 1}\n"
            "{\"prompt\": \"Q\", \"completion\": \"B\", \"label\": 0}\n");
        ImportResult r = importDataset(*m_ws, path, {});
        QVERIFY(r.imported);
        const auto records = loadDatasetRecords(*m_ws, *r.id);
        QCOMPARE(QString::fromStdString(records[0].dump()),
            QStringLiteral("{\"completion\":\"A\",\"label\":true,\"prompt\":\"Q\"}"));
        QCOMPARE(records[1]["label"].get<bool>(), false);
        const auto alpaca = writeFile(m_dir, "a.jsonl", "{\"instruction\": \"I\", \"output\": \"O\"}\n");
        r = importDataset(*m_ws, alpaca, {});
        QCOMPARE(loadDatasetRecords(*m_ws, *r.id)[0]["input"].get<std::string>(), std::string()); // filled in
    }

    void badRecordsReportedWithLinesAndNothingImported()
    {
        const auto path = writeFile(m_dir, "bad.jsonl",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": "
            "\"assistant\", \"content\": \"Yo\"}]}\n"
            "{\"messages\": [{\"role\": \"robot\", \"content\": \"Hi\"}, {\"role\": "
            "\"assistant\", \"content\": 5}]}\n"
            "not json\n"
            "{\"messages\": [{\"role\": \"user\", \"content\": \"only a question\"}]}\n"
            "{\"messages\": []}\n");
        const int before = foldersIn(m_ws->datasetsDir());
        ImportResult r = importDataset(*m_ws, path, {});
        QVERIFY(!r.imported);
        QVERIFY(!r.id);
        QCOMPARE(r.invalid, 4);
        QCOMPARE(r.errors.size(), 5u); // line 2 has two problems
        QCOMPARE(r.errors[0].line, 2);
        QCOMPARE(r.errors[0].field, std::string("messages[0].role"));
        QVERIFY(r.errors[0].message.find("unknown role 'robot'") != std::string::npos);
        QCOMPARE(r.errors[1].line, 2);
        QCOMPARE(r.errors[1].field, std::string("messages[1].content"));
        QCOMPARE(r.errors[1].message, std::string("expected a string content, got number"));
        QCOMPARE(r.errors[2].line, 3);
        QCOMPARE(r.errors[3].line, 4);
        QVERIFY(r.errors[3].message.find("no assistant message") != std::string::npos);
        QCOMPARE(r.errors[4].line, 5);
        QCOMPARE(r.errors[4].field, std::string("messages"));
        // Nothing half-imported: no row, no folder, no scratch left behind.
        QVERIFY(DatasetStore(m_ws->db()).list().empty());
        QCOMPARE(foldersIn(m_ws->datasetsDir()), before);
    }

    void skipInvalidImportsTheRestAndListsTheSkipped()
    {
        const auto path
            = writeFile(m_dir, "mixed.csv", "prompt,chosen,rejected\nQ1,a,b\nQ2,,b\nQ3,same,same\nQ4,c,d\n");
        ImportOptions options;
        options.skipInvalid = true;
        ImportResult r = importDataset(*m_ws, path, options);
        QVERIFY(r.imported);
        QCOMPARE(r.records, 2);
        QCOMPARE(r.invalid, 2);
        QCOMPARE(r.errors.size(), 2u);
        QCOMPARE(r.errors[0].line, 3);
        QCOMPARE(r.errors[0].field, std::string("chosen"));
        QCOMPARE(r.errors[0].message, std::string("expected non-empty text"));
        QCOMPARE(r.errors[1].line, 4);
        QCOMPARE(r.errors[1].field, std::string("rejected"));
        const auto stored = DatasetStore(m_ws->db()).find(*r.id);
        QVERIFY(QString::fromStdString(stored->paramsJson).contains("\"skipped\":2"));
    }

    void columnMapping()
    {
        const auto path = writeFile(m_dir, "m.jsonl", "{\"question\": \"Q\", \"good\": \"A\", \"bad\": \"B\"}\n");
        QVERIFY_THROWS_EXCEPTION(InputError, importDataset(*m_ws, path, {})); // cannot tell the format
        ImportOptions options;
        options.mapping = { { "prompt", "question" }, { "chosen", "good" }, { "rejected", "bad" } };
        ImportResult r = importDataset(*m_ws, path, options);
        QVERIFY(r.imported);
        QVERIFY(r.format == DatasetFormat::Preference);
        QCOMPARE(loadDatasetRecords(*m_ws, *r.id)[0]["chosen"].get<std::string>(), std::string("A"));
        QVERIFY(QString::fromStdString(DatasetStore(m_ws->db()).find(*r.id)->paramsJson).contains("question"));
    }

    void explicitFormatValidatesEveryField()
    {
        const auto path = writeFile(m_dir, "e.jsonl", "{\"text\": \"not an instruction\"}\n");
        ImportOptions options;
        options.format = DatasetFormat::Instruction;
        ImportResult r = importDataset(*m_ws, path, options);
        QVERIFY(!r.imported);
        QCOMPARE(r.errors.size(), 2u);
        QCOMPARE(r.errors[0].field, std::string("instruction"));
        QVERIFY(r.errors[0].message.find("missing") != std::string::npos);
        QCOMPARE(r.errors[1].field, std::string("output"));
    }

    void sameContentSameHash()
    {
        const auto a = writeFile(m_dir, "h1.jsonl", "{\"text\": \"x\"}\n{\"text\": \"y\"}\n");
        const auto b = writeFile(m_dir, "h2.json", "[{\"text\": \"x\"}, {\"text\": \"y\", \"other\": 3}]");
        const auto c = writeFile(m_dir, "h3.jsonl", "{\"text\": \"y\"}\n{\"text\": \"x\"}\n");
        const auto ra = importDataset(*m_ws, a, {});
        const auto rb = importDataset(*m_ws, b, {});
        const auto rc = importDataset(*m_ws, c, {});
        QCOMPARE(ra.contentHash, rb.contentHash); // canonical content, whatever the file form
        QVERIFY(ra.contentHash != rc.contentHash);
        QCOMPARE(DatasetStore(m_ws->db()).list().size(), 3u);
    }

    void emptyAndCancelled()
    {
        const auto empty = writeFile(m_dir, "empty.jsonl", "\n\n");
        ImportResult r = importDataset(*m_ws, empty, {});
        QVERIFY(!r.imported);
        QCOMPARE(r.errors.back().message, std::string("the file holds no valid record"));

        std::string big;
        for (int i = 0; i < 50000; ++i)
            big += "{\"text\": \"row " + std::to_string(i) + " padded to make the file larger than a megabyte\"}\n";
        const auto path = writeFile(m_dir, "big.jsonl", big);
        ImportOptions options;
        options.progress = [](std::uint64_t, std::uint64_t) { return false; };
        r = importDataset(*m_ws, path, options);
        QVERIFY(r.cancelled);
        QVERIFY(!r.imported);
        QVERIFY(DatasetStore(m_ws->db()).list().empty());
        QCOMPARE(foldersIn(m_ws->datasetsDir()), 0);
    }
};

QTEST_GUILESS_MAIN(TestDatasetImport)
#include "test_dataset_import.moc"
