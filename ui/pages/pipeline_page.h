#pragma once

#include "ui/widgets/qcustomplot_include.h"

#include <QWidget>

class QLabel;
class QTableWidget;

namespace tunebench::ui {

class WorkspaceSession;

// The workspace's pipelines (core/pipeline) and, for the selected one, its stages as a chain of runs (each
// stage's run, the run it started from, its model folder) and its forgetting matrix as a heat map (rows: the
// base model, then after each stage; columns: each stage's tasks), coloured by each column's quality between
// its worst (0) and best (1) value (losses inverted), with the continual-learning measures below. Pipelines
// are run with `tunebench-cli pipeline`.
class PipelinePage : public QWidget {
    Q_OBJECT

public:
    enum StageColumn {
        StageIndexColumn,
        StageNameColumn,
        StageStatusColumn,
        StageRunColumn,
        StageFromColumn,
        StageModelColumn,
        StageColumnCount
    };

    explicit PipelinePage(WorkspaceSession* session, QWidget* parent = nullptr);

    QTableWidget* pipelineTable() const { return m_pipelines; }
    QTableWidget* stageTable() const { return m_stages; }
    QCPColorMap* heatMap() const { return m_map; }
    QString measuresText() const;
    qint64 selectedPipeline() const;
    bool selectPipeline(qint64 id);

public Q_SLOTS:
    void refresh();

private:
    void showPipeline();

    WorkspaceSession* m_session;
    QTableWidget* m_pipelines;
    QTableWidget* m_stages;
    QCustomPlot* m_plot;
    QCPColorMap* m_map;
    QLabel* m_heading;
    QLabel* m_measures;
};

} // namespace tunebench::ui
