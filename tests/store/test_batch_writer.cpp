// The batched writer: when it flushes, and that a batch is all or nothing.

#include "core/store/batch_writer.h"
#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QTemporaryDir>
#include <QtTest>

#include <thread>

using namespace tunebench;
using namespace std::chrono_literals;

class TestBatchWriter : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    std::optional<Workspace> m_ws;
    std::int64_t m_run = 0;

    std::int64_t stored() { return MetricQuery(m_ws->db()).count(m_run); }

private Q_SLOTS:
    void init()
    {
        m_ws.emplace(Workspace::create(m_tmp.path().toStdString() + "/" + QTest::currentTestFunction()));
        m_run = RunStore(m_ws->db()).create({ .name = "r" });
    }
    void cleanup() { m_ws.reset(); }

    void flushesWhenFull()
    {
        BatchWriter w(m_ws->db(), { .maxRows = 4, .maxDelay = 1h });
        for (int i = 0; i < 3; ++i)
            w.addMetric(m_run, i, "loss", i);
        QCOMPARE(stored(), 0);
        QCOMPARE(w.pending(), 3u);
        w.addMetric(m_run, 3, "loss", 3);
        QCOMPARE(stored(), 4);
        QCOMPARE(w.pending(), 0u);
        QCOMPARE(w.batchesCommitted(), 1u);
        QCOMPARE(w.rowsCommitted(), 4u);
    }

    void flushesWhenOld()
    {
        BatchWriter w(m_ws->db(), { .maxRows = 1000, .maxDelay = 20ms });
        w.addMetric(m_run, 0, "loss", 1);
        QCOMPARE(stored(), 0);
        std::this_thread::sleep_for(30ms);
        w.addMetric(m_run, 1, "loss", 1);
        QCOMPARE(stored(), 2);
    }

    void flushesOnDestruction()
    {
        {
            BatchWriter w(m_ws->db(), { .maxRows = 1000, .maxDelay = 1h });
            w.addMetric(m_run, 0, "loss", 1);
            w.addEvent(m_run, "step", R"({"step":0})");
            w.addSample(m_run, 0, 0, 0, "p", "t", 1);
            QCOMPARE(stored(), 0);
        }
        QCOMPARE(stored(), 1);
        QCOMPARE(RunStore(m_ws->db()).events(m_run).size(), 1u);
    }

    // A resumed run drops the rows its interrupted attempt wrote past the checkpoint, its own buffered
    // rows included, and keeps every row up to it and every other run's.
    void discardAfterKeepsTheCheckpointedSteps()
    {
        const std::int64_t other = RunStore(m_ws->db()).create({ .name = "other" });
        BatchWriter w(m_ws->db(), { .maxRows = 1000, .maxDelay = 1h });
        for (int step = 1; step <= 6; ++step) {
            w.addMetric(m_run, step, "loss", step);
            w.addMetric(other, step, "loss", step);
            w.addSample(m_run, step, 0, 0, "p", "t", 1);
        }
        w.flush();
        w.addMetric(m_run, 7, "loss", 7); // buffered, not yet committed
        QCOMPARE(w.discardAfter(m_run, 4),
            std::size_t(3 + 2)); // metrics 5..7 (the buffered one flushed first), samples 5..6
        QCOMPARE(w.pending(), 0u);
        const auto kept = MetricQuery(m_ws->db()).series(m_run, "loss");
        QCOMPARE(kept.size(), 4u);
        QCOMPARE(kept.back().step, std::int64_t(4));
        QCOMPARE(MetricQuery(m_ws->db()).series(other, "loss").size(), 6u);
        Statement st = m_ws->db().prepare("SELECT MAX(step), COUNT(*) FROM samples WHERE run_id = ?");
        st.bind(1, m_run);
        QVERIFY(st.step());
        QCOMPARE(st.int64(0), std::int64_t(4));
        QCOMPARE(st.int64(1), std::int64_t(4));
        QCOMPARE(w.discardAfter(m_run, 4), std::size_t(0));
    }

    void failedBatchWritesNothingAndKeepsRows()
    {
        BatchWriter w(m_ws->db(), { .maxRows = 1000, .maxDelay = 1h });
        w.addMetric(m_run, 0, "loss", 1);
        w.addMetric(m_run + 99, 0, "loss", 1); // no such run: the foreign key refuses it
        QVERIFY_THROWS_EXCEPTION(StoreError, w.flush());
        QCOMPARE(stored(), 0); // the good row did not land alone
        QCOMPARE(w.pending(), 2u); // nothing was dropped
        QCOMPARE(w.batchesCommitted(), 0u);
    }

    void emptyFlushIsFree()
    {
        BatchWriter w(m_ws->db());
        QCOMPARE(w.flush(), 0u);
        QCOMPARE(w.batchesCommitted(), 0u);
    }

    void readerSeesOnlyWholeBatches()
    {
        // A second connection (the GUI) reads while the writer commits.
        Database reader = Database::open(m_ws->databasePath(), Database::Mode::ReadOnly);
        const auto before = reader.dataVersion();
        BatchWriter w(m_ws->db(), { .maxRows = 100, .maxDelay = 1h });
        for (int i = 0; i < 250; ++i) {
            w.addMetric(m_run, i, "loss", i);
            const auto n = MetricQuery(reader).count(m_run);
            QVERIFY2(n % 100 == 0, qPrintable(QString::number(n)));
        }
        QCOMPARE(MetricQuery(reader).count(m_run), 200);
        QVERIFY(reader.dataVersion() != before);
    }
};

QTEST_GUILESS_MAIN(TestBatchWriter)
#include "test_batch_writer.moc"
