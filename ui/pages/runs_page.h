#pragma once

#include <QWidget>

#include <cstdint>
#include <optional>
#include <string>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QTableView;

namespace tunebench::ui {

class EmptyState;
class MetricPlot;
class RunTableModel;
class WorkspaceSession;

// The runs of the workspace: a filterable, sortable table, and for the
// selected run its configuration and a plot of one of its metrics. Follows
// runs written by other processes through WorkspaceSession::changed(),
// appending only the new metric points.
class RunsPage : public QWidget {
    Q_OBJECT

public:
    explicit RunsPage(WorkspaceSession* session, QWidget* parent = nullptr);

    RunTableModel* model() const { return m_model; }
    QSortFilterProxyModel* proxy() const { return m_proxy; }
    std::optional<std::int64_t> selectedRunId() const;
    // Selects the run's row (clearing the filter if it hides it); false when no such run.
    bool selectRun(std::int64_t runId);

private:
    void reload();
    void refresh();
    void updateEmptyState();
    void showSelectedRun();
    void loadMetricNames(bool keepCurrent);
    void loadMetric();
    void appendNewPoints();

    WorkspaceSession* m_session;
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
    std::optional<std::int64_t> m_shownRunId;
    std::string m_shownConfig;
};

} // namespace tunebench::ui
