// Runs that go wrong, and the Runs page's duplicate and delete: a worker that
// refuses its configuration at start, a worker killed mid-run, a run left
// "running" by a worker that died while no GUI was open (marked failed with
// the tail of its log when the workspace is opened), duplicate into Run
// Setup, delete with confirmation (rows and files).

#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "gui/run_test_support.h"
#include "ui/main_window.h"
#include "ui/models/run_table_model.h"
#include "ui/pages/run_setup_page.h"
#include "ui/pages/runs_page.h"
#include "ui/run_queue.h"
#include "ui/widgets/schema_form.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QProcess>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <csignal>
#include <fstream>
#include <memory>

#include <signal.h>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

RunStatus statusOf(const gui_test::RunFixture& fixture, std::int64_t id)
{
    const auto run = fixture.run(id);
    return run ? run->status : RunStatus::Queued;
}

// Answers the next modal message box with `button` once it shows.
void answerNextMessageBox(QMessageBox::StandardButton button)
{
    QTimer::singleShot(0, [button] {
        auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget());
        if (!box) {
            answerNextMessageBox(button); // not shown yet
            return;
        }
        box->button(button)->click();
    });
}

} // namespace

class TestRunFailures : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchRunFailuresTest")); }

    void crashedWorkersMarkTheRunFailed()
    {
        gui_test::RunFixture fixture;
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        RunsPage* page = window->runsPage();
        window->runQueue()->setMaxActive(2);

        // A configuration the worker refuses before it marks the run running.
        nlohmann::json bad = fixture.config(5);
        bad["learning_rat"] = 0.1;
        const std::int64_t refused = fixture.recordRun(bad);
        // A run whose worker is killed mid-run.
        const std::int64_t killed = fixture.recordRun(fixture.config(100000));
        QVERIFY(page->startRun(refused));
        QVERIFY(page->startRun(killed));
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, refused) == RunStatus::Failed, 30000);
        const std::string refusedError = fixture.run(refused)->error;
        QVERIFY2(QString::fromStdString(refusedError).contains(QStringLiteral("learning_rat")), refusedError.c_str());
        QVERIFY(QString::fromStdString(refusedError).contains(QStringLiteral("exited before the run started")));

        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, killed) == RunStatus::Running, 30000);
        const qint64 pid = fixture.run(killed)->workerPid.value_or(0);
        QVERIFY(pid > 0);
        QCOMPARE(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, killed) == RunStatus::Failed, 30000);
        const QString killedError = QString::fromStdString(fixture.run(killed)->error);
        QVERIFY2(killedError.contains(QStringLiteral("pid %1").arg(pid)), qPrintable(killedError));
        QVERIFY(killedError.contains(QStringLiteral("worker.log")));

        // The Runs page shows the error lines and the worker's log.
        QVERIFY(page->selectRun(refused));
        QTRY_VERIFY(
            page->findChild<QLabel*>(QStringLiteral("runTitle"))->text().contains(QStringLiteral("learning_rat")));
        QVERIFY(page->findChild<QPlainTextEdit*>(QStringLiteral("runLog"))
                    ->toPlainText()
                    .contains(QStringLiteral("learning_rat")));
        QVERIFY(page->findChild<QPushButton*>(QStringLiteral("runResumeButton"))->isEnabled());
        const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
        QDir().mkpath(folder);
        window->resize(1200, 800);
        QVERIFY(window->grab().save(folder + QStringLiteral("runs_failed.png")));
    }

    void runLeftRunningIsFailedOnReopen()
    {
        gui_test::RunFixture fixture;
        const std::int64_t id = fixture.recordRun(fixture.config(5));
        QProcess gone;
        gone.start(QStringLiteral("true"));
        QVERIFY(gone.waitForStarted());
        const qint64 deadPid = gone.processId();
        QVERIFY(gone.waitForFinished());
        {
            Workspace ws = Workspace::open(fixture.workspace);
            RunStore(ws.db()).setStatus(id, RunStatus::Running, {}, deadPid);
            std::filesystem::create_directories(ws.runDir(id));
            std::ofstream(ws.runDir(id) / "worker.log") << "step 1\nstep 2\nSegmentation fault (core dumped)\n";
        }
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        QTRY_VERIFY(statusOf(fixture, id) == RunStatus::Failed);
        const QString error = QString::fromStdString(fixture.run(id)->error);
        QVERIFY2(error.contains(QStringLiteral("Segmentation fault")), qPrintable(error));
        const int row = window->runsPage()->model()->rowOf(id);
        QTRY_COMPARE(window->runsPage()->model()->index(row, RunTableModel::StatusColumn).data().toString(),
            QStringLiteral("failed"));
    }

    void duplicateOpensRunSetup()
    {
        gui_test::RunFixture fixture;
        nlohmann::json config = fixture.config(17);
        config["r"] = 5;
        const std::int64_t id = fixture.recordRun(config);
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        QVERIFY(window->runsPage()->selectRun(id));
        // Monitor (the button, or a double-click) asks for the run to be followed live.
        QSignalSpy monitor(window->runsPage(), &RunsPage::monitorRequested);
        window->runsPage()->findChild<QPushButton*>(QStringLiteral("runMonitorButton"))->click();
        QCOMPARE(monitor.count(), 1);
        QCOMPARE(monitor.first().first().value<qint64>(), qint64(id));
        window->runsPage()->findChild<QPushButton*>(QStringLiteral("runDuplicateButton"))->click();
        QCOMPARE(window->currentPage(), MainWindow::RunSetupPageIndex);
        RunSetupPage* setup = window->runSetupPage();
        QCOMPARE(setup->findChild<QLineEdit*>(QStringLiteral("runName"))->text(), QStringLiteral("lora-test (copy)"));
        QCOMPARE(qobject_cast<QSpinBox*>(setup->adapterForm()->editor(QStringLiteral("r")))->value(), 5);
        QCOMPARE(qobject_cast<QSpinBox*>(setup->trainingForm()->editor(QStringLiteral("max_steps")))->value(), 17);
        QCOMPARE(setup->findChild<QLineEdit*>(QStringLiteral("modelPath"))->text(), fixture.modelPath());
        QVERIFY(setup->yamlText().contains(QStringLiteral("max_steps: 17")));
        QVERIFY2(setup->yamlError().isEmpty(), qPrintable(setup->yamlError()));
        // Start makes a new run: the original stays as it was.
        editorOfSpin(setup, "max_steps")->setValue(2);
        const auto copy = setup->start();
        QVERIFY(copy.has_value());
        QVERIFY(*copy != id);
        QTRY_VERIFY_WITH_TIMEOUT(statusOf(fixture, *copy) == RunStatus::Finished, 60000);
        QVERIFY(statusOf(fixture, id) == RunStatus::Queued);
        QCOMPARE(nlohmann::json::parse(fixture.run(*copy)->configJson)["r"].get<int>(), 5);
    }

    void deleteAsksThenRemovesRowsAndFiles()
    {
        gui_test::RunFixture fixture;
        const std::int64_t id = fixture.recordRun(fixture.config(2));
        const std::filesystem::path folder = fixture.workspace / "runs" / std::to_string(id);
        std::filesystem::create_directories(folder / "checkpoints");
        std::ofstream(folder / "worker.log") << "done\n";
        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        RunsPage* page = window->runsPage();
        QVERIFY(page->selectRun(id));

        answerNextMessageBox(QMessageBox::Cancel);
        QString error;
        QVERIFY(!page->deleteRun(id, &error));
        QVERIFY(fixture.run(id).has_value());
        QVERIFY(std::filesystem::exists(folder));

        answerNextMessageBox(QMessageBox::Yes);
        QVERIFY2(page->deleteRun(id, &error), qPrintable(error));
        QVERIFY(!fixture.run(id).has_value());
        QVERIFY(!std::filesystem::exists(folder));
        QCOMPARE(page->model()->rowOf(id), -1);
    }

private:
    static QSpinBox* editorOfSpin(RunSetupPage* page, const char* name)
    {
        return qobject_cast<QSpinBox*>(page->trainingForm()->editor(QString::fromLatin1(name)));
    }
};

QTEST_MAIN(TestRunFailures)
#include "test_run_failures.moc"
