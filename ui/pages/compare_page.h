#pragma once

#include "ui/models/config_diff_model.h"
#include "ui/models/run_summary.h"

#include <QHash>
#include <QSet>
#include <QWidget>

#include <cstdint>
#include <optional>
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
// differing rows highlighted), a summary of final and best metrics with mean,
// spread and 95% interval across seeds (runs whose configs differ only in a seed
// form one group) and a t test between two groups, a learning-versus-forgetting
// scatter (the task metric against forgetting, a point per run named and
// coloured by method, seed groups as means with error bars), a Pareto view of
// the groups (task gain against forgetting, time or memory) and parallel
// coordinates over the settings that differ and the results.
class ComparePage : public QWidget {
    Q_OBJECT

public:
    enum Tab { CurvesTab, ConfigTab, SummaryTab, ScatterTab, ParetoTab, ParallelTab };

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
    // The run names beside the scatter's points.
    QStringList scatterLabels() const;
    // The rows behind the summary table.
    const std::vector<SummaryRow>& summaryRows() const { return m_summaryRows; }

    // The summary's interval method (t or bootstrap).
    bool setIntervalMethod(stats::IntervalMethod method);
    // Picks the two seed groups (by a run of each) and the metric the test compares; false when not offered.
    bool setTestGroups(qint64 runOfA, qint64 runOfB, const QString& metric);
    // The test between the two picked groups, none when fewer than two groups have the metric.
    const std::optional<stats::GroupTest>& groupTest() const { return m_groupTest; }
    QLabel* groupTestLabel() const { return m_testResult; }

    // The task metric of the scatter and the Pareto view; empty for the default (defaultTargetMetric).
    bool setTargetMetric(const QString& metric);
    const LearningForgetting& learningForgetting() const { return m_learningForgetting; }
    // The Pareto view's cost: "forgetting/delta_loss", kTimeCost or a metric.
    bool setParetoCost(const QString& cost);
    const ParetoView& pareto() const { return m_pareto; }
    SeriesPlot* paretoPlot() const { return m_paretoPlot; }
    const ParallelCoordinates& parallel() const { return m_parallel; }
    SeriesPlot* parallelPlot() const { return m_parallelPlot; }

private:
    struct Entry {
        std::int64_t id;
        QString label;
        std::string configJson;
        std::optional<double> startedAt;
        QString name;
        QString method;
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
    void updateGroupPickers();
    void updateGroupTest();
    void updateTargetPickers();
    void updatePareto();
    void updateParallel();
    QString targetMetric() const;
    QColor methodColor(const QString& method);
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
    QComboBox* m_intervalPicker;
    QComboBox* m_groupA;
    QComboBox* m_groupB;
    QComboBox* m_testMetric;
    QLabel* m_testResult;
    std::optional<stats::GroupTest> m_groupTest;
    QComboBox* m_targetPicker;
    QComboBox* m_errorBarPicker;
    LearningForgetting m_learningForgetting;
    QComboBox* m_costPicker;
    SeriesPlot* m_paretoPlot;
    QLabel* m_paretoNote;
    QList<QCPItemText*> m_paretoLabels;
    ParetoView m_pareto;
    SeriesPlot* m_parallelPlot;
    QLabel* m_parallelNote;
    ParallelCoordinates m_parallel;
    QStringList m_methods; // in the order first seen: a method keeps its colour across views
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
