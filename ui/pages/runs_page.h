#pragma once

#include <QWidget>

#include <cstdint>
#include <optional>
#include <string>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace tunebench::ui {

class EmptyState;
class MetricPlot;
class RunQueue;
class RunTableModel;
class WorkspaceSession;

// The runs of the workspace: a filterable, sortable table, and for the
// selected run its configuration, its worker's log and a plot of one of its
// metrics. Follows runs written by other processes through
// WorkspaceSession::changed(), appending only the new metric points.
// Actions on the selected run: start (queue), stop, resume, duplicate as a
// new run, delete (with confirmation, files too) and monitor.
class RunsPage : public QWidget {
    Q_OBJECT

public:
    // Without a queue the start, stop and resume actions are unavailable.
    explicit RunsPage(WorkspaceSession* session, RunQueue* queue = nullptr, QWidget* parent = nullptr);

    // The actions, also behind the buttons. Each returns false with the
    // reason shown (and in *error) when it cannot be done.
    bool startRun(std::int64_t runId, QString* error = nullptr);
    bool stopRun(std::int64_t runId, QString* error = nullptr);
    bool resumeRun(std::int64_t runId, QString* error = nullptr);
    bool duplicateRun(std::int64_t runId, QString* error = nullptr);
    // Asks for confirmation first; deletes the run's rows and its folder.
    bool deleteRun(std::int64_t runId, QString* error = nullptr);

    RunTableModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    std::optional<std::int64_t> selectedRunId() const;
    // Selects the run's row (clearing the filter if it hides it); false when no such run.
    bool selectRun(std::int64_t runId);

Q_SIGNALS:
    // Double-click or the Monitor action: show this run live.
    void monitorRequested(qint64 runId);
    // Duplicate: a new run from this configuration (JSON), to edit in Run Setup.
    void duplicateRequested(const QString& configJson, const QString& name);
    // The empty workspace's way forward: set up a run.
    void runSetupRequested();

private:
    void updateActions();
    void showLog();
    bool fail(const QString& message, QString* error);
    void reload();
    void refresh();
    void updateEmptyState();
    void showSelectedRun();
    void loadMetricNames(bool keepCurrent);
    void loadMetric();
    void appendNewPoints();

    WorkspaceSession* m_session;
    RunQueue* m_queue;
    RunTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    EmptyState* m_pageState;
    QLineEdit* m_filter;
    QTableView* m_table;
    EmptyState* m_detailsState;
    QLabel* m_title;
    QComboBox* m_metricCombo;
    EmptyState* m_plotState;
    MetricPlot* m_plot;
    QPlainTextEdit* m_config;
    QPlainTextEdit* m_log;
    QLabel* m_actionStatus;
    QPushButton* m_startButton;
    QPushButton* m_stopButton;
    QPushButton* m_resumeButton;
    QPushButton* m_duplicateButton;
    QPushButton* m_deleteButton;
    QPushButton* m_monitorButton;
    std::optional<std::int64_t> m_shownRunId;
    std::string m_shownConfig;
};

} // namespace tunebench::ui
