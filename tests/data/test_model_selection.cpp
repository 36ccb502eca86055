// Model-based selection on a tiny random Llama: k-means on embeddings with
// sampling across clusters, and loss-based learnability.

#include "core/data/dataset_select.h"
#include "core/data/model_selection.h"
#include "core/model/model_loader.h"
#include "core/util/error.h"

#include "../model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <random>
#include <set>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestModelSelection : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
    }

    void kMeansSeparatesClusters()
    {
        // Three well-separated blobs of 10 points each.
        at::Tensor points = at::zeros({ 30, 2 });
        std::mt19937_64 rng(1);
        std::normal_distribution<float> noise(0.f, 0.1f);
        const float centres[3][2] = { { 0, 0 }, { 10, 0 }, { 0, 10 } };
        for (int i = 0; i < 30; ++i) {
            points[i][0] = centres[i / 10][0] + noise(rng);
            points[i][1] = centres[i / 10][1] + noise(rng);
        }
        const std::vector<int> a = kMeans(points, 3, 5);
        for (int blob = 0; blob < 3; ++blob) {
            for (int i = 1; i < 10; ++i)
                QCOMPARE(a[blob * 10 + i], a[blob * 10]);
        }
        QVERIFY(std::set<int>({ a[0], a[10], a[20] }).size() == 3);
        QVERIFY(a == kMeans(points, 3, 5));
        QCOMPARE(kMeans(points, 50, 1).size(), std::size_t(30)); // k above n is clamped
    }

    void embeddingsAreMeanPooledUnitVectors()
    {
        const at::Tensor e = embedTexts(m_model, { "the cat sat", "the cat sat", "a bird sang on the tree", "" }, 16);
        QCOMPARE(e.size(0), 4);
        QCOMPARE(e.size(1), 32);
        QVERIFY(at::allclose(e[0], e[1]));
        QVERIFY(std::abs(e[2].norm().item<double>() - 1.0) < 1e-5);
        QCOMPARE(e[3].abs().sum().item<double>(), 0.0); // empty text: a zero row
    }

    void clusterSelectionSamplesAcrossClusters()
    {
        std::vector<json> records;
        // A large group of near-identical records and a few different ones.
        for (int i = 0; i < 20; ++i)
            records.push_back({ { "text", "the cat sat on the mat " + std::to_string(i % 2) } });
        const char* others[] = { "zzzz qqqq xxxx", "1234 5678 90", "!!! ??? ...", "over the hill the sun rose" };
        for (const char* o : others)
            records.push_back({ { "text", o } });
        ClusterOptions o;
        o.modelDir = m_model;
        o.clusters = 4;
        o.keep = 8;
        o.seed = 2;
        const ClusterSelection s = selectByClusters(records, DatasetFormat::Text, o);
        QCOMPARE(s.indices.size(), std::size_t(8));
        QCOMPARE(s.assignment.size(), records.size());
        QCOMPARE(s.clusterSizes.size(), std::size_t(4));
        // Round-robin: every cluster is represented, up to its size.
        std::set<int> picked;
        for (auto i : s.indices)
            picked.insert(s.assignment[i]);
        QCOMPARE(picked.size(), std::size_t(4));
        const ClusterSelection again = selectByClusters(records, DatasetFormat::Text, o);
        QVERIFY(again.indices == s.indices);
    }

    void learnabilityPrefersWhatTheTuneLearns()
    {
        // Half the records repeat one sentence (learnable in a few steps); the
        // other half are random byte strings (noise a short tune cannot fit).
        std::vector<json> records;
        std::mt19937_64 rng(9);
        for (int i = 0; i < 8; ++i) {
            records.push_back({ { "instruction", "say it" }, { "output", "the cat sat on the mat" } });
            std::string noise;
            for (int j = 0; j < 22; ++j)
                noise += static_cast<char>('!' + rng() % 90);
            records.push_back({ { "instruction", "say it" }, { "output", noise } });
        }
        LearnabilityOptions o;
        o.modelDir = m_model;
        o.keep = 8;
        o.steps = 15;
        o.lr = 3e-3;
        o.batchSize = 4;
        o.seed = 3;
        const LearnabilitySelection s = selectByLearnability(records, DatasetFormat::Instruction, o);
        QCOMPARE(s.lossBefore.size(), records.size());
        double before = 0, after = 0;
        for (std::size_t i = 0; i < records.size(); ++i) {
            before += s.lossBefore[i];
            after += s.lossAfter[i];
        }
        QVERIFY2(after < before, qPrintable(QString("%1 -> %2").arg(before).arg(after)));
        QCOMPARE(s.indices.size(), std::size_t(8));
        int repeated = 0;
        for (auto i : s.indices)
            repeated += i % 2 == 0;
        QVERIFY2(repeated >= 7, qPrintable(QString::number(repeated)));
        // Deterministic for a seed.
        QVERIFY(selectByLearnability(records, DatasetFormat::Instruction, o).indices == s.indices);
        o.steps = 0;
        QVERIFY_THROWS_EXCEPTION(InputError, selectByLearnability(records, DatasetFormat::Instruction, o));
    }
};

QTEST_GUILESS_MAIN(TestModelSelection)
#include "test_model_selection.moc"
