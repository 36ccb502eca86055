// The Pipelines page offscreen: a pipeline recorded by hand (stages with runs and the runs they started from,
// a forgetting matrix of a loss and an accuracy column), its chain of runs, the heat map's cells (each column
// between its worst and best value, losses inverted, the values written in them) and the measures line, worked
// out by hand, and the report on its runs (chain and matrix). The editor: a pipeline file loaded, shown, edited
// (stages added, moved, removed) and saved back to the same pipeline; bad stages answered with the command line's
// message naming the stage and the key. (A real pipeline started from the page: test_pipeline_gui_run.)

#include "ui/pages/pipeline_page.h"
#include "ui/pages/pipeline_page_editor.h"
#include "ui/report/report_writer.h"
#include "ui/workspace_session.h"

#include "core/pipeline/pipeline_spec.h"
#include "core/pipeline/pipeline_store.h"
#include "core/report/report_data.h"
#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/yaml_json.h"

#include <QCheckBox>
#include <QColor>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QSpinBox>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace tunebench;
using namespace tunebench::ui;
using nlohmann::json;

namespace {

bool writeText(const QString& path, const QByteArray& text)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(text) == text.size();
}

} // namespace

class TestPipelinePage : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void chainAndHeatMap()
    {
        const QString wsPath = m_dir.path() + "/ws";
        {
            Workspace ws = Workspace::create(wsPath.toStdString());
            RunStore runs(ws.db());
            PipelineStore store(ws.db());
            const std::int64_t id = store.create("chain", "/p.yaml", "{}", { "domain", "task" });
            NewRun n;
            n.name = "chain/domain";
            const std::int64_t r1 = runs.create(n);
            runs.setStatus(r1, RunStatus::Finished);
            n.name = "chain/task";
            n.parentRunId = r1;
            const std::int64_t r2 = runs.create(n);
            store.setStageRun(id, 0, r1, std::nullopt, "/base");
            store.setStageRun(id, 1, r2, r1, "/merged");
            store.setStageStatus(id, 0, "finished");
            store.setStageStatus(id, 1, "running");
            const std::vector<MatrixColumn> cols
                = { { "domain", 1, "eval_loss", false }, { "task/q", 2, "acc", true } };
            store.saveRow(id, 0, cols, { 4.0, 0.25 });
            store.saveRow(id, 1, cols, { 2.0, 0.25 });
            store.saveRow(id, 2, cols, { 3.0, 0.75 });
            store.setStatus(id, "running");
        }
        WorkspaceSession session;
        QVERIFY(session.open(wsPath));
        PipelinePage page(&session);
        page.resize(900, 700);
        page.show();
        QCOMPARE(page.pipelineTable()->rowCount(), 1);
        QCOMPARE(page.pipelineTable()->item(0, 3)->text(), QStringLiteral("1 / 2"));
        QCOMPARE(page.selectedPipeline(), 1);
        QTableWidget* stages = page.stageTable();
        QCOMPARE(stages->rowCount(), 2);
        QCOMPARE(stages->item(0, PipelinePage::StageFromColumn)->text(), QStringLiteral("base model"));
        QCOMPARE(stages->item(1, PipelinePage::StageFromColumn)->text(), QStringLiteral("#1"));
        QCOMPARE(stages->item(1, PipelinePage::StageRunColumn)->text(), QStringLiteral("#2 (queued)"));
        QCOMPARE(stages->item(1, PipelinePage::StageModelColumn)->text(), QStringLiteral("/merged"));

        QCPColorMapData* data = page.heatMap()->data();
        QCOMPARE(data->keySize(), 2);
        QCOMPARE(data->valueSize(), 3);
        // Loss column 4, 2, 3: best 2 -> 1, worst 4 -> 0, 3 -> 0.5. Accuracy 0.25, 0.25, 0.75: 0, 0, 1.
        QCOMPARE(data->cell(0, 0), 0.0);
        QCOMPARE(data->cell(0, 1), 1.0);
        QCOMPARE(data->cell(0, 2), 0.5);
        QCOMPARE(data->cell(1, 0), 0.0);
        QCOMPARE(data->cell(1, 2), 1.0);
        // Loss: average 3; BWT -(3 - 2) = -1; forgetting 3 - 2 = 1; FWT: none (the loss column is stage 1).
        // Accuracy: average 0.75; FWT R[1] - R[0] = 0.
        const QString measures = page.measuresText();
        QVERIFY2(measures.contains("Lower is better (1 columns, after stage 2): average 3.0000, backward transfer "
                                   "-1.0000, forgetting 1.0000, forward transfer -"),
            qPrintable(measures));
        QVERIFY2(measures.contains("Higher is better (1 columns, after stage 2): average 0.7500, backward transfer -, "
                                   "forgetting -, forward transfer 0.0000"),
            qPrintable(measures));
        // The values written in the cells.
        QCOMPARE(page.cellText(0, 0), QStringLiteral("4.0000"));
        QCOMPARE(page.cellText(0, 2), QStringLiteral("3.0000"));
        QCOMPARE(page.cellText(1, 2), QStringLiteral("0.7500"));
        QCOMPARE(page.cellText(2, 0), QString());

        // The report on the second stage's run: the pipeline's chain and matrix.
        Workspace ws = Workspace::open(wsPath.toStdString());
        const ReportData report = collectReportData(ws, { 2 });
        QCOMPARE(report.pipelines.size(), 1u);
        const QString html = reportHtml(report, {}, false, [](int) { return QString(); });
        QVERIFY2(html.contains("<h2>Pipeline #1: chain (running)</h2>"), qPrintable(html));
        QVERIFY(
            html.contains("<td>2</td><td>task</td><td>running</td><td>#2 (queued)</td><td>#1</td><td>/merged</td>"));
        QVERIFY(html.contains("<th>after task</th>"));
        QVERIFY(html.contains("task/q<br>acc (higher is better)"));
        // Cells coloured by quality: the loss column's best (2.0) green, its worst (4.0) red.
        QVERIFY2(html.contains(QStringLiteral("<td bgcolor=\"%1\" align=\"right\">2.0000</td>")
                                   .arg(QColor::fromHsvF(0.33, 0.45, 1.0).name())),
            qPrintable(html));
        QVERIFY(html.contains(QStringLiteral("<td bgcolor=\"%1\" align=\"right\">4.0000</td>")
                                  .arg(QColor::fromHsvF(0.0, 0.45, 1.0).name())));
        QVERIFY(html.contains("Lower is better (1 columns, after stage 2): average 3.0000, backward transfer -1.0000"));
        const QString markdown = reportMarkdown(report, {});
        QVERIFY2(markdown.contains("| after task | 3.0000 | 0.7500 |"), qPrintable(markdown));
        QVERIFY(markdown.contains("| 1 | domain | finished | #1 (finished) | base model | /base |"));
        // A run outside any pipeline: no pipeline section.
        NewRun plain;
        plain.name = "plain";
        const std::int64_t other = RunStore(ws.db()).create(plain);
        QVERIFY(collectReportData(ws, { other }).pipelines.empty());
    }

    // A pipeline file through the editor and back: the form shows it, the saved file is the same document and the
    // same pipeline for the command line.
    void editorRoundTrip()
    {
        const QString dir = m_dir.path() + "/edit";
        QVERIFY(QDir().mkpath(dir));
        QVERIFY(writeText(dir + "/run.yaml",
            "model: /models/tiny\nadapter: {type: lora, r: 4}\ntraining: {max_steps: 4, learning_rate: 0.01}\n"));
        QVERIFY(writeText(dir + "/pipeline.yaml",
            "name: three\n"
            "base: run.yaml\n"
            "held_out: 0.25\n"
            "stages:\n"
            "  - {name: domain, objective: clm, dataset: corpus.txt, training: {max_steps: 6}}\n"
            "  - name: task\n"
            "    dataset: 7\n"
            "    adapter: {type: lora, r: 8, target_modules: [q_proj, v_proj]}\n"
            "    objective: {type: sft, train_on_prompt: true}\n"
            "    evaluation: {tasks: tasks.yaml, limit: 3}\n"
            "    merge: true\n"
            "  - {name: more, dataset: task2.jsonl, from: domain, merge: false, replay: {share: 0.5, seed: 4}}\n"));
        const QString wsPath = m_dir.path() + "/ws-edit";
        QVERIFY(Workspace::create(wsPath.toStdString()).root().string().size() > 0);
        WorkspaceSession session;
        QVERIFY(session.open(wsPath));
        PipelineEditor editor(&session);
        QString error;
        QVERIFY2(editor.loadFile(dir + "/pipeline.yaml", &error), qPrintable(error));
        QCOMPARE(editor.nameEdit()->text(), QStringLiteral("three"));
        QCOMPARE(editor.heldOutSpin()->value(), 0.25);
        QVERIFY2(editor.baseLabel()->text().contains("run.yaml"), qPrintable(editor.baseLabel()->text()));
        QCOMPARE(editor.stageCount(), 3);
        QCOMPARE(editor.stageList()->item(2)->text(), QStringLiteral("3. more"));
        QCOMPARE(editor.stageNameEdit()->text(), QStringLiteral("domain"));
        QCOMPARE(editor.objectiveCombo()->currentText(), QStringLiteral("clm"));
        QCOMPARE(editor.datasetCombo()->currentText(), QStringLiteral("corpus.txt"));
        QCOMPARE(editor.trainingEdit()->toPlainText(), QStringLiteral("max_steps: 6"));
        editor.selectStage(1);
        QCOMPARE(editor.adapterCombo()->currentText(), QStringLiteral("lora"));
        QCOMPARE(json::parse(editor.adapterParamsEdit()->text().toStdString()),
            json::parse(R"({"r": 8, "target_modules": ["q_proj", "v_proj"]})"));
        QCOMPARE(editor.objectiveCombo()->currentText(), QStringLiteral("sft"));
        QCOMPARE(editor.evaluationTasksEdit()->text(), QStringLiteral("tasks.yaml"));
        QCOMPARE(editor.mergeCombo()->currentIndex(), int(PipelineEditor::MergeTrue));
        QCOMPARE(editor.datasetCombo()->currentText(), QStringLiteral("7"));
        editor.selectStage(2);
        QCOMPARE(editor.fromCombo()->currentText(), QStringLiteral("domain"));
        QVERIFY(editor.fromCombo()->findText("task") >= 0); // earlier stages are offered
        QCOMPARE(editor.mergeCombo()->currentIndex(), int(PipelineEditor::MergeFalse));
        QVERIFY(editor.replayCheck()->isChecked());
        QCOMPARE(editor.replayShareSpin()->value(), 0.5);
        QCOMPARE(editor.replaySeedSpin()->value(), 4);

        // Saved beside it: the same document, and the same pipeline for the command line.
        QVERIFY2(editor.saveFile(dir + "/again.yaml", &error), qPrintable(error));
        const json original = readYamlOrJsonFile((dir + "/pipeline.yaml").toStdString());
        const json saved = readYamlOrJsonFile((dir + "/again.yaml").toStdString());
        QVERIFY2(original == saved, qPrintable(QString::fromStdString(original.dump() + "\n" + saved.dump())));
        QCOMPARE(PipelineSpec::readFile((dir + "/again.yaml").toStdString()).canonicalJson(),
            PipelineSpec::readFile((dir + "/pipeline.yaml").toStdString()).canonicalJson());
        QCOMPARE(editor.targetPath(), dir + "/again.yaml");

        // Edited through the form: a stage added after the second, moved up, given a name and removed again.
        editor.selectStage(1);
        editor.addStage();
        QCOMPARE(editor.stageCount(), 4);
        QCOMPARE(editor.currentStage(), 2);
        editor.stageNameEdit()->setText("extra");
        editor.datasetCombo()->setEditText("extra.jsonl");
        editor.moveStage(2, 1);
        json doc = editor.document();
        QCOMPARE(doc["stages"][1]["name"], json("extra"));
        QCOMPARE(doc["stages"][1]["dataset"], json("extra.jsonl"));
        QCOMPARE(doc["stages"][2]["name"], json("task"));
        editor.removeStage(1);
        QVERIFY(editor.document() == saved);
        // A form change lands in the document: replay off, merge back to the default.
        editor.selectStage(2);
        editor.replayCheck()->setChecked(false);
        editor.mergeCombo()->setCurrentIndex(PipelineEditor::MergeDefault);
        doc = editor.document();
        QVERIFY(!doc["stages"][2].contains("replay"));
        QVERIFY(!doc["stages"][2].contains("merge"));
    }

    // Bad stages get the command line's message, naming the stage and the key.
    void editorNamesTheBadStage_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("expected");
        QTest::newRow("unknown trainer key") << "training"
                                             << "max_stepz: 3"
                                             << "stage 'second'|max_stepz";
        QTest::newRow("training not YAML") << "training"
                                           << "[unclosed"
                                           << "stage 'second': key 'training'";
        QTest::newRow("from an unknown stage") << "from"
                                               << "nowhere"
                                               << "stage 'second': key 'from'";
        QTest::newRow("adapter parameters not a mapping") << "adapter"
                                                          << "[1, 2]"
                                                          << "stage 'second': key 'adapter parameters'";
    }

    void editorNamesTheBadStage()
    {
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, expected);
        const QString dir = m_dir.path() + "/bad";
        QVERIFY(QDir().mkpath(dir));
        WorkspaceSession session;
        PipelineEditor editor(&session);
        editor.setDocument(json::parse(R"({"base": {"model": "model", "adapter": "lora"},
            "stages": [{"name": "first", "dataset": "a.jsonl"}, {"name": "second", "dataset": "b.jsonl"}]})"));
        editor.selectStage(1);
        if (key == "training")
            editor.trainingEdit()->setPlainText(value);
        else if (key == "from")
            editor.fromCombo()->setEditText(value);
        else {
            editor.adapterCombo()->setEditText("lora");
            editor.adapterParamsEdit()->setText(value);
        }
        const QString message = editor.validate();
        for (const QString& part : expected.split('|'))
            QVERIFY2(message.contains(part), qPrintable(message));
        QCOMPARE(editor.messageLabel()->text(), message);
    }
};

QTEST_MAIN(TestPipelinePage)
#include "test_pipeline_page.moc"
