// The Pipelines page offscreen: a pipeline recorded by hand (stages with runs and the runs they started from,
// a forgetting matrix of a loss and an accuracy column), its chain of runs, the heat map's cells (each column
// between its worst and best value, losses inverted) and the measures line, worked out by hand.

#include "ui/pages/pipeline_page.h"
#include "ui/workspace_session.h"

#include "core/pipeline/pipeline_store.h"
#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace tunebench;
using namespace tunebench::ui;

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
    }
};

QTEST_MAIN(TestPipelinePage)
#include "test_pipeline_page.moc"
