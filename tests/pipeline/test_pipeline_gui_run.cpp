// The Pipelines page and Monitor with real runs of a tiny model, offscreen. A two-stage pipeline (continued
// pretraining on raw text, then a LoRA stage on instructions from its merged result) is set up in the editor and
// started from the page: it runs in the background as `tunebench-cli pipeline`, and the page follows it through the
// store to its end (the chain of runs with their lineage, the heat map and measures filled, the values those of the
// stored matrix); the report on its runs holds the chain and the matrix. A tiny distillation run records the
// teacher-student gap per step, the student's minus the teacher's cross-entropy, and Monitor plots it.

#include "ui/pages/monitor_page.h"
#include "ui/pages/pipeline_page.h"
#include "ui/pages/pipeline_page_editor.h"
#include "ui/report/report_writer.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include "core/pipeline/pipeline_store.h"
#include "core/report/report_data.h"
#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QComboBox>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace tunebench;
using namespace tunebench::ui;
using nlohmann::json;
namespace fs = std::filesystem;

class TestPipelineGuiRun : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_root;
    QString m_ws;

private Q_SLOTS:
    void initTestCase()
    {
        m_root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(m_root / "model", 3);
        model_test::writeTinyModelFolder(m_root / "teacher", 5);
        {
            std::ofstream out(m_root / "corpus.txt");
            const char* lines[] = { "the red fox jumps over the lazy dog", "a green frog sits on a wet log",
                "the blue whale swims in the deep sea", "a small bird sings in the tall tree" };
            for (int i = 0; i < 8; ++i)
                out << lines[i % 4] << "\n";
        }
        {
            std::ofstream out(m_root / "task.jsonl");
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "say something " + std::to_string(i % 3) }, { "output", lines[i % 4] } })
                           .dump()
                    << "\n";
        }
        std::ofstream(m_root / "run.yaml")
            << "model: model\nadapter: {type: lora, r: 4, target_modules: [q_proj, v_proj]}\n"
               "training: {max_steps: 4, per_device_train_batch_size: 4, cutoff_len: 64, save_steps: 2,\n"
               "           learning_rate: 0.01, threads: 1}\n";
        m_ws = m_dir.path() + "/ws";
        Workspace::create(m_ws.toStdString());
    }

    void pipelineStartedFromThePage()
    {
        WorkspaceSession session;
        QVERIFY(session.open(m_ws));
        session.setPollInterval(100);
        PipelinePage page(&session);
        page.setCliPath(TUNEBENCH_CLI);
        page.resize(1000, 800);
        page.show();

        PipelineEditor* editor = page.editor();
        editor->nameEdit()->setText("gui");
        editor->setBaseFile(QString::fromStdString((m_root / "run.yaml").string()));
        editor->stageNameEdit()->setText("domain");
        editor->objectiveCombo()->setEditText("clm");
        editor->datasetCombo()->setEditText(QString::fromStdString((m_root / "corpus.txt").string()));
        editor->addStage();
        editor->stageNameEdit()->setText("task");
        editor->datasetCombo()->setEditText(QString::fromStdString((m_root / "task.jsonl").string()));
        editor->mergeCombo()->setCurrentIndex(PipelineEditor::MergeTrue);
        editor->startButton()->click();
        QVERIFY2(editor->validate().isEmpty(), qPrintable(editor->validate()));
        QCOMPARE(editor->targetPath(), m_ws + "/pipelines/gui.yaml");
        QVERIFY2(page.processRunning() || page.messageText().contains("finished"), qPrintable(page.messageText()));

        // The page follows the pipeline through the store (no refresh called here) until the process has ended.
        QTRY_VERIFY2_WITH_TIMEOUT(
            page.messageText().contains("Pipeline 'gui' finished."), qPrintable(page.messageText()), 300000);
        QTRY_COMPARE_WITH_TIMEOUT(page.pipelineTable()->item(0, 2)->text(), QStringLiteral("finished"), 5000);
        QCOMPARE(page.pipelineTable()->item(0, 3)->text(), QStringLiteral("2 / 2"));
        QTableWidget* stages = page.stageTable();
        QCOMPARE(stages->rowCount(), 2);
        QCOMPARE(stages->item(0, PipelinePage::StageRunColumn)->text(), QStringLiteral("#1 (finished)"));
        QCOMPARE(stages->item(0, PipelinePage::StageFromColumn)->text(), QStringLiteral("base model"));
        QCOMPARE(stages->item(1, PipelinePage::StageRunColumn)->text(), QStringLiteral("#2 (finished)"));
        QCOMPARE(stages->item(1, PipelinePage::StageFromColumn)->text(), QStringLiteral("#1 (merged)"));
        QVERIFY(stages->item(1, PipelinePage::StageModelColumn)->text().endsWith("/pipelines/1/stage-2/model"));

        // The heat map: rows base, after domain, after task; columns each stage's held-out loss.
        Workspace ws = Workspace::open(m_ws.toStdString());
        const ForgettingMatrix matrix = PipelineStore(ws.db()).matrix(1);
        QCOMPARE(matrix.columns.size(), 2u);
        QCOMPARE(page.heatMap()->data()->keySize(), 2);
        QCOMPARE(page.heatMap()->data()->valueSize(), 3);
        for (int c = 0; c < 2; ++c) {
            for (int r = 0; r < 3; ++r) {
                QVERIFY(std::isfinite(matrix.rows[r][c]));
                QCOMPARE(page.cellText(c, r), QString::number(matrix.rows[r][c], 'f', 4));
                QVERIFY(std::isfinite(page.heatMap()->data()->cell(c, r)));
            }
        }
        // Training on the domain's text lowers its held-out loss.
        QVERIFY(matrix.rows[1][0] < matrix.rows[0][0]);
        QVERIFY2(page.measuresText().contains("Lower is better (2 columns, after stage 2): average "),
            qPrintable(page.measuresText()));

        // The report on the pipeline's runs: its chain and its matrix.
        const ReportData data = collectReportData(ws, { 1, 2 });
        QCOMPARE(data.pipelines.size(), 1u);
        const QString html = reportHtml(data, {}, false, [](int) { return QString(); });
        QVERIFY(html.contains("<h2>Pipeline #1: gui (finished)</h2>"));
        QVERIFY(html.contains("<td>2</td><td>task</td><td>finished</td><td>#2 (finished)</td><td>#1</td>"));
        QVERIFY(html.contains(QStringLiteral("align=\"right\">%1</td>").arg(page.cellText(1, 2))));
        const QString markdown = reportMarkdown(data, {});
        QVERIFY2(markdown.contains(
                     QStringLiteral("| after domain | %1 | %2 |").arg(page.cellText(0, 1), page.cellText(1, 1))),
            qPrintable(markdown));

        // Started again, the finished pipeline is found recorded and nothing is trained again.
        QString error;
        QVERIFY(page.selectPipeline(1));
        QVERIFY2(page.resumeSelected(&error), qPrintable(error));
        QTRY_VERIFY2_WITH_TIMEOUT(
            !page.processRunning() && page.messageText().contains("finished."), qPrintable(page.messageText()), 120000);
        QCOMPARE(RunStore(ws.db()).list().size(), 2u);

        // A bad file is answered before anything starts.
        std::ofstream(m_root / "bad.yaml") << "base: run.yaml\nstages: [{name: one, dataset: task.jsonl, replay: "
                                              "{share: 0.5}}]\n";
        QVERIFY(!page.startPipelineFile(QString::fromStdString((m_root / "bad.yaml").string()), &error));
        QVERIFY2(error.contains("stage 'one': key 'replay'"), qPrintable(error));
    }

    void distillGapInMonitor()
    {
        const fs::path config = m_root / "distill.yaml";
        std::ofstream(config) << "name: distilled\nmodel: " << (m_root / "model").string()
                              << "\ndataset: " << (m_root / "task.jsonl").string()
                              << "\nobjective: {type: distill, teacher: " << (m_root / "teacher").string()
                              << "}\nlearning_rate: 0.01\nper_device_train_batch_size: 4\nmax_steps: 3\nthreads: 1\n";
        const CliResult r = runCli({ "train", QString::fromStdString(config.string()), "--workspace", m_ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        Workspace ws = Workspace::open(m_ws.toStdString());
        std::int64_t run = 0;
        for (const RunRecord& rec : RunStore(ws.db()).list()) {
            if (rec.name == "distilled")
                run = rec.id;
        }
        QVERIFY(run > 0);
        // Recorded per step: gap = student CE - teacher CE, the teacher (a different model) not yet matched.
        MetricQuery metrics(ws.db());
        const auto gap = metrics.series(run, "teacher_student_gap");
        const auto student = metrics.series(run, "student_loss");
        const auto teacher = metrics.series(run, "teacher_loss");
        QCOMPARE(gap.size(), 3u);
        QCOMPARE(student.size(), 3u);
        QCOMPARE(teacher.size(), 3u);
        for (std::size_t i = 0; i < gap.size(); ++i) {
            QCOMPARE(gap[i].step, student[i].step);
            QVERIFY(std::abs(gap[i].value - (student[i].value - teacher[i].value)) < 1e-9);
            QVERIFY(std::isfinite(gap[i].value) && gap[i].value != 0.0);
        }

        WorkspaceSession session;
        QVERIFY(session.open(m_ws));
        MonitorPage monitor(&session);
        monitor.resize(1200, 800);
        monitor.show();
        monitor.showRun(run);
        QTRY_VERIFY(monitor.shownPlotKeys().contains(QString::fromLatin1(MonitorPage::kDistill)));
        SeriesPlot* plot = monitor.plot(QString::fromLatin1(MonitorPage::kDistill));
        const int g = plot->seriesIndex(QStringLiteral("gap"));
        QVERIFY(g >= 0);
        QCOMPARE(plot->pointCount(g), 3);
        QCOMPARE(plot->pointCount(plot->seriesIndex(QStringLiteral("student CE"))), 3);
        QCOMPARE(plot->pointCount(plot->seriesIndex(QStringLiteral("teacher CE"))), 3);
        const auto points = plot->series(g)->data();
        for (int i = 0; i < 3; ++i)
            QCOMPARE(points->at(i)->value, gap[static_cast<std::size_t>(i)].value);
        // A run without distillation has no such plot.
        QVERIFY(!MonitorPage::routeMetric(QStringLiteral("divergence")));
    }
};

QTEST_MAIN(TestPipelineGuiRun)
#include "test_pipeline_gui_run.moc"
