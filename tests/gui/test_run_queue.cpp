// The run queue with real worker processes: one run at a time, stop (SIGTERM:
// the trainer stops after its step with a checkpoint) and resume from it, and
// a detached worker that keeps training after the window is destroyed.

#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "gui/run_test_support.h"
#include "ui/main_window.h"
#include "ui/models/run_table_model.h"
#include "ui/pages/runs_page.h"
#include "ui/run_queue.h"
#include "ui/workspace_session.h"

#include <QDir>
#include <QFile>
#include <QLabel>
#include <QPushButton>
#include <QSettings>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <memory>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

RunStatus statusOf(const gui_test::RunFixture& fixture, std::int64_t id)
{
    const auto run = fixture.run(id);
    return run ? run->status : RunStatus::Failed;
}

std::int64_t lastStep(const gui_test::RunFixture& fixture, std::int64_t id)
{
    Workspace ws = Workspace::open(fixture.workspace);
    const auto points = MetricQuery(ws.db()).series(id, "loss");
    return points.empty() ? 0 : points.back().step;
}

} // namespace

class TestRunQueue : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchRunQueueTest")); }

    // One active run at a time; stop and resume a run; the next queued run starts when the first stops.
    void stopResumeAndQueueOrder()
    {
        gui_test::RunFixture fixture;
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        RunsPage* page = window->runsPage();
        QCOMPARE(window->runQueue()->maxActive(), 1);
        const std::int64_t longRun = fixture.recordRun(fixture.config(100000));
        const std::int64_t shortRun = fixture.recordRun(fixture.config(3, "bitfit"));

        QString error;
        QVERIFY2(page->startRun(longRun, &error), qPrintable(error));
        QVERIFY(!page->startRun(longRun, &error)); // already queued
        QVERIFY(error.contains(QStringLiteral("already")));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, longRun) == RunStatus::Running, 30000);
        QVERIFY(page->startRun(shortRun, &error));
        QVERIFY(window->runQueue()->isPending(shortRun)); // waits for the active one
        QTRY_VERIFY_WITH_TIMEOUT(lastStep(fixture, longRun) >= 6, 30000);
        QVERIFY(statusOf(fixture, shortRun) == RunStatus::Queued);
        page->selectRun(longRun);
        QVERIFY(page->findChild<QPushButton*>(QStringLiteral("runStopButton"))->isEnabled());
        QVERIFY(!page->findChild<QPushButton*>(QStringLiteral("runResumeButton"))->isEnabled());

        // Stop: after the current step, with a checkpoint; the waiting run starts.
        QVERIFY2(page->stopRun(longRun, &error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, longRun) == RunStatus::Cancelled, 30000);
        const std::int64_t stoppedAt = lastStep(fixture, longRun);
        QVERIFY(std::filesystem::exists(fixture.workspace / "runs" / std::to_string(longRun) / "checkpoints")
            || std::filesystem::exists(fixture.workspace / "runs" / std::to_string(longRun)));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, shortRun) == RunStatus::Finished, 60000);
        QVERIFY(!window->runQueue()->isPending(shortRun));

        // Resume continues from the checkpoint written at the stop.
        page->selectRun(longRun);
        QTRY_VERIFY(page->findChild<QPushButton*>(QStringLiteral("runResumeButton"))->isEnabled());
        QVERIFY2(page->resumeRun(longRun, &error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(lastStep(fixture, longRun) > stoppedAt + 2, 60000);
        QVERIFY(statusOf(fixture, longRun) == RunStatus::Running);
        std::int64_t resumedFrom = -1;
        {
            Workspace ws = Workspace::open(fixture.workspace);
            for (const EventRecord& e : RunStore(ws.db()).events(longRun)) {
                if (e.kind == "start")
                    resumedFrom = nlohmann::json::parse(e.payloadJson)["step"].get<std::int64_t>();
            }
        }
        QCOMPARE(resumedFrom, stoppedAt);
        const QString log = RunQueue::tail(window->runQueue()->logPath(longRun), 1000);
        QVERIFY2(log.contains(QStringLiteral("--resume %1").arg(longRun)), qPrintable(log));
        QVERIFY(page->stopRun(longRun, &error));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, longRun) == RunStatus::Cancelled, 30000);
        QVERIFY(!page->resumeRun(shortRun, &error)); // finished: nothing to resume
        QVERIFY(error.contains(QStringLiteral("finished")));
        QVERIFY(!page->startRun(shortRun, &error));
    }

    // Closing the GUI does not stop a run: its worker is detached and finishes on its own.
    void detachedRunSurvivesTheWindow()
    {
        gui_test::RunFixture fixture;
        const std::int64_t id = fixture.recordRun(fixture.config(40));
        qint64 pid = 0;
        {
            auto window = gui_test::openRunsWindow(fixture);
            QVERIFY(window);
            QVERIFY(window->runsPage()->startRun(id));
            QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, id) == RunStatus::Running, 30000);
            pid = fixture.run(id)->workerPid.value_or(0);
            QVERIFY(pid > 0);
        } // the window, its session and the queue are gone
        QVERIFY(RunQueue::processAlive(pid));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, id) != RunStatus::Running, 60000);
        QVERIFY(statusOf(fixture, id) == RunStatus::Finished);
        QCOMPARE(lastStep(fixture, id), std::int64_t(40));
        QTRY_VERIFY(!RunQueue::processAlive(pid));

        // A new window follows the finished run through the store.
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        const int row = window->runsPage()->model()->rowOf(id);
        QCOMPARE(window->runsPage()->model()->index(row, RunTableModel::StatusColumn).data().toString(),
            QStringLiteral("finished"));
    }
};

QTEST_MAIN(TestRunQueue)
#include "test_run_queue.moc"
