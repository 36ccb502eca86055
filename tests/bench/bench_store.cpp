// Store write and read rates. Prints figures; asserts only that the data landed.
//
// Run: ctest -L bench --output-on-failure, or build/tests/bench_store directly.

#include "core/store/batch_writer.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QElapsedTimer>
#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;

class BenchStore : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void insertRate_data()
    {
        QTest::addColumn<int>("batchRows");
        QTest::newRow("batch 64") << 64;
        QTest::newRow("batch 512") << 512;
        QTest::newRow("batch 4096") << 4096;
    }

    // A training run logs ~10 metrics a step; this writes 200k rows the same way.
    void insertRate()
    {
        QFETCH(int, batchRows);
        QTemporaryDir tmp;
        Workspace ws = Workspace::create(tmp.path().toStdString());
        const auto run = RunStore(ws.db()).create({ .name = "bench" });
        const char* names[] = { "loss", "lr", "grad_norm", "tokens_per_s", "eval_loss", "distinct_1", "distinct_2",
            "self_bleu", "kl", "delta_loss" };
        constexpr int kRows = 200000;
        QElapsedTimer t;
        t.start();
        std::uint64_t batches = 0;
        {
            BatchWriter w(
                ws.db(), { .maxRows = static_cast<std::size_t>(batchRows), .maxDelay = std::chrono::hours(1) });
            for (int i = 0; i < kRows; ++i)
                w.addMetric(run, i / 10, names[i % 10], i * 0.001);
            w.flush();
            batches = w.batchesCommitted();
        }
        const double seconds = t.nsecsElapsed() / 1e9;
        QCOMPARE(MetricQuery(ws.db()).count(run), kRows);
        qInfo("BENCH store insert: %d rows in %.3f s = %.0f rows/s (batch %d rows, %llu commits, synchronous=FULL)",
            kRows, seconds, kRows / seconds, batchRows, static_cast<unsigned long long>(batches));

        t.restart();
        const auto points = MetricQuery(ws.db()).series(run, "loss");
        const double readSeconds = t.nsecsElapsed() / 1e9;
        QCOMPARE(points.size(), static_cast<std::size_t>(kRows / 10));
        qInfo("BENCH store read: one metric series of %zu points in %.2f ms", points.size(), readSeconds * 1e3);
    }
};

QTEST_GUILESS_MAIN(BenchStore)
#include "bench_store.moc"
