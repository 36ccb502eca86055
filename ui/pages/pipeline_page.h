#pragma once

#include "ui/widgets/qcustomplot_include.h"

#include <QString>
#include <QTimer>
#include <QWidget>

#include <string>
#include <vector>

class QLabel;
class QPushButton;
class QTabWidget;
class QTableWidget;

namespace tunebench::ui {

class PipelineEditor;
class WorkspaceSession;

// The workspace's pipelines (core/pipeline) and, for the selected one, its stages as a chain of runs (each
// stage's run and status, the run it started from and how: merged or its adapter continued, its model folder) and
// its forgetting matrix as a heat map (rows: the base model, then after each stage; columns: each stage's tasks),
// coloured by each column's quality between its worst (0) and best (1) value (losses inverted), the values written
// in the cells, with the continual-learning measures beside it. All of it follows the store as the pipeline runs.
//
// The Editor tab (PipelineEditor) sets a pipeline up; Start there, and Resume here for a recorded pipeline, run
// `tunebench-cli pipeline FILE --workspace W` as a detached process (it outlives the GUI, as the run queue's
// workers do) with its output in <workspace>/pipelines/gui-*.log; Stop sends it SIGTERM (its running stage stops
// with a checkpoint; Resume carries on). A process that ends before its pipeline finishes shows its log's tail.
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
    PipelineEditor* editor() const { return m_editor; }
    QTabWidget* tabs() const { return m_tabs; }
    // The text written in the heat map's cell (column c, row r); empty where there is none.
    QString cellText(int column, int row) const;
    QString messageText() const;
    // tunebench-cli; default: beside this program, else on PATH.
    void setCliPath(const QString& path) { m_cliPath = path; }
    QString cliPath() const { return m_cliPath; }

    // Checks a pipeline file and runs it (or resumes the pipeline recorded with it) in the background; the page
    // selects the pipeline as soon as the process has recorded it. False with the reason.
    bool startPipelineFile(const QString& path, QString* error = nullptr);
    // Runs the selected pipeline's file again (finished stages are not run again).
    bool resumeSelected(QString* error = nullptr);
    // SIGTERM to the process this page started for the selected pipeline; false when there is none.
    bool stopSelected();
    // Whether the process this page started last is still running.
    bool processRunning() const;
    QTableWidget* stageTable() const { return m_stages; }
    QCPColorMap* heatMap() const { return m_map; }
    QString measuresText() const;
    qint64 selectedPipeline() const;
    bool selectPipeline(qint64 id);

public Q_SLOTS:
    void refresh();

private:
    void showPipeline();
    void checkProcess();
    void report(const QString& message);

    WorkspaceSession* m_session;
    QTabWidget* m_tabs;
    PipelineEditor* m_editor;
    QPushButton* m_new;
    QPushButton* m_edit;
    QPushButton* m_resume;
    QPushButton* m_stop;
    QLabel* m_message;
    QString m_cliPath;
    // The process started last: its pid, the canonical configuration it records, its log.
    qint64 m_pid = 0;
    std::string m_canonical;
    QString m_log;
    bool m_selectWhenRecorded = false;
    QTimer m_processTimer;
    std::vector<QCPItemText*> m_cellTexts; // column-major, columns x rows
    QTableWidget* m_pipelines;
    QTableWidget* m_stages;
    QCustomPlot* m_plot;
    QCPColorMap* m_map;
    QLabel* m_heading;
    QLabel* m_measures;
};

} // namespace tunebench::ui
