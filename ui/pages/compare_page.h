#pragma once

#include "ui/models/config_diff_model.h"
#include "ui/models/run_summary.h"

#include <QHash>
#include <QSet>
#include <QWidget>

#include <cstdint>
#include <vector>

class QCheckBox;
class QComboBox;
class QLabel;
class QListWidget;
class QListWidgetItem;
class QTabWidget;
class QTableView;
class QTableWidget;
class QCPItemText;

namespace tunebench::ui {

class EmptyState;
class SeriesPlot;
class WorkspaceSession;

// Compares the runs the user checks: their curves overlaid for one metric (x
// by step, tokens or time), the configuration diff (one row per flattened key,
// differing rows highlighted), a summary of final and best metrics with mean
// and spread across seeds (runs whose configs differ only in a seed form one
// group), and a learning-versus-forgetting scatter with one point per run.
class ComparePage : public QWidget {
    Q_OBJECT

public:
    enum Tab { CurvesTab, ConfigTab, SummaryTab, ScatterTab };

    explicit ComparePage(WorkspaceSession* session, QWidget* parent = nullptr);

    ConfigDiffModel* diffModel() const { return m_diff; }
    // Checks or unchecks a run in the list; false when the run is not listed.
    bool setRunChecked(std::int64_t runId, bool checked);
    QList<std::int64_t> checkedRunIds() const;
    // Every run the list offers, in its order.
    QList<std::int64_t> listedRunIds() const;

    // The overlay's metric; false when no checked run recorded it.
    bool setMetric(const QString& metric);
    QString metric() const;
    void setXAxis(XAxis axis);
    XAxis xAxis() const;
    void showTab(Tab tab);

Q_SIGNALS:
    // "Write report..." under the run list: the checked runs, for the Exports page's report dialog.
    void reportRequested(const QList<qint64>& runIds);

public:
    SeriesPlot* overlayPlot() const { return m_overlay; }
    QComboBox* metricPicker() const { return m_metricPicker; }
    QComboBox* xAxisPicker() const { return m_xAxisPicker; }
    QTableWidget* summaryTable() const { return m_summaryTable; }
    SeriesPlot* scatterPlot() const { return m_scatter; }
    QLabel* scatterNote() const { return m_scatterNote; }
    // The run labels beside the scatter's points ("#3").
    QStringList scatterLabels() const;
    // The rows behind the summary table.
    const std::vector<SummaryRow>& summaryRows() const { return m_summaryRows; }

private:
    struct Entry {
        std::int64_t id;
        QString label;
        std::string configJson;
        std::optional<double> startedAt;
        bool operator==(const Entry&) const = default;
    };

    void reload();
    void refresh();
    void onItemChanged(QListWidgetItem* item);
    void updateAll();
    void updateDiff();
    // Reads the checked runs' metrics where they changed; returns whether anything did.
    bool loadMetrics();
    void updateMetricPicker();
    void updateOverlay();
    void updateSummary();
    void updateScatter();
    std::vector<RunMetrics> checkedMetrics() const;

    WorkspaceSession* m_session;
    EmptyState* m_pageState;
    QListWidget* m_runList;
    QTabWidget* m_tabs;
    QCheckBox* m_onlyDifferences;
    QLabel* m_summary;
    QTableView* m_diffTable;
    EmptyState* m_diffState;
    ConfigDiffModel* m_diff;
    QComboBox* m_metricPicker;
    QComboBox* m_xAxisPicker;
    QLabel* m_overlayNote;
    SeriesPlot* m_overlay;
    QTableWidget* m_summaryTable;
    SeriesPlot* m_scatter;
    QLabel* m_scatterNote;
    QList<QCPItemText*> m_scatterLabels;
    std::vector<Entry> m_entries;
    QSet<std::int64_t> m_checked;
    std::vector<ConfigDiffModel::Config> m_shownConfigs;
    // Metrics of the checked runs, and the row count they were read at.
    QHash<std::int64_t, RunMetrics> m_metrics;
    QHash<std::int64_t, std::int64_t> m_metricCounts;
    std::vector<SummaryRow> m_summaryRows;
    bool m_forceUpdate = true;
};

} // namespace tunebench::ui
