// The Sweep page offscreen: a recorded sweep's points with mean +- std and the 95% t-interval of the sweep's
// metric (metrics written by hand, numbers worked out by hand), the best point marked; Start from a sweep file
// records the sweep and sends its runs through the run queue (a worker program that does not exist: the queue
// marks them failed); Resume queues what is not done; a bad file's message names it.

#include "ui/pages/sweep_page.h"
#include "ui/run_queue.h"
#include "ui/workspace_session.h"

#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/sweep_spec.h"
#include "core/sweep/sweep_store.h"

#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>

using namespace tunebench;
using namespace tunebench::ui;
namespace fs = std::filesystem;

class TestSweepPage : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    fs::path root() const { return fs::path(m_dir.path().toStdString()); }

    void writeFiles()
    {
        fs::create_directories(root() / "model");
        std::ofstream(root() / "data.jsonl") << "{\"text\": \"a\"}\n";
        std::ofstream(root() / "sweep.yaml")
            << "name: page\nbase: {model: model, dataset: data.jsonl, adapter: lora, max_steps: 2}\n"
               "grid:\n  adapter.r: [4, 8]\nmetric: eval_loss\n";
    }

private Q_SLOTS:
    void pointsWithStatistics()
    {
        writeFiles();
        const QString wsPath = m_dir.path() + "/ws";
        std::int64_t sweepId = 0;
        {
            Workspace ws = Workspace::create(wsPath.toStdString());
            RunStore runs(ws.db());
            SweepStore sweeps(ws.db());
            const SweepSpec s = SweepSpec::readFile(root() / "sweep.yaml");
            sweepId = sweeps.create(s.name, s.file.string(), s.canonicalJson().dump(), expandPoints(s));
            // Final eval_loss: point 0 {3, 4} (mean 3.5, std 0.7071), point 1 {1, 2} (mean 1.5): the best.
            const double finals[2][2] = { { 3.0, 4.0 }, { 1.0, 2.0 } };
            for (int p = 0; p < 2; ++p) {
                for (int k = 0; k < 2; ++k) {
                    NewRun n;
                    n.name = "r";
                    const std::int64_t run = runs.create(n);
                    sweeps.link(sweepId, run, p, k, k + 1);
                    Statement st = ws.db().prepare(
                        "INSERT INTO metrics (run_id, step, name, value, time) VALUES (?, 2, 'eval_loss', ?, 0)");
                    st.bind(1, run).bind(2, finals[p][k]);
                    st.run();
                    runs.setStatus(run, RunStatus::Finished);
                }
            }
        }
        WorkspaceSession session;
        RunQueue queue(&session);
        QVERIFY(session.open(wsPath));
        SweepPage page(&session, &queue);
        QCOMPARE(page.sweepTable()->rowCount(), 1);
        QVERIFY(page.selectSweep(sweepId));
        QTableWidget* points = page.pointTable();
        QCOMPARE(points->rowCount(), 2);
        QCOMPARE(points->item(0, SweepPage::ParamsColumn)->text(), QStringLiteral("adapter.r=4"));
        QCOMPARE(points->item(0, SweepPage::MeanColumn)->text(), QStringLiteral("3.5 ± 0.70711 (n=2)"));
        // t(0.975, 1) = 12.706204736174694 (scipy.stats.t.ppf): 3.5 -+ 12.7062 * 0.70711 / sqrt(2) = 3.5 -+ 6.3531.
        QCOMPARE(points->item(0, SweepPage::CiColumn)->text(), QStringLiteral("[-2.8531, 9.8531]"));
        QCOMPARE(points->item(1, SweepPage::MeanColumn)->text(), QStringLiteral("1.5 ± 0.70711 (n=2)"));
        QVERIFY(points->item(0, SweepPage::BestColumn)->text().isEmpty());
        QVERIFY(points->item(1, SweepPage::BestColumn)->text().contains("best"));
        QVERIFY(points->item(1, SweepPage::MeanColumn)->font().bold());
        QCOMPARE(page.summary()["best"]["index"].get<int>(), 1);

        // Every run finished: Resume has nothing to queue.
        QString error;
        QCOMPARE(page.resumeSweep(sweepId, &error), 0);
        QVERIFY2(error.isEmpty(), qPrintable(error));
    }

    void startGoesThroughTheQueue()
    {
        writeFiles();
        WorkspaceSession session;
        RunQueue queue(&session);
        queue.setCliPath(m_dir.path() + "/no-such-tunebench-cli");
        QVERIFY(session.create(m_dir.path() + "/ws2"));
        SweepPage page(&session, &queue);
        QCOMPARE(page.sweepTable()->rowCount(), 0);

        std::ofstream(root() / "bad.yaml")
            << "base: {model: model, dataset: data.jsonl}\ngrid:\n  training.lr_typo: [1]\n";
        QString error;
        QVERIFY(!page.startSweepFile(m_dir.path() + "/bad.yaml", &error));
        QVERIFY2(error.contains("bad.yaml") && error.contains("training.lr_typo"), qPrintable(error));
        QCOMPARE(page.sweepTable()->rowCount(), 0);

        QSignalSpy failed(&queue, &RunQueue::runFailed);
        page.startSweepFile(m_dir.path() + "/sweep.yaml", &error);
        QCOMPARE(page.sweepTable()->rowCount(), 1);
        const qint64 id = page.selectedSweep();
        QVERIFY(id > 0);
        QCOMPARE(page.pointTable()->rowCount(), 2);
        // Both runs went to the queue, whose worker program is missing: each is marked failed with the reason.
        QTRY_COMPARE(failed.count(), 2);
        QVERIFY(failed.at(0).at(1).toString().contains("no-such-tunebench-cli"));
        Workspace* ws = session.workspace();
        for (const SweepRunLink& l : SweepStore(ws->db()).runs(id))
            QVERIFY(RunStore(ws->db()).find(l.runId)->status == RunStatus::Failed);
        // The same file again is the same sweep; Resume queues the failed runs again (from the start: no checkpoint).
        page.startSweepFile(m_dir.path() + "/sweep.yaml", &error);
        QCOMPARE(page.sweepTable()->rowCount(), 1);
        QTRY_COMPARE(failed.count(), 4);
    }
};

QTEST_MAIN(TestSweepPage)
#include "test_sweep_page.moc"
