// Derived datasets: split, random sample, length filter, exact and MinHash
// de-duplication, statistics; every derived dataset records its lineage.

#include "core/data/dataset_import.h"
#include "core/data/dataset_select.h"
#include "core/data/dataset_stats.h"
#include "core/data/model_selection.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include "../model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>
#include <set>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestDatasetSelect : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::optional<Workspace> m_ws;
    std::int64_t m_id = 0; // 20 instruction records, 3 exact duplicates, 2 near-duplicates

    std::int64_t importLines(const std::string& name, const std::vector<json>& records)
    {
        const std::string path = m_dir.path().toStdString() + "/" + name + ".jsonl";
        std::ofstream out(path, std::ios::binary);
        for (const auto& r : records)
            out << r.dump() << "\n";
        out.close();
        const ImportResult r = importDataset(*m_ws, path, {});
        if (!r.imported)
            qFatal("import failed");
        return *r.id;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_ws.emplace(Workspace::create(m_dir.path().toStdString() + "/ws"));
        // 15 records of 14 words drawn from a large vocabulary (hardly any
        // shared shingles), 3 exact copies and 2 copies with the last word changed.
        std::vector<json> records;
        std::mt19937_64 rng(5);
        auto words = [&](int n) {
            std::string s;
            for (int i = 0; i < n; ++i)
                s += (i ? " w" : "w") + std::to_string(rng() % 5000);
            return s;
        };
        for (int i = 0; i < 15; ++i)
            records.push_back({ { "instruction", words(4) }, { "output", words(10) } });
        records.push_back(records[0]);
        records.push_back(records[1]);
        records.push_back(records[2]);
        for (int i : { 3, 4 }) {
            json nearCopy = records[static_cast<std::size_t>(i)];
            nearCopy["output"] = nearCopy["output"].get<std::string>() + "x";
            records.push_back(nearCopy);
        }
        m_id = importLines("base", records);
    }

    void splitIsSeededAndRecordsLineage()
    {
        const auto [train, eval] = splitDataset(*m_ws, m_id, 0.25, 7);
        QCOMPARE(train.records, 15);
        QCOMPARE(eval.records, 5);
        QCOMPARE(train.parentId.value_or(-1), m_id);
        QCOMPARE(eval.parentId.value_or(-1), m_id);
        QCOMPARE(train.operation, std::string("split"));
        const json p = json::parse(eval.paramsJson);
        QCOMPARE(p["ratio"].get<double>(), 0.25);
        QCOMPARE(p["seed"].get<int>(), 7);
        QCOMPARE(p["part"].get<std::string>(), std::string("eval"));
        QVERIFY(train.contentHash.starts_with("sha256:"));
        // The parts partition the parent (as multisets of records).
        const auto parent = loadDatasetRecords(*m_ws, m_id);
        auto trainRecords = loadDatasetRecords(*m_ws, train.id);
        const auto evalRecords = loadDatasetRecords(*m_ws, eval.id);
        std::multiset<std::string> a, b;
        for (const auto& r : parent)
            a.insert(r.dump());
        for (const auto& r : trainRecords)
            b.insert(r.dump());
        for (const auto& r : evalRecords)
            b.insert(r.dump());
        QVERIFY(a == b);
        // Same seed, same split; another seed, another split.
        const auto [train2, eval2] = splitDataset(*m_ws, m_id, 0.25, 7);
        QCOMPARE(eval2.contentHash, eval.contentHash);
        const auto [train3, eval3] = splitDataset(*m_ws, m_id, 0.25, 8);
        QVERIFY(eval3.contentHash != eval.contentHash);
        // The store lists them with their parent; the folder holds meta.json with the lineage.
        const auto stored = DatasetStore(m_ws->db()).find(eval.id);
        QVERIFY(stored && stored->parentId == m_id);
        std::ifstream meta(m_ws->datasetDir(eval.id) / "meta.json");
        const json m = json::parse(meta);
        QCOMPARE(m["parent"].get<std::int64_t>(), m_id);
        QCOMPARE(m["operation"].get<std::string>(), std::string("split"));
    }

    void splitRefusesBadRatios()
    {
        QVERIFY_THROWS_EXCEPTION(InputError, splitDataset(*m_ws, m_id, 0.0, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, splitDataset(*m_ws, m_id, 1.0, 1));
        QVERIFY_THROWS_EXCEPTION(InputError, splitDataset(*m_ws, 999, 0.5, 1));
    }

    void randomSample()
    {
        const auto a = selectRandom(100, 10, 3);
        QCOMPARE(a.size(), std::size_t(10));
        QVERIFY(std::is_sorted(a.begin(), a.end()));
        QVERIFY(std::set<std::size_t>(a.begin(), a.end()).size() == 10);
        QVERIFY(a == selectRandom(100, 10, 3));
        QVERIFY(a != selectRandom(100, 10, 4));
        QCOMPARE(selectRandom(5, 10, 1).size(), std::size_t(5));
        QCOMPARE(selectionSize(20, std::nullopt, 0.25), std::size_t(5));
        QCOMPARE(selectionSize(20, 30, std::nullopt), std::size_t(20));
        QVERIFY_THROWS_EXCEPTION(InputError, selectionSize(20, std::nullopt, std::nullopt));
        QVERIFY_THROWS_EXCEPTION(InputError, selectionSize(20, std::nullopt, 1.5));
    }

    void lengthFilterInWordsAndTokens()
    {
        const std::vector<json> records
            = { { { "text", "one two three" } }, { { "text", "one" } }, { { "text", "one two three four five six" } } };
        QVERIFY((selectByLength(records, DatasetFormat::Text, nullptr, 2, 4) == std::vector<std::size_t> { 0 }));
        QVERIFY(
            (selectByLength(records, DatasetFormat::Text, nullptr, 0, 100) == std::vector<std::size_t> { 0, 1, 2 }));
        const fs::path tok = fs::path(m_dir.path().toStdString()) / "tok";
        model_test::writeTinyTokenizer(tok);
        const Tokenizer tokenizer = Tokenizer::fromFolder(tok);
        // Byte-level BPE with few merges: "one" is 3 tokens, longer texts more.
        const auto kept = selectByLength(records, DatasetFormat::Text, &tokenizer, 1, 3);
        QVERIFY((kept == std::vector<std::size_t> { 1 }));
        QVERIFY_THROWS_EXCEPTION(InputError, selectByLength(records, DatasetFormat::Text, nullptr, 5, 2));
    }

    void exactDuplicatesRemoved()
    {
        const auto records = loadDatasetRecords(*m_ws, m_id);
        const auto keep = dedupExact(records);
        QCOMPARE(keep.size(), std::size_t(17)); // 20 - 3 exact copies
        QVERIFY(std::find(keep.begin(), keep.end(), 15) == keep.end());
    }

    void minHashFindsNearDuplicates()
    {
        // The estimate tracks the true Jaccard similarity of the shingle sets.
        MinHashOptions o;
        o.shingleWords = 1;
        o.permutations = 256;
        o.bands = 64;
        const auto sig = minHashSignatures({ "a b c d e f g h", "a b c d e f g x", "p q r s t u v w" }, o);
        // 7 shared words of 9 distinct ones: J = 0.78.
        QVERIFY2(std::abs(estimatedJaccard(sig[0], sig[1]) - 7.0 / 9.0) < 0.1,
            qPrintable(QString::number(estimatedJaccard(sig[0], sig[1]))));
        QVERIFY(estimatedJaccard(sig[0], sig[2]) < 0.05);

        const auto records = loadDatasetRecords(*m_ws, m_id);
        MinHashOptions near;
        near.shingleWords = 2;
        near.threshold = 0.7;
        const auto keep = dedupMinHash(records, DatasetFormat::Instruction, near);
        QCOMPARE(keep.size(), std::size_t(15)); // exact copies and the two near ones gone
        for (std::size_t i = 0; i < 15; ++i)
            QCOMPARE(keep[i], i); // the first of each group is kept
        near.threshold = 0.99; // only exact copies are that similar
        QCOMPARE(dedupMinHash(records, DatasetFormat::Instruction, near).size(), std::size_t(17));
        near.bands = 7;
        QVERIFY_THROWS_EXCEPTION(InputError, dedupMinHash(records, DatasetFormat::Instruction, near));
    }

    void derivedDatasetRecordsLineage()
    {
        const auto records = loadDatasetRecords(*m_ws, m_id);
        const auto keep = dedupExact(records);
        std::vector<json> selected;
        for (auto i : keep)
            selected.push_back(records[i]);
        const DatasetRecord d = writeDerivedDataset(*m_ws, m_id, selected, "dedup", json::object(), "base-dedup");
        QCOMPARE(d.parentId.value_or(-1), m_id);
        QCOMPARE(d.operation, std::string("dedup"));
        QCOMPARE(d.format, std::string("instruction"));
        QCOMPARE(d.records, 17);
        QCOMPARE(loadDatasetRecords(*m_ws, d.id).size(), std::size_t(17));
        // A derivation of a derivation points at its own parent.
        const DatasetRecord dd
            = writeDerivedDataset(*m_ws, d.id, { selected[0], selected[1] }, "random", json { { "count", 2 } }, "two");
        QCOMPARE(dd.parentId.value_or(-1), d.id);
        QCOMPARE(json::parse(dd.paramsJson)["count"].get<int>(), 2);
        QVERIFY_THROWS_EXCEPTION(InputError, writeDerivedDataset(*m_ws, m_id, {}, "random", json::object(), "none"));
    }

    void selectionByNameChecksParameters()
    {
        const DatasetRecord d = selectDataset(*m_ws, m_id, "random", json { { "count", 3 }, { "seed", 2 } });
        QCOMPARE(d.records, 3);
        QCOMPARE(d.parentId.value_or(-1), m_id);
        QCOMPARE(d.name, std::string("base-random"));
        QCOMPARE(json::parse(d.paramsJson), (json { { "count", 3 }, { "seed", 2 } }));
        const DatasetRecord m = selectDataset(*m_ws, m_id, "minhash", json { { "shingle", 2 }, { "threshold", 0.7 } });
        QCOMPARE(m.records, 15);
        QCOMPARE(json::parse(m.paramsJson)["permutations"].get<int>(), 128); // defaults recorded
        QVERIFY_THROWS_EXCEPTION(InputError, selectDataset(*m_ws, m_id, "random", json { { "count", "three" } }));
        QVERIFY_THROWS_EXCEPTION(InputError, selectDataset(*m_ws, m_id, "dedup", json { { "cout", 3 } }));
        QVERIFY_THROWS_EXCEPTION(InputError, selectDataset(*m_ws, m_id, "kmeans", json { { "count", 3 } }));
        QVERIFY_THROWS_EXCEPTION(InputError, selectDataset(*m_ws, m_id, "best", json::object()));
    }

    void statistics()
    {
        const fs::path tok = fs::path(m_dir.path().toStdString()) / "tok2";
        model_test::writeTinyTokenizer(tok);
        const Tokenizer tokenizer = Tokenizer::fromFolder(tok);
        const std::vector<json> records = { { { "instruction", "a" }, { "output", "bb" } },
            { { "instruction", "a" }, { "output", "bb" } }, { { "instruction", "ccc dd" }, { "output", "x y z w" } } };
        const DatasetStats s = computeDatasetStats(records, DatasetFormat::Instruction, tokenizer, 5);
        QCOMPARE(s.records, 3);
        QCOMPARE(s.duplicates, 1);
        QVERIFY(s.promptTokens
            == (std::vector<std::int64_t> { 1, 1, static_cast<std::int64_t>(tokenizer.encode("ccc dd").size()) }));
        QCOMPARE(s.responseTokens[0], static_cast<std::int64_t>(tokenizer.encode("bb").size()));
        QCOMPARE(s.truncated, 1); // only the last is longer than 5 tokens
        QVERIFY(std::abs(s.truncatedShare() - 1.0 / 3.0) < 1e-12);
        const json j = s.toJson(4);
        QCOMPARE(j["prompt_tokens"]["histogram"]["counts"].size(), std::size_t(4));
        std::int64_t total = 0;
        for (const auto& c : j["response_tokens"]["histogram"]["counts"])
            total += c.get<std::int64_t>();
        QCOMPARE(total, 3);
        const Histogram h = histogramOf({ 0, 1, 2, 3, 4, 10 }, 5);
        QVERIFY((h.counts == std::vector<std::int64_t> { 2, 2, 1, 0, 1 }));
        QCOMPARE(h.edges.back(), 10.0);
    }

    void recordTextsOfEachFormat()
    {
        const RecordTexts chat = recordTexts(json::parse(R"({"messages":[{"role":"system","content":"S"},
            {"role":"user","content":"U"},{"role":"assistant","content":"A"}]})"),
            DatasetFormat::Chat);
        QCOMPARE(chat.prompt, std::string("S\nU"));
        QCOMPARE(chat.response, std::string("A"));
        const RecordTexts pref = recordTexts(
            json { { "prompt", "P" }, { "chosen", "C" }, { "rejected", "R" } }, DatasetFormat::Preference);
        QCOMPARE(pref.all(), std::string("P\nC\nR"));
        const RecordTexts alpaca = recordTexts(
            json { { "instruction", "I" }, { "input", "X" }, { "output", "O" } }, DatasetFormat::Instruction);
        QCOMPARE(alpaca.prompt, std::string("I\nX"));
    }
};

QTEST_GUILESS_MAIN(TestDatasetSelect)
#include "test_dataset_select.moc"
