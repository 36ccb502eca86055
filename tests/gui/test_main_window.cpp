// The main window over a real workspace written by core: pages show the
// store, follow writes from another connection, and refuse broken folders.

#include "core/method/plugin_registry.h"
#include "core/store/artifacts.h"
#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/schema.h"
#include "core/store/workspace.h"
#include "core/version.h"
#include "ui/about_dialog.h"
#include "ui/dialogs/import_dialog.h"
#include "ui/dialogs/select_dialog.h"
#include "ui/main_window.h"
#include "ui/models/artifact_table_model.h"
#include "ui/models/config_diff_model.h"
#include "ui/models/dataset_table_model.h"
#include "ui/models/record_preview_model.h"
#include "ui/models/run_table_model.h"
#include "ui/pages/compare_page.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/exports_page.h"
#include "ui/pages/runs_page.h"
#include "ui/run_queue.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/length_histogram.h"
#include "ui/widgets/metric_plot.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QLineEdit>
#include <QMenu>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QStandardItemModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>
#include <QTreeWidget>

#include <functional>

#include <sys/stat.h>
#include <unistd.h>

#include "../model/model_test_support.h"

using namespace tunebench;
using namespace tunebench::ui;

namespace {

namespace fs = std::filesystem;

std::filesystem::path fsPath(const QString& path)
{
    return std::filesystem::path(path.toStdString());
}

// Two runs whose configs differ only in learning_rate, a dataset and one
// derived from it, 5 "loss" and 3 "lr" points for run A, and its adapter folder.
struct Fixture {
    QTemporaryDir dir;
    std::int64_t runA = 0;
    std::int64_t runB = 0;
    std::int64_t dataset = 0;
    std::int64_t derived = 0;

    Fixture()
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        DatasetStore datasets(ws.db());
        DatasetRecord ds;
        ds.name = "alpaca-mini";
        ds.format = "instruction";
        ds.sourcePath = "/data/alpaca_mini.jsonl";
        ds.records = 52;
        dataset = datasets.add(ds);
        ds.name = "alpaca-mini-dedup";
        ds.records = 50;
        ds.parentId = dataset;
        ds.operation = "dedup";
        derived = datasets.add(ds);

        RunStore runs(ws.db());
        NewRun run;
        run.name = "lora-fast";
        run.adapter = "lora";
        run.objective = "sft";
        run.modelPath = "/models/Qwen2-0.5B";
        run.datasetId = dataset;
        run.configJson = R"({"learning_rate": 0.0002, "lora": {"r": 8, "alpha": 16},
                             "target_modules": ["q_proj", "v_proj"], "num_train_epochs": 1})";
        runA = runs.create(run);
        run.name = "lora-slow";
        run.configJson = R"({"learning_rate": 0.0001, "lora": {"r": 8, "alpha": 16},
                             "target_modules": ["q_proj", "v_proj"], "num_train_epochs": 1})";
        runB = runs.create(run);
        runs.setStatus(runA, RunStatus::Running, {}, 4242);
        runs.setStatus(runA, RunStatus::Finished);

        BatchWriter writer(ws.db());
        for (int step = 1; step <= 5; ++step)
            writer.addMetric(runA, step, "loss", 2.0 - 0.25 * step);
        for (int step = 1; step <= 3; ++step)
            writer.addMetric(runA, step, "lr", 1e-4 * step);
        writer.flush();

        ArtifactRecord adapter;
        adapter.runId = runA;
        adapter.kind = "adapter";
        adapter.path = "runs/" + std::to_string(runA) + "/adapter";
        QDir(dir.path()).mkpath(QString::fromStdString(adapter.path));
        ArtifactStore(ws.db()).add(adapter);
    }
    QString path() const { return dir.path(); }
};

int proxyRowOf(QSortFilterProxyModel* proxy, std::int64_t id)
{
    for (int row = 0; row < proxy->rowCount(); ++row) {
        if (proxy->index(row, 0).data(kIdRole).value<qint64>() == id)
            return row;
    }
    return -1;
}

int diffRowOf(const ConfigDiffModel* model, const QString& key)
{
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->keyAt(row) == key)
            return row;
    }
    return -1;
}

} // namespace

class TestMainWindow : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void opensWorkspaceAndListsRuns();
    void selectingRunPlotsItsMetric();
    void datasetsAndExportsShowTheStore();
    void compareHighlightsDifferingKey();
    void followsWritesFromAnotherConnection();
    void idsSortNumericallyAndFilterMatches();
    void emptyWorkspaceExplainsHowToCreateRuns();
    void refusesBrokenFolders_data();
    void refusesBrokenFolders();
    void showsErrorDialogWithoutErrorOut();
    void readOnlyWorkspaceOpensForReading();
    void remembersWorkspaceAndGeometry();
    void aboutDialogListsVersions();
    void screenshotsOfEveryPage();
    void datasetsImportPreviewStatsSelectLineage();

private:
    QTemporaryDir m_settingsDir;
};

void TestMainWindow::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("Tunebench"));
    QCoreApplication::setApplicationName(QStringLiteral("Tunebench"));
    // Never touch the developer's own settings, whatever test mode covers.
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QVERIFY(QSettings().fileName().startsWith(m_settingsDir.path()));
    // Misbehaving plugin libraries beside the built-in ones (tests/method/bad_plugins: one crashes while
    // loading, one ends the process), probed as the desktop executable probes them: this process, like the
    // GUI, must carry on and list them as broken.
    qputenv("TUNEBENCH_PLUGIN_PATH",
        QByteArray(TUNEBENCH_BINARY_DIR "/tests/bad_plugins:") + qgetenv("TUNEBENCH_PLUGIN_PATH"));
    setDefaultPluginProbe(TUNEBENCH_CLI);
}

void TestMainWindow::init()
{
    QSettings().clear();
}

void TestMainWindow::opensWorkspaceAndListsRuns()
{
    Fixture fx;
    MainWindow window;
    QString error;
    QVERIFY2(window.openWorkspace(fx.path(), &error), qPrintable(error));
    QVERIFY(window.windowTitle().contains(QDir::toNativeSeparators(fx.path())));

    QSortFilterProxyModel* proxy = window.runsPage()->proxy();
    QCOMPARE(window.runsPage()->model()->rowCount(), 2);
    QCOMPARE(proxy->rowCount(), 2);
    const int rowA = proxyRowOf(proxy, fx.runA);
    const int rowB = proxyRowOf(proxy, fx.runB);
    QVERIFY(rowA >= 0 && rowB >= 0);
    QCOMPARE(proxy->index(rowA, RunTableModel::StatusColumn).data().toString(), QStringLiteral("finished"));
    QCOMPARE(proxy->index(rowB, RunTableModel::StatusColumn).data().toString(), QStringLiteral("queued"));
    QCOMPARE(proxy->index(rowA, RunTableModel::NameColumn).data().toString(), QStringLiteral("lora-fast"));
    QCOMPARE(proxy->index(rowA, RunTableModel::ModelColumn).data().toString(), QStringLiteral("Qwen2-0.5B"));
    QVERIFY(window.runsPage()->findChild<EmptyState*>(QStringLiteral("runsPageState"))->isShowingContent());
}

void TestMainWindow::selectingRunPlotsItsMetric()
{
    Fixture fx;
    MainWindow window;
    QVERIFY(window.openWorkspace(fx.path()));
    RunsPage* page = window.runsPage();
    QVERIFY(page->selectRun(fx.runA));
    QCOMPARE(page->selectedRunId().value_or(-1), fx.runA);

    auto* plot = page->findChild<QCustomPlot*>(QStringLiteral("runMetricPlot"));
    auto* combo = page->findChild<QComboBox*>(QStringLiteral("runMetricCombo"));
    QVERIFY(plot && combo);
    QCOMPARE(combo->count(), 2);
    QCOMPARE(combo->currentText(), QStringLiteral("loss"));
    QCOMPARE(plot->graph(0)->dataCount(), 5);
    QCOMPARE(plot->graph(0)->data()->at(4)->key, 5.0);
    QCOMPARE(plot->graph(0)->data()->at(4)->value, 0.75);
    combo->setCurrentText(QStringLiteral("lr"));
    QCOMPARE(plot->graph(0)->dataCount(), 3);

    const QString config = page->findChild<QPlainTextEdit*>(QStringLiteral("runConfig"))->toPlainText();
    QVERIFY(config.contains(QStringLiteral("\"learning_rate\": 0.0002")));
    QVERIFY2(config.contains(QStringLiteral("\n  \"lora\": {\n")), qPrintable(config)); // pretty, not one line

    // Run B has no metrics: the plot says so instead of showing stale points.
    QVERIFY(page->selectRun(fx.runB));
    QCOMPARE(plot->graph(0)->dataCount(), 0);
    QCOMPARE(combo->count(), 0);
}

void TestMainWindow::datasetsAndExportsShowTheStore()
{
    Fixture fx;
    MainWindow window;
    QVERIFY(window.openWorkspace(fx.path()));
    for (int p = 0; p < MainWindow::PageCount; ++p) {
        window.showPage(static_cast<MainWindow::Page>(p));
        QCOMPARE(window.currentPage(), static_cast<MainWindow::Page>(p));
    }

    DatasetTableModel* datasets = window.datasetsPage()->model();
    QCOMPARE(datasets->rowCount(), 2);
    const int derived = datasets->rowOf(fx.derived);
    QCOMPARE(datasets->index(derived, DatasetTableModel::ParentColumn).data().toString(),
        QStringLiteral("#%1 alpaca-mini").arg(fx.dataset));
    QCOMPARE(datasets->index(derived, DatasetTableModel::OperationColumn).data().toString(), QStringLiteral("dedup"));
    QCOMPARE(datasets->index(derived, DatasetTableModel::RecordsColumn).data().toLongLong(), 50);

    ExportsPage* exports = window.exportsPage();
    QCOMPARE(exports->model()->rowCount(), 1);
    QCOMPARE(exports->model()->index(0, ArtifactTableModel::KindColumn).data().toString(), QStringLiteral("adapter"));
    auto* openFolder = exports->findChild<QPushButton*>(QStringLiteral("exportsOpenFolder"));
    auto* table = exports->findChild<QTableView*>(QStringLiteral("exportsTable"));
    QVERIFY(!openFolder->isEnabled());
    table->selectRow(0);
    QVERIFY(openFolder->isEnabled());
    QCOMPARE(
        exports->selectedFolder(), QDir(fx.path()).absoluteFilePath(QStringLiteral("runs/%1/adapter").arg(fx.runA)));
    table->clearSelection();
    QVERIFY(!openFolder->isEnabled());
}

void TestMainWindow::compareHighlightsDifferingKey()
{
    Fixture fx;
    MainWindow window;
    QVERIFY(window.openWorkspace(fx.path()));
    ComparePage* page = window.comparePage();
    ConfigDiffModel* diff = page->diffModel();
    QVERIFY(page->setRunChecked(fx.runA, true));
    QCOMPARE(diff->configCount(), 0); // one run is nothing to compare
    QVERIFY(page->setRunChecked(fx.runB, true));
    QCOMPARE(diff->configCount(), 2);
    QCOMPARE(diff->keyCount(), 5); // learning_rate, lora.alpha, lora.r, num_train_epochs, target_modules
    QCOMPARE(diff->differenceCount(), 1);

    // What `tunebench --compare IDS|all` opens with: the Compare page with those runs (or every listed run) checked.
    {
        MainWindow fresh;
        QVERIFY(fresh.openWorkspace(fx.path()));
        QCOMPARE(fresh.showComparison({ fx.runB, 999999 }), 1); // an unknown id is not counted
        QVERIFY(fresh.currentPage() == MainWindow::ComparePageIndex);
        QCOMPARE(fresh.comparePage()->checkedRunIds(), QList<std::int64_t> { fx.runB });
        const int listed = static_cast<int>(fresh.comparePage()->listedRunIds().size());
        QVERIFY(listed >= 2);
        QCOMPARE(fresh.showComparison(), listed);
        QCOMPARE(fresh.comparePage()->checkedRunIds().size(), listed);
    }

    const int lr = diffRowOf(diff, QStringLiteral("learning_rate"));
    QVERIFY(lr >= 0);
    QVERIFY(diff->rowDiffers(lr));
    QVERIFY(diff->index(lr, 0).data(Qt::FontRole).value<QFont>().bold());
    QCOMPARE(diff->index(lr, 1).data().toString(), QStringLiteral("0.0002"));
    QCOMPARE(diff->index(lr, 2).data().toString(), QStringLiteral("0.0001"));
    const int r = diffRowOf(diff, QStringLiteral("lora.r"));
    QVERIFY(r >= 0);
    QVERIFY(!diff->rowDiffers(r));
    QCOMPARE(diff->index(diffRowOf(diff, QStringLiteral("target_modules")), 1).data().toString(),
        QStringLiteral(R"(["q_proj","v_proj"])"));

    page->findChild<QCheckBox*>(QStringLiteral("compareOnlyDifferences"))->setChecked(true);
    QCOMPARE(diff->rowCount(), 1);
    QCOMPARE(diff->keyAt(0), QStringLiteral("learning_rate"));
    QVERIFY(page->setRunChecked(fx.runB, false));
    QCOMPARE(diff->rowCount(), 0);
}

void TestMainWindow::followsWritesFromAnotherConnection()
{
    Fixture fx;
    MainWindow window;
    window.session()->setPollInterval(100); // the 1 s default would only make this test slower
    QVERIFY(window.openWorkspace(fx.path()));
    RunsPage* page = window.runsPage();
    QVERIFY(page->selectRun(fx.runA));
    auto* plot = page->findChild<QCustomPlot*>(QStringLiteral("runMetricPlot"));
    QCOMPARE(plot->graph(0)->dataCount(), 5);
    QSignalSpy changed(window.session(), &WorkspaceSession::changed);

    // A second connection is what a worker process is to the GUI.
    Workspace other = Workspace::open(fsPath(fx.path()));
    NewRun run;
    run.name = "from-the-cli";
    const std::int64_t third = RunStore(other.db()).create(run);
    QTRY_COMPARE(page->proxy()->rowCount(), 3);
    QVERIFY(proxyRowOf(page->proxy(), third) >= 0);
    QCOMPARE(page->selectedRunId().value_or(-1), fx.runA); // the selection stayed put
    QVERIFY(changed.count() >= 1);

    BatchWriter writer(other.db());
    writer.addMetric(fx.runA, 6, "loss", 0.5);
    writer.addMetric(fx.runA, 7, "loss", 0.4);
    writer.flush();
    QTRY_COMPARE(plot->graph(0)->dataCount(), 7);

    QVERIFY(RunStore(other.db()).remove(fx.runA));
    QTRY_COMPARE(page->proxy()->rowCount(), 2);
    // Single selection moves to a neighbour (Qt's rule); the details follow it.
    QCOMPARE(page->selectedRunId().value_or(-1), fx.runB);
    QVERIFY(page->findChild<QLabel*>(QStringLiteral("runTitle"))->text().contains(QStringLiteral("lora-slow")));
    QCOMPARE(plot->graph(0)->dataCount(), 0);

    // Nothing committed: no signal, so an idle workspace costs one PRAGMA a poll.
    const int before = changed.count();
    QTest::qWait(350);
    QCOMPARE(changed.count(), before);
}

void TestMainWindow::idsSortNumericallyAndFilterMatches()
{
    QTemporaryDir dir;
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        RunStore runs(ws.db());
        for (int i = 1; i <= 11; ++i) {
            NewRun run;
            run.name = (i % 2 ? "beta-" : "alpha-") + std::to_string(i);
            runs.create(run);
        }
    }
    MainWindow window;
    QVERIFY(window.openWorkspace(dir.path()));
    QSortFilterProxyModel* proxy = window.runsPage()->proxy();
    proxy->sort(RunTableModel::IdColumn, Qt::AscendingOrder);
    QCOMPARE(proxy->rowCount(), 11);
    for (int row = 0; row < 11; ++row)
        QCOMPARE(proxy->index(row, 0).data(kIdRole).value<qint64>(), qint64(row + 1)); // text order is 1, 10, 11, 2

    window.runsPage()->findChild<QLineEdit*>(QStringLiteral("runsFilter"))->setText(QStringLiteral("BETA"));
    QCOMPARE(proxy->rowCount(), 6);
}

void TestMainWindow::emptyWorkspaceExplainsHowToCreateRuns()
{
    MainWindow window;
    auto* runsState = window.runsPage()->findChild<EmptyState*>(QStringLiteral("runsPageState"));
    QVERIFY(!runsState->isShowingContent());
    QVERIFY(runsState->message().contains(QStringLiteral("No workspace is open")));

    QTemporaryDir dir;
    QVERIFY(window.createWorkspace(dir.path()));
    QVERIFY(Workspace::isWorkspace(fsPath(dir.path())));
    QVERIFY(!runsState->isShowingContent());
    // A GUI user is pointed at Run Setup, one click away, not at the command line.
    QVERIFY2(runsState->message().contains(QStringLiteral("Run Setup")), qPrintable(runsState->message()));
    QVERIFY(!runsState->message().contains(QStringLiteral("runs create")));
    QPushButton* go = runsState->actionButton();
    QVERIFY(!go->isHidden());
    QVERIFY(go->text().contains(QStringLiteral("Run Setup")));
    window.showPage(MainWindow::RunsPageIndex);
    QCOMPARE(window.currentPage(), MainWindow::RunsPageIndex);
    QTest::mouseClick(go, Qt::LeftButton);
    QCOMPARE(window.currentPage(), MainWindow::RunSetupPageIndex);
    // The datasets page shows its Import button at once, with a word on what to do.
    QVERIFY(window.datasetsPage()->findChild<EmptyState*>(QStringLiteral("datasetsPageState"))->isShowingContent());
    QVERIFY(window.datasetsPage()
                ->findChild<QLabel*>(QStringLiteral("datasetsPreviewLabel"))
                ->text()
                .contains(QStringLiteral("no datasets yet")));
    QVERIFY(window.datasetsPage()->findChild<QPushButton*>(QStringLiteral("datasetsImport"))->isEnabled());
    QVERIFY(!window.exportsPage()->findChild<EmptyState*>(QStringLiteral("exportsPageState"))->isShowingContent());
}

void TestMainWindow::refusesBrokenFolders_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("plain folder") << QStringLiteral("plain");
    QTest::newRow("missing folder") << QStringLiteral("missing");
    QTest::newRow("database is not SQLite") << QStringLiteral("garbage");
    QTest::newRow("schema newer than this build") << QStringLiteral("newer");
}

void TestMainWindow::refusesBrokenFolders()
{
    QFETCH(QString, kind);
    Fixture good;
    QTemporaryDir root;
    const QString dir = root.filePath(QStringLiteral("broken-") + kind);
    if (kind != QLatin1String("missing"))
        QVERIFY(QDir().mkpath(dir));
    if (kind == QLatin1String("garbage")) {
        QFile db(QDir(dir).filePath(QString::fromLatin1(Workspace::kDatabaseName)));
        QVERIFY(db.open(QIODevice::WriteOnly));
        db.write(QByteArray(4096, 'x'));
    } else if (kind == QLatin1String("newer")) {
        Workspace ws = Workspace::create(fsPath(dir));
        ws.db().exec("PRAGMA user_version = " + std::to_string(currentSchemaVersion() + 1));
    }

    MainWindow window;
    QVERIFY(window.openWorkspace(good.path()));
    QString error;
    QVERIFY(!window.openWorkspace(dir, &error));
    QVERIFY2(error.contains(dir), qPrintable(error));
    QVERIFY2(error.count(QLatin1Char('\n')) >= 1 && error.size() > dir.size() + 30, qPrintable(error)); // has a reason
    // The workspace that was open stays open and listed.
    QCOMPARE(window.session()->rootPath(), QDir(good.path()).absolutePath());
    QCOMPARE(window.runsPage()->proxy()->rowCount(), 2);
    QCOMPARE(QSettings().value(QStringLiteral("workspace/last")).toString(), QDir(good.path()).absolutePath());
}

// A workspace this user cannot write (copied from a colleague, on a read-only mount) opens for
// reading; the window says why nothing can be started, and the queue refuses with that reason.
void TestMainWindow::readOnlyWorkspaceOpensForReading()
{
    Fixture fixture;
    const fs::path root = fsPath(fixture.path());
    ::chmod(root.c_str(), 0555);
    for (const auto& e : fs::recursive_directory_iterator(root))
        fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::remove);
    MainWindow window;
    bool opened = false;
    {
        // Root may write anything: the workspace is opened as an unprivileged user then.
        const bool root_ = ::geteuid() == 0;
        QVERIFY(!root_ || ::seteuid(65534) == 0);
        opened = window.openWorkspace(fixture.path());
        QVERIFY(!root_ || ::seteuid(0) == 0);
    }
    ::chmod(root.c_str(), 0755);
    for (const auto& e : fs::recursive_directory_iterator(root))
        fs::permissions(e.path(), fs::perms::owner_write, fs::perm_options::add);
    QVERIFY(opened);
    QCOMPARE(window.runsPage()->proxy()->rowCount(), 2);
    QVERIFY(!window.session()->workspace()->isWritable());
    auto* label = window.findChild<QLabel*>(QStringLiteral("readOnlyLabel"));
    QVERIFY(label);
    QVERIFY(!label->isHidden());
    QVERIFY2(label->text().contains(QStringLiteral("Runs cannot be started"))
            && label->text().contains(QStringLiteral("is read-only for this user")),
        qPrintable(label->text()));
    QVERIFY2(window.windowTitle().contains(QStringLiteral("(read-only)")), qPrintable(window.windowTitle()));
    QString error;
    QVERIFY(!window.runQueue()->enqueue(fixture.runB, false, &error));
    QVERIFY2(error.contains(QStringLiteral("cannot be started in this workspace"))
            && error.contains(QString::fromStdString(root.string())),
        qPrintable(error));
    // Another, writable workspace clears the notice.
    Fixture writable;
    QVERIFY(window.openWorkspace(writable.path()));
    QVERIFY(label->isHidden());
}

void TestMainWindow::showsErrorDialogWithoutErrorOut()
{
    QTemporaryDir dir;
    MainWindow window;
    window.show();
    QString shown;
    // The box is modal; answer it from the event loop it runs.
    std::function<void()> closeBox = [&] {
        if (auto* box = qobject_cast<QMessageBox*>(QApplication::activeModalWidget())) {
            shown = box->text();
            QDir().mkpath(QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots"));
            box->grab().save(QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/open_error.png"));
            box->accept();
        } else {
            QTimer::singleShot(20, this, closeBox);
        }
    };
    QTimer::singleShot(0, this, closeBox);
    QVERIFY(!window.openWorkspace(dir.path()));
    QVERIFY2(shown.contains(dir.path()), qPrintable(shown));
    QVERIFY(!window.session()->isOpen());
}

void TestMainWindow::remembersWorkspaceAndGeometry()
{
    Fixture fx;
    Fixture other;
    {
        MainWindow window;
        window.resize(900, 640);
        window.show();
        QVERIFY(window.openWorkspace(other.path()));
        QVERIFY(window.openWorkspace(fx.path()));
        window.showPage(MainWindow::ComparePageIndex);
        window.close();
    }
    const QSettings settings;
    QCOMPARE(settings.value(QStringLiteral("workspace/last")).toString(), QDir(fx.path()).absolutePath());
    QCOMPARE(settings.value(QStringLiteral("workspace/recent")).toStringList(),
        QStringList({ QDir(fx.path()).absolutePath(), QDir(other.path()).absolutePath() }));
    QVERIFY(!settings.value(QStringLiteral("window/geometry")).toByteArray().isEmpty());

    MainWindow again;
    QCOMPARE(again.size(), QSize(900, 640));
    QCOMPARE(again.currentPage(), MainWindow::ComparePageIndex);
    QVERIFY(again.reopenLastWorkspace());
    QCOMPARE(again.session()->rootPath(), QDir(fx.path()).absolutePath());

    // File > Open Recent lists both, most recent first, and opens the one picked.
    auto* recent = again.findChild<QMenu*>(QStringLiteral("recentMenu"));
    QVERIFY(recent && recent->isEnabled());
    Q_EMIT recent->aboutToShow();
    const QList<QAction*> actions = recent->actions();
    QCOMPARE(actions.size(), 4); // two workspaces, a separator, "Clear List"
    QCOMPARE(actions[1]->text(), QDir::toNativeSeparators(QDir(other.path()).absolutePath()));
    actions[1]->trigger();
    QCOMPARE(again.session()->rootPath(), QDir(other.path()).absolutePath());
    Q_EMIT recent->aboutToShow();
    recent->actions().last()->trigger();
    QVERIFY(!recent->isEnabled());
    QVERIFY(QSettings().value(QStringLiteral("workspace/recent")).toStringList().isEmpty());
}

void TestMainWindow::aboutDialogListsVersions()
{
    AboutDialog dialog;
    const auto versions = AboutDialog::versions();
    QCOMPARE(versions.size(), 6);
    auto text = [&](const QString& component) {
        auto* label = dialog.findChild<QLabel*>(QStringLiteral("version:") + component);
        return label ? label->text() : QString();
    };
    QCOMPARE(text(QStringLiteral("Tunebench")), QString::fromStdString(tunebenchVersion()));
    QVERIFY(text(QStringLiteral("Qt")).startsWith(QString::fromLatin1(qVersion())));
    QCOMPARE(text(QStringLiteral("SQLite")), QString::fromStdString(sqliteVersion()));
    QCOMPARE(text(QStringLiteral("LibTorch")), QString::fromStdString(torchVersion()));
    QCOMPARE(text(QStringLiteral("QCustomPlot")), QStringLiteral(QCUSTOMPLOT_VERSION_STR));
    QCOMPARE(text(QStringLiteral("CUDA available")), cudaAvailable() ? QStringLiteral("yes") : QStringLiteral("no"));

    // The plugins, and the broken ones with the reason, as plain text.
    auto* plugins = dialog.findChild<QTreeWidget*>(QStringLiteral("pluginList"));
    QVERIFY(plugins);
    QStringList rows;
    for (int i = 0; i < plugins->topLevelItemCount(); ++i) {
        const QTreeWidgetItem* item = plugins->topLevelItem(i);
        rows << item->text(0) + QLatin1Char('|') + item->text(1) + QLatin1Char('|') + item->text(3) + QLatin1Char('|')
                + item->text(4);
    }
    const QString all = rows.join(QLatin1Char('\n'));
    QVERIFY2(all.contains(QStringLiteral("adapter|lora|LORA|")), qPrintable(all));
    QVERIFY2(
        all.contains(QStringLiteral("broken|tunebench_crash.so||crashed while loading (signal 11")), qPrintable(all));
    QVERIFY2(
        all.contains(QStringLiteral("broken|tunebench_exit.so||ended the process while loading")), qPrintable(all));
    QVERIFY2(all.contains(QStringLiteral("broken|tunebench_oldapi.so||was built for plugin API version 2")),
        qPrintable(all));
}

void TestMainWindow::screenshotsOfEveryPage()
{
    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    auto save = [&](QWidget& widget, const QString& name) {
        const QPixmap shot = widget.grab();
        QVERIFY(!shot.isNull());
        const QString file = folder + name + QStringLiteral(".png");
        QFile::remove(file);
        QVERIFY(shot.save(file));
        QVERIFY2(QFileInfo(file).size() > 1000, qPrintable(file));
    };

    Fixture fx;
    MainWindow window;
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    save(window, QStringLiteral("no_workspace"));
    QVERIFY(window.openWorkspace(fx.path()));
    QVERIFY(window.runsPage()->selectRun(fx.runA));
    QVERIFY(window.comparePage()->setRunChecked(fx.runA, true));
    QVERIFY(window.comparePage()->setRunChecked(fx.runB, true));
    const struct {
        MainWindow::Page page;
        const char* name;
    } pages[] = { { MainWindow::DatasetsPageIndex, "datasets" }, { MainWindow::RunsPageIndex, "runs" },
        { MainWindow::ComparePageIndex, "compare" }, { MainWindow::ExportsPageIndex, "exports" } };
    for (const auto& p : pages) {
        window.showPage(p.page);
        auto* plot = window.findChild<MetricPlot*>(QStringLiteral("runMetricPlot"));
        QTRY_VERIFY(!plot->replotPending()); // draw the coalesced replot before grabbing
        save(window, QString::fromLatin1(p.name));
    }
    AboutDialog about(&window);
    about.show();
    QVERIFY(QTest::qWaitForWindowExposed(&about));
    save(about, QStringLiteral("about"));
}

// The Datasets page end to end on a real workspace: the import dialog with a
// column mapping refuses a file with a bad record and lists it, imports with
// "skip invalid", the preview shows canonical records, statistics draw both
// histograms, the selection dialog derives datasets and the lineage tree shows
// them under their parent. Saves a screenshot of each step.
void TestMainWindow::datasetsImportPreviewStatsSelectLineage()
{
    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    auto save = [&](QWidget& widget, const QString& name) {
        QApplication::processEvents();
        const QPixmap shot = widget.grab();
        const QString file = folder + name + QStringLiteral(".png");
        QFile::remove(file);
        QVERIFY(shot.save(file));
    };
    QTemporaryDir dir;
    const QString csv = dir.path() + QStringLiteral("/qa.csv");
    {
        QFile f(csv);
        QVERIFY(f.open(QIODevice::WriteOnly));
        QByteArray text = "question,context,answer\n";
        const char* questions[] = { "What is the capital of France?", "How many legs does a spider have?",
            "Name a primary colour.", "What do bees make?", "Which planet is the largest?",
            "What is frozen water called?", "Who wrote Hamlet?", "What gas do plants take in?" };
        const char* answers[] = { "Paris.", "Eight.", "Red, for example.", "Honey, from the nectar of flowers.",
            "Jupiter, by a wide margin.", "Ice.", "William Shakespeare.",
            "Carbon dioxide, which they turn into sugar with the energy of sunlight." };
        for (int i = 0; i < 24; ++i) {
            if (i == 5)
                text += "\"A question without an answer\",,\n"; // line 7: the bad record
            text += QByteArray("\"") + questions[i % 8] + "\"," + (i % 3 ? "" : "quiz") + ",\"" + answers[i % 8]
                + (i >= 8 ? " (again)" : "") + "\"\n";
        }
        f.write(text);
    }
    const std::filesystem::path tokenizer = fsPath(dir.path()) / "tokenizer";
    model_test::writeTinyTokenizer(tokenizer);

    MainWindow window;
    window.resize(1280, 800);
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QVERIFY(window.createWorkspace(dir.path() + QStringLiteral("/ws")));
    window.showPage(MainWindow::DatasetsPageIndex);
    DatasetsPage* page = window.datasetsPage();

    // Import: the columns are not the format's names, so the user maps them.
    ImportDialog import(page->session(), &window);
    import.show();
    QVERIFY(QTest::qWaitForWindowExposed(&import));
    import.setFile(csv);
    QCOMPARE(import.previewModel()->rowCount(), 20); // the first records of the file
    QVERIFY(import.previewModel()->columns() == (QStringList { "answer", "context", "question" }));
    import.setFormat(QStringLiteral("instruction"));
    QVERIFY(import.setMapping(QStringLiteral("instruction"), QStringLiteral("question")));
    QVERIFY(import.setMapping(QStringLiteral("input"), QStringLiteral("context")));
    QVERIFY(import.setMapping(QStringLiteral("output"), QStringLiteral("answer")));
    QVERIFY(!import.runImport());
    QCOMPARE(import.errorModel()->rowCount(), 1);
    QCOMPARE(import.errorModel()->item(0, 1)->data(Qt::DisplayRole).toLongLong(), 7);
    QCOMPARE(import.errorModel()->item(0, 2)->text(), QStringLiteral("answer"));
    QVERIFY(import.statusText().contains(QStringLiteral("nothing was imported")));
    QCOMPARE(page->model()->rowCount(), 0);
    save(import, QStringLiteral("dataset_import_errors"));
    import.setSkipInvalid(true);
    QVERIFY(import.runImport());
    QCOMPARE(import.lastResult()->records, 24);
    QCOMPARE(import.errorModel()->rowCount(), 1); // the skipped record stays listed
    QVERIFY(import.statusText().contains(QStringLiteral("1 invalid records skipped")));
    save(import, QStringLiteral("dataset_import_skipped"));
    import.close();
    const std::int64_t id = *import.lastResult()->id;

    // The mapping is remembered for the file.
    ImportDialog again(page->session(), &window);
    again.setFile(csv);
    QVERIFY(again.mapping()
        == (ColumnMapping { { "input", "context" }, { "instruction", "question" }, { "output", "answer" } }));

    // Preview.
    QTRY_COMPARE(page->model()->rowCount(), 1);
    QVERIFY(page->selectDataset(id));
    QCOMPARE(page->previewModel()->rowCount(), 24);
    QVERIFY(page->previewModel()->columns() == (QStringList { "instruction", "input", "output" }));
    QCOMPARE(page->previewModel()->index(0, 0).data().toString(), QStringLiteral("What is the capital of France?"));
    page->showTab(DatasetsPage::PreviewTab);
    save(window, QStringLiteral("datasets_preview"));

    // Statistics with histograms.
    page->showTab(DatasetsPage::StatisticsTab);
    QVERIFY2(page->computeStats(QString::fromStdString(tokenizer.string()), 48), qPrintable(page->statsSummary()));
    QVERIFY(page->promptHistogram()->barCount() > 0);
    QVERIFY(page->responseHistogram()->barCount() > 0);
    QVERIFY2(page->statsSummary().contains(QStringLiteral("24 records")), qPrintable(page->statsSummary()));
    QVERIFY(page->statsSummary().contains(QStringLiteral("exact duplicates")));
    save(window, QStringLiteral("datasets_stats"));
    QVERIFY(!page->computeStats(dir.path() + QStringLiteral("/nowhere"), 48));
    QVERIFY(page->statsSummary().contains(QStringLiteral("nowhere")));

    // Selection: near-duplicates, a random sample of that, and a split.
    const auto parent = DatasetStore(page->session()->workspace()->db()).find(id);
    QVERIFY(parent);
    SelectDialog select(page->session(), *parent, &window);
    select.setMethod(QStringLiteral("minhash"));
    select.show();
    QVERIFY(QTest::qWaitForWindowExposed(&select));
    save(select, QStringLiteral("dataset_select"));
    QVERIFY2(select.run(), qPrintable(select.statusText()));
    QCOMPARE(select.created().size(), std::size_t(1));
    const DatasetRecord dedup = select.created().front();
    QCOMPARE(dedup.parentId.value_or(-1), id);
    QVERIFY(dedup.records < 24);
    select.setMethod(QStringLiteral("random"));
    select.setKeep(QStringLiteral("5"));
    QCOMPARE(select.parameters()["count"].get<int>(), 5);
    QVERIFY(select.run());
    select.setMethod(QStringLiteral("split"));
    QVERIFY(select.run());
    QCOMPARE(select.created().size(), std::size_t(2));
    select.setMethod(QStringLiteral("kmeans"));
    QVERIFY(!select.run()); // no model folder given
    QVERIFY(select.statusText().contains(QStringLiteral("model")));
    select.close();

    // Lineage: the import at the root, the four derived datasets under it.
    QTRY_COMPARE(page->model()->rowCount(), 5);
    QVERIFY(page->selectDataset(dedup.id));
    page->showTab(DatasetsPage::LineageTab);
    QStandardItemModel* lineage = page->lineageModel();
    QCOMPARE(lineage->rowCount(), 1);
    QCOMPARE(lineage->item(0)->rowCount(), 4);
    QCOMPARE(lineage->item(0)->child(0, 1)->text(), QStringLiteral("minhash"));
    QVERIFY(lineage->item(0)->child(0, 3)->text().contains(QStringLiteral("threshold")));
    save(window, QStringLiteral("datasets_lineage"));
}

QTEST_MAIN(TestMainWindow)
#include "test_main_window.moc"
