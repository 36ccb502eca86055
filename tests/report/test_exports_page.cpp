// The Exports page through its real widgets on a workspace with a run trained by
// tunebench-cli: the Export Run dialog writes a merged model, the Report dialog
// a PDF, the Metrics dialog a CSV, each as a tunebench-cli child process with a
// busy state; a failing export shows the CLI's message; the artifact list
// refreshes. Saves screenshots under build/screenshots.

#include "core/store/artifacts.h"
#include "core/store/workspace.h"
#include "report/tiny_run.h"
#include "ui/dialogs/export_dialog.h"
#include "ui/dialogs/report_dialog.h"
#include "ui/models/artifact_table_model.h"
#include "ui/pages/exports_page.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench::ui;

namespace {

void selectData(QComboBox* box, const QString& data)
{
    const int index = box->findData(data);
    QVERIFY2(index >= 0, qPrintable(data));
    box->setCurrentIndex(index);
}

void clickOk(QDialog* dialog)
{
    auto* buttons = dialog->findChild<QDialogButtonBox*>();
    QVERIFY(buttons);
    buttons->button(QDialogButtonBox::Ok)->click();
}

// The dialog now open (a closed one may still wait for its deferred deletion).
template <typename T> T* openDialog(QWidget* page)
{
    for (T* d : page->findChildren<T*>()) {
        if (d->isVisible())
            return d;
    }
    return nullptr;
}

void saveScreenshot(QWidget* widget, const QString& name)
{
    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    const QString file = folder + name + QStringLiteral(".png");
    QFile::remove(file);
    QVERIFY(widget->grab().save(file));
    QVERIFY2(QFileInfo(file).size() > 1000, qPrintable(file));
}

} // namespace

class TestExportsPage : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    report_test::TinyWorkspace m_tiny;
    qint64 m_run = 0;

private Q_SLOTS:
    void initTestCase()
    {
        m_tiny = report_test::makeTinyWorkspace(m_dir.path());
        QVERIFY2(m_tiny.error.isEmpty(), qPrintable(m_tiny.error));
        QString error;
        m_run = report_test::trainTinyRun(m_tiny, "lora-run", "1.0e-2", &error);
        QVERIFY2(m_run > 0, qPrintable(error));
    }

    void dialogsBuildTheCliCalls()
    {
        const QList<RunChoice> runs { { 3, "#3 a (finished)" }, { 5, "#5 b (finished)" } };
        ExportDialog gguf(ExportDialog::ExportRun, runs, "/ws");
        gguf.setRunsChecked({ 5 });
        selectData(gguf.findChild<QComboBox*>("exportFormat"), "gguf");
        selectData(gguf.findChild<QComboBox*>("exportGgufType"), "q8_0");
        QCOMPARE(gguf.arguments(),
            (QStringList { "export", "--run", "5", "--format", "gguf", "--gguf-type", "q8_0", "--out",
                "/ws/exports/run-5-gguf-q8_0" }));
        gguf.findChild<QLineEdit*>("exportOut")->clear();
        QVERIFY(gguf.arguments().isEmpty());
        QCOMPARE(gguf.problem(), QString("Choose an output folder."));

        ExportDialog merge(ExportDialog::MergeRuns, runs, "/ws");
        merge.setRunsChecked({ 3 });
        QCOMPARE(merge.problem(), QString("Check at least two runs to merge."));
        merge.setRunsChecked({ 3, 5 });
        selectData(merge.findChild<QComboBox*>("exportMergeMethod"), "ties");
        merge.findChild<QLineEdit*>("exportMergeParameters")->setText("--density 0.2 --name \"my merge\"");
        QCOMPARE(merge.arguments(),
            (QStringList { "merge", "--runs", "3,5", "--method", "ties", "--density", "0.2", "--name", "my merge" }));
        QCOMPARE(merge.description(), QString("Merging runs #3, #5 (ties)"));

        ExportDialog metrics(ExportDialog::ExportMetrics, runs, "/ws");
        metrics.setRunsChecked({ 3, 5 });
        selectData(metrics.findChild<QComboBox*>("exportFormat"), "json");
        QCOMPARE(metrics.arguments(),
            (QStringList { "metrics", "--run", "3,5", "--format", "json", "--out", "/ws/exports/metrics-3-5.json" }));

        ReportDialog report(runs, "/ws");
        report.setRunsChecked({ 3, 5 });
        report.setFormat("md");
        QCOMPARE(report.output(), QString("/ws/exports/report-runs-3-5.md"));
        QCOMPARE(
            report.arguments(), (QStringList { "report", "--runs", "3,5", "--out", "/ws/exports/report-runs-3-5.md" }));
        report.setOutput("/tmp/mine.pdf"); // the format follows the file's suffix
        QCOMPARE(report.format(), QString("pdf"));
        report.setFormat("html"); // and the file's suffix follows the format
        QCOMPARE(report.output(), QString("/tmp/mine.html"));
    }

    void exportsReportsAndMetricsThroughTheDialogs()
    {
        WorkspaceSession session;
        QVERIFY(session.open(m_tiny.workspace));
        ExportsPage page(&session);
        page.setCliProgram(QStringLiteral(TUNEBENCH_CLI));
        page.resize(1000, 640);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        QSignalSpy finished(&page, &ExportsPage::taskFinished);
        auto* busy = page.findChild<QWidget*>(QStringLiteral("exportsBusy"));
        auto* message = page.findChild<QLabel*>(QStringLiteral("exportsMessage"));
        auto* exportButton = page.findChild<QPushButton*>(QStringLiteral("exportsExportRun"));
        QCOMPARE(page.model()->rowCount(), 0);

        // Export Run: a merged model folder.
        exportButton->click();
        auto* dialog = openDialog<ExportDialog>(&page);
        QVERIFY(dialog && dialog->isVisible());
        auto* run = dialog->findChild<QComboBox*>(QStringLiteral("exportRun"));
        QCOMPARE(run->count(), 1);
        QVERIFY(run->currentText().startsWith(QStringLiteral("#%1 lora-run").arg(m_run)));
        selectData(dialog->findChild<QComboBox*>(QStringLiteral("exportFormat")), "merged");
        auto* out = dialog->findChild<QLineEdit*>(QStringLiteral("exportOut"));
        QCOMPARE(out->text(), QDir(m_tiny.workspace).filePath(QStringLiteral("exports/run-%1-merged").arg(m_run)));
        const QString merged = m_dir.path() + "/merged";
        out->setText(merged);
        saveScreenshot(dialog, "exports_export_dialog");
        clickOk(dialog);
        QVERIFY(page.isBusy());
        QVERIFY(busy->isVisible());
        QVERIFY(!exportButton->isEnabled()); // one action at a time
        saveScreenshot(&page, "exports_busy");
        QVERIFY(finished.wait(120000));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(page.lastError()));
        QVERIFY(!busy->isVisible() && exportButton->isEnabled());
        QVERIFY(message->text().startsWith(QStringLiteral("Done: Exporting run #%1 as merged").arg(m_run)));
        QVERIFY(QFileInfo::exists(merged + "/config.json"));
        QVERIFY(QFileInfo::exists(merged + "/tokenizer.json"));
        // The export is recorded as an artifact of the run and listed.
        QTRY_COMPARE(page.model()->rowCount(), 1);
        QCOMPARE(page.model()->index(0, ArtifactTableModel::KindColumn).data().toString(), QStringLiteral("merged"));

        // The same folder again: the CLI refuses, and its message is shown.
        exportButton->click();
        dialog = openDialog<ExportDialog>(&page);
        QVERIFY(dialog);
        dialog->findChild<QLineEdit*>(QStringLiteral("exportOut"))->setText(merged);
        clickOk(dialog);
        QVERIFY(finished.wait(120000));
        QVERIFY(!finished.last().at(0).toBool());
        QVERIFY2(page.lastError().contains("exists and is not empty"), qPrintable(page.lastError()));
        QVERIFY(message->isVisible() && message->text().contains("exists and is not empty"));

        // Write Report: a PDF, recorded and listed.
        page.writeReport({ m_run });
        auto* report = openDialog<ReportDialog>(&page);
        QVERIFY(report && report->isVisible());
        QCOMPARE(report->checkedRuns(), QList<qint64> { m_run });
        selectData(report->findChild<QComboBox*>(QStringLiteral("reportFormat")), "pdf");
        const QString pdf = report->findChild<QLineEdit*>(QStringLiteral("reportOut"))->text();
        QCOMPARE(pdf, QDir(m_tiny.workspace).filePath(QStringLiteral("exports/report-run-%1.pdf").arg(m_run)));
        saveScreenshot(report, "exports_report_dialog");
        clickOk(report);
        QVERIFY(finished.wait(120000));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(page.lastError()));
        QFile pdfFile(pdf);
        QVERIFY(pdfFile.open(QIODevice::ReadOnly));
        QVERIFY(pdfFile.read(5) == "%PDF-");
        QTRY_COMPARE(page.model()->rowCount(), 2);
        QStringList kinds;
        for (int row = 0; row < 2; ++row)
            kinds << page.model()->index(row, ArtifactTableModel::KindColumn).data().toString();
        QVERIFY2(kinds.contains(QStringLiteral("report")), qPrintable(kinds.join(',')));

        // The report dialog refuses an existing file until "Replace" is checked.
        page.writeReport({ m_run });
        report = openDialog<ReportDialog>(&page);
        QVERIFY(report);
        selectData(report->findChild<QComboBox*>(QStringLiteral("reportFormat")), "pdf");
        QVERIFY(report->arguments().isEmpty());
        QVERIFY(report->problem().contains("exists"));
        report->findChild<QCheckBox*>(QStringLiteral("reportForce"))->setChecked(true);
        QVERIFY(report->arguments().contains("--force"));
        report->reject();

        // Export Metrics: a CSV of the run.
        page.findChild<QPushButton*>(QStringLiteral("exportsMetrics"))->click();
        auto* metrics = openDialog<ExportDialog>(&page);
        QVERIFY(metrics);
        auto* runs = metrics->findChild<QListWidget*>(QStringLiteral("exportRuns"));
        QCOMPARE(runs->count(), 1);
        QVERIFY(metrics->arguments().isEmpty()); // no run checked yet
        runs->item(0)->setCheckState(Qt::Checked);
        const QString csv = metrics->findChild<QLineEdit*>(QStringLiteral("exportOut"))->text();
        QCOMPARE(csv, QDir(m_tiny.workspace).filePath(QStringLiteral("exports/metrics-%1.csv").arg(m_run)));
        clickOk(metrics);
        QVERIFY(finished.wait(120000));
        QVERIFY2(finished.last().at(0).toBool(), qPrintable(page.lastError()));
        QFile file(csv);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QVERIFY(file.readLine().startsWith("run,run_name,metric,step,value,time,elapsed_s"));
        QTRY_COMPARE(page.model()->rowCount(), 3);
        saveScreenshot(&page, "exports");

        // A missing tunebench-cli is reported, not a hang.
        page.setCliProgram(m_dir.path() + "/no-such-cli");
        QVERIFY(page.startTask({ "metrics", "--run", "1", "--format", "csv" }, "Writing metrics"));
        QTRY_VERIFY(!page.isBusy());
        QVERIFY2(page.lastError().contains("Cannot run"), qPrintable(page.lastError()));
    }
};

QTEST_MAIN(TestExportsPage)
#include "test_exports_page.moc"
