#include "ui/pages/compare_page.h"

#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/pages/monitor_page.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/series_plot.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QHeaderView>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSplitter>
#include <QTabWidget>
#include <QTableView>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <exception>
#include <set>

namespace tunebench::ui {

namespace {

constexpr int kRunIdRole = Qt::UserRole + 1;

bool sameConfigs(const std::vector<ConfigDiffModel::Config>& a, const std::vector<ConfigDiffModel::Config>& b)
{
    return std::equal(a.begin(), a.end(), b.begin(), b.end(),
        [](const auto& x, const auto& y) { return x.label == y.label && x.json == y.json; });
}

QString number(double v)
{
    return QString::number(v, 'g', 5);
}

// Each group's (or run's) text label beside its point.
QCPItemText* addPointLabel(SeriesPlot* plot, double x, double y, const QString& text)
{
    auto* label = new QCPItemText(plot);
    label->position->setCoords(x, y);
    label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
    label->setText(QLatin1Char(' ') + text);
    label->setColor(plot->palette().color(QPalette::Text));
    label->setClipToAxisRect(true);
    return label;
}

// Error bars on a point series: keys when onKeys, else values.
void addErrorBars(SeriesPlot* plot, QCPGraph* graph, const QVector<double>& errors, bool onKeys)
{
    auto* bars = new QCPErrorBars(plot->xAxis, plot->yAxis);
    bars->removeFromLegend();
    bars->setDataPlottable(graph);
    bars->setErrorType(onKeys ? QCPErrorBars::etKeyError : QCPErrorBars::etValueError);
    bars->setPen(graph->pen());
    bars->setData(errors);
}

void clearPlot(SeriesPlot* plot, QList<QCPItemText*>& labels)
{
    for (QCPItemText* label : std::as_const(labels))
        plot->removeItem(label);
    labels.clear();
    for (int i = plot->plottableCount() - 1; i >= 0; --i) {
        if (qobject_cast<QCPErrorBars*>(plot->plottable(i)))
            plot->removePlottable(i);
    }
    plot->clearSeries();
}

} // namespace

ComparePage::ComparePage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_tabs(new QTabWidget)
    , m_diff(new ConfigDiffModel(this))
    , m_metricPicker(new QComboBox)
    , m_xAxisPicker(new QComboBox)
    , m_overlayNote(new QLabel)
    , m_overlay(new SeriesPlot(tr("Curves")))
    , m_summaryTable(new QTableWidget(0, 6))
    , m_scatter(new SeriesPlot(tr("Learning versus forgetting")))
    , m_scatterNote(new QLabel)
    , m_intervalPicker(new QComboBox)
    , m_groupA(new QComboBox)
    , m_groupB(new QComboBox)
    , m_testMetric(new QComboBox)
    , m_testResult(new QLabel)
    , m_targetPicker(new QComboBox)
    , m_errorBarPicker(new QComboBox)
    , m_costPicker(new QComboBox)
    , m_paretoPlot(new SeriesPlot(tr("Pareto view (one point per seed group)")))
    , m_paretoNote(new QLabel)
    , m_parallelPlot(new SeriesPlot(tr("Parallel coordinates (one line per seed group)")))
    , m_parallelNote(new QLabel)
{
    m_runList = new QListWidget;
    m_runList->setObjectName(QStringLiteral("compareRunList"));
    connect(m_runList, &QListWidget::itemChanged, this, &ComparePage::onItemChanged);
    auto* listPanel = new QWidget;
    auto* listLayout = new QVBoxLayout(listPanel);
    listLayout->setContentsMargins(0, 0, 0, 0);
    listLayout->addWidget(new QLabel(tr("Check the runs to compare:")));
    listLayout->addWidget(m_runList, 1);
    auto* report = new QPushButton(tr("Write &report\u2026"));
    report->setObjectName(QStringLiteral("compareReport"));
    report->setToolTip(tr("A report (HTML, PDF or Markdown) comparing the checked runs"));
    connect(report, &QPushButton::clicked, this, [this] {
        QList<qint64> ids;
        for (std::int64_t id : checkedRunIds())
            ids.push_back(id);
        Q_EMIT reportRequested(ids);
    });
    listLayout->addWidget(report);

    // Curves.
    m_metricPicker->setObjectName(QStringLiteral("compareMetric"));
    m_metricPicker->setMinimumContentsLength(18);
    connect(m_metricPicker, &QComboBox::currentIndexChanged, this, &ComparePage::updateOverlay);
    m_xAxisPicker->setObjectName(QStringLiteral("compareXAxis"));
    m_xAxisPicker->addItem(tr("step"), static_cast<int>(XAxis::Step));
    m_xAxisPicker->addItem(tr("tokens"), static_cast<int>(XAxis::Tokens));
    m_xAxisPicker->addItem(tr("time"), static_cast<int>(XAxis::Time));
    connect(m_xAxisPicker, &QComboBox::currentIndexChanged, this, &ComparePage::updateOverlay);
    m_overlay->setObjectName(QStringLiteral("compareOverlay"));
    m_overlay->setLegendForOne(true);
    m_overlayNote->setObjectName(QStringLiteral("compareOverlayNote"));
    m_overlayNote->setWordWrap(true);
    makePlainLabel(m_overlayNote); // it lists run names
    auto* curves = new QWidget;
    auto* curvesLayout = new QVBoxLayout(curves);
    auto* curvesBar = new QHBoxLayout;
    auto* metricLabel = new QLabel(tr("&Metric:"));
    metricLabel->setBuddy(m_metricPicker);
    auto* axisLabel = new QLabel(tr("&X axis:"));
    axisLabel->setBuddy(m_xAxisPicker);
    auto* log = new QCheckBox(tr("&log scale"));
    log->setObjectName(QStringLiteral("compareLog"));
    connect(log, &QCheckBox::toggled, this, [this](bool on) {
        m_overlay->setLogScale(on);
        m_overlay->replotIfDirty();
    });
    curvesBar->addWidget(metricLabel);
    curvesBar->addWidget(m_metricPicker);
    curvesBar->addWidget(axisLabel);
    curvesBar->addWidget(m_xAxisPicker);
    curvesBar->addWidget(log);
    curvesBar->addStretch();
    curvesLayout->addLayout(curvesBar);
    curvesLayout->addWidget(m_overlay, 1);
    curvesLayout->addWidget(m_overlayNote);

    // Configuration diff.
    m_onlyDifferences = new QCheckBox(tr("Only &differences"));
    m_onlyDifferences->setObjectName(QStringLiteral("compareOnlyDifferences"));
    connect(m_onlyDifferences, &QCheckBox::toggled, m_diff, &ConfigDiffModel::setOnlyDifferences);
    m_summary = new QLabel;
    m_summary->setObjectName(QStringLiteral("compareSummary"));
    m_diffTable = new QTableView;
    m_diffTable->setObjectName(QStringLiteral("compareDiffTable"));
    m_diffTable->setModel(m_diff);
    m_diffTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_diffTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_diffTable->verticalHeader()->hide();
    m_diffTable->horizontalHeader()->setStretchLastSection(true);
    m_diffTable->setWordWrap(false);
    m_diffState = new EmptyState(m_diffTable);
    auto* diffPanel = new QWidget;
    auto* diffLayout = new QVBoxLayout(diffPanel);
    auto* diffBar = new QHBoxLayout;
    diffBar->addWidget(m_onlyDifferences);
    diffBar->addStretch();
    diffBar->addWidget(m_summary);
    diffLayout->addLayout(diffBar);
    diffLayout->addWidget(m_diffState, 1);

    // Summary across seeds.
    m_summaryTable->setObjectName(QStringLiteral("compareSummaryTable"));
    m_summaryTable->setColumnCount(8);
    m_summaryTable->setHorizontalHeaderLabels({ tr("Runs (same config but seed)"), tr("Method"), tr("Metric"), tr("n"),
        tr("Final (mean \u00b1 std)"), tr("Final 95% CI"), tr("Best (mean \u00b1 std)"), tr("Best is") });
    m_summaryTable->verticalHeader()->hide();
    m_summaryTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_summaryTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_summaryTable->horizontalHeader()->setStretchLastSection(true);
    auto* summaryPanel = new QWidget;
    auto* summaryLayout = new QVBoxLayout(summaryPanel);
    auto* summaryHelp = new QLabel(tr("Runs whose configurations differ only in a <i>seed</i> form one group; the "
                                      "spread is the sample standard deviation over the group's runs, the interval "
                                      "a 95% confidence interval of the mean (Student's t, or a percentile "
                                      "bootstrap of 10,000 resamples; the column names which)."));
    summaryHelp->setWordWrap(true);
    m_intervalPicker->setObjectName(QStringLiteral("compareIntervalMethod"));
    m_intervalPicker->addItem(tr("t interval"), static_cast<int>(stats::IntervalMethod::StudentT));
    m_intervalPicker->addItem(tr("bootstrap"), static_cast<int>(stats::IntervalMethod::Bootstrap));
    connect(m_intervalPicker, &QComboBox::currentIndexChanged, this, [this] {
        updateSummary();
        updateGroupTest();
    });
    auto* intervalBar = new QHBoxLayout;
    auto* intervalLabel = new QLabel(tr("&Interval:"));
    intervalLabel->setBuddy(m_intervalPicker);
    intervalBar->addWidget(summaryHelp, 1);
    intervalBar->addWidget(intervalLabel);
    intervalBar->addWidget(m_intervalPicker);
    summaryLayout->addLayout(intervalBar);
    summaryLayout->addWidget(m_summaryTable, 1);
    m_groupA->setObjectName(QStringLiteral("compareGroupA"));
    m_groupB->setObjectName(QStringLiteral("compareGroupB"));
    m_testMetric->setObjectName(QStringLiteral("compareTestMetric"));
    for (QComboBox* box : { m_groupA, m_groupB, m_testMetric }) {
        box->setMinimumContentsLength(8);
        box->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
        connect(box, &QComboBox::currentIndexChanged, this, &ComparePage::updateGroupTest);
    }
    auto* testBar = new QHBoxLayout;
    auto* testLabel = new QLabel(tr("&Test group"));
    testLabel->setBuddy(m_groupA);
    testBar->addWidget(testLabel);
    testBar->addWidget(m_groupA, 1);
    testBar->addWidget(new QLabel(tr("against")));
    testBar->addWidget(m_groupB, 1);
    testBar->addWidget(new QLabel(tr("on")));
    testBar->addWidget(m_testMetric);
    summaryLayout->addLayout(testBar);
    m_testResult->setObjectName(QStringLiteral("compareTestResult"));
    m_testResult->setWordWrap(true);
    makePlainLabel(m_testResult); // it names runs
    summaryLayout->addWidget(m_testResult);

    // Learning versus forgetting.
    m_scatter->setObjectName(QStringLiteral("compareScatter"));
    m_scatter->setLegendForOne(true);
    m_scatterNote->setObjectName(QStringLiteral("compareScatterNote"));
    m_scatterNote->setWordWrap(true);
    m_targetPicker->setObjectName(QStringLiteral("compareTarget"));
    // Sized by a minimum, not by its longest entry: the page must fit the window's smallest size.
    m_targetPicker->setMinimumContentsLength(12);
    m_targetPicker->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    connect(m_targetPicker, &QComboBox::currentIndexChanged, this, [this] {
        updateScatter();
        updatePareto();
        updateParallel();
    });
    m_errorBarPicker->setObjectName(QStringLiteral("compareErrorBars"));
    m_errorBarPicker->addItem(tr("\u00b1 std"));
    m_errorBarPicker->addItem(tr("95% CI (t)"));
    connect(m_errorBarPicker, &QComboBox::currentIndexChanged, this, &ComparePage::updateScatter);
    auto* scatterPanel = new QWidget;
    auto* scatterLayout = new QVBoxLayout(scatterPanel);
    auto* scatterBar = new QHBoxLayout;
    auto* targetLabel = new QLabel(tr("Task &metric:"));
    targetLabel->setBuddy(m_targetPicker);
    auto* barsLabel = new QLabel(tr("Seed groups' &error bars:"));
    barsLabel->setBuddy(m_errorBarPicker);
    scatterBar->addWidget(targetLabel);
    scatterBar->addWidget(m_targetPicker);
    scatterBar->addWidget(barsLabel);
    scatterBar->addWidget(m_errorBarPicker);
    scatterBar->addStretch();
    scatterLayout->addLayout(scatterBar);
    scatterLayout->addWidget(m_scatter, 1);
    scatterLayout->addWidget(m_scatterNote);

    // Pareto view.
    m_paretoPlot->setObjectName(QStringLiteral("comparePareto"));
    m_paretoPlot->setLegendForOne(true);
    m_costPicker->setObjectName(QStringLiteral("compareParetoCost"));
    m_costPicker->setMinimumContentsLength(12);
    m_costPicker->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    connect(m_costPicker, &QComboBox::currentIndexChanged, this, &ComparePage::updatePareto);
    m_paretoNote->setObjectName(QStringLiteral("compareParetoNote"));
    m_paretoNote->setWordWrap(true);
    makePlainLabel(m_paretoNote);
    auto* paretoPanel = new QWidget;
    auto* paretoLayout = new QVBoxLayout(paretoPanel);
    auto* paretoBar = new QHBoxLayout;
    auto* costLabel = new QLabel(tr("&Cost (lower is better):"));
    costLabel->setBuddy(m_costPicker);
    paretoBar->addWidget(costLabel);
    paretoBar->addWidget(m_costPicker);
    auto* paretoHelp = new QLabel(tr("against the task metric picked under <i>Learning vs forgetting</i>"));
    paretoHelp->setWordWrap(true);
    paretoBar->addWidget(paretoHelp, 1);
    paretoLayout->addLayout(paretoBar);
    paretoLayout->addWidget(m_paretoPlot, 1);
    paretoLayout->addWidget(m_paretoNote);

    // Parallel coordinates.
    m_parallelPlot->setObjectName(QStringLiteral("compareParallel"));
    m_parallelNote->setObjectName(QStringLiteral("compareParallelNote"));
    m_parallelNote->setWordWrap(true);
    auto* parallelPanel = new QWidget;
    auto* parallelLayout = new QVBoxLayout(parallelPanel);
    parallelLayout->addWidget(m_parallelPlot, 1);
    parallelLayout->addWidget(m_parallelNote);

    m_tabs->setObjectName(QStringLiteral("compareTabs"));
    m_tabs->addTab(curves, tr("Curves"));
    m_tabs->addTab(diffPanel, tr("Configuration"));
    m_tabs->addTab(summaryPanel, tr("Summary"));
    m_tabs->addTab(scatterPanel, tr("Learning vs forgetting"));
    m_tabs->addTab(paretoPanel, tr("Pareto"));
    m_tabs->addTab(parallelPanel, tr("Parallel coordinates"));
    connect(m_tabs, &QTabWidget::currentChanged, this, [this] {
        m_overlay->replotIfDirty();
        m_scatter->replotIfDirty();
        m_paretoPlot->replotIfDirty();
        m_parallelPlot->replotIfDirty();
    });

    auto* split = new QSplitter(Qt::Horizontal);
    split->setObjectName(QStringLiteral("compareSplitter"));
    split->addWidget(listPanel);
    split->addWidget(m_tabs);
    split->setStretchFactor(0, 1);
    split->setStretchFactor(1, 3);
    m_pageState = new EmptyState(split);
    m_pageState->setObjectName(QStringLiteral("comparePageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_pageState);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &ComparePage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &ComparePage::refresh);
    reload();
}

bool ComparePage::setRunChecked(std::int64_t runId, bool checked)
{
    for (int i = 0; i < m_runList->count(); ++i) {
        QListWidgetItem* item = m_runList->item(i);
        if (item->data(kRunIdRole).value<qint64>() == runId) {
            item->setCheckState(checked ? Qt::Checked : Qt::Unchecked); // itemChanged updates the page
            return true;
        }
    }
    return false;
}

QList<std::int64_t> ComparePage::listedRunIds() const
{
    QList<std::int64_t> ids;
    for (int i = 0; i < m_runList->count(); ++i)
        ids.push_back(m_runList->item(i)->data(kRunIdRole).value<qint64>());
    return ids;
}

QList<std::int64_t> ComparePage::checkedRunIds() const
{
    QList<std::int64_t> ids;
    for (const Entry& entry : m_entries) {
        if (m_checked.contains(entry.id))
            ids.append(entry.id);
    }
    return ids;
}

bool ComparePage::setMetric(const QString& metric)
{
    const int index = m_metricPicker->findText(metric);
    if (index < 0)
        return false;
    m_metricPicker->setCurrentIndex(index);
    return true;
}

QString ComparePage::metric() const
{
    return m_metricPicker->currentText();
}

void ComparePage::setXAxis(XAxis axis)
{
    m_xAxisPicker->setCurrentIndex(m_xAxisPicker->findData(static_cast<int>(axis)));
}

XAxis ComparePage::xAxis() const
{
    return static_cast<XAxis>(m_xAxisPicker->currentData().toInt());
}

QStringList ComparePage::scatterLabels() const
{
    QStringList labels;
    for (const QCPItemText* label : m_scatterLabels)
        labels.append(label->text().trimmed());
    return labels;
}

void ComparePage::showTab(Tab tab)
{
    m_tabs->setCurrentIndex(tab);
}

void ComparePage::reload()
{
    m_checked.clear();
    m_forceUpdate = true;
    m_metrics.clear();
    m_metricCounts.clear();
    refresh();
}

void ComparePage::refresh()
{
    std::vector<Entry> entries;
    if (Workspace* ws = m_session->workspace()) {
        try {
            for (const RunRecord& run : RunStore(ws->db()).list()) {
                const std::string_view status = toString(run.status);
                entries.push_back({ run.id,
                    QStringLiteral("#%1 %2 (%3)")
                        .arg(run.id)
                        .arg(userText(run.name),
                            QString::fromUtf8(status.data(), static_cast<qsizetype>(status.size()))),
                    run.configJson, run.startedAt, QString::fromStdString(run.name), methodLabel(run) });
            }
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read the runs: %1").arg(QString::fromUtf8(e.what())));
            return;
        }
    }
    if (!m_session->isOpen()) {
        m_pageState->showMessage(EmptyState::noWorkspaceText());
    } else if (entries.empty()) {
        m_pageState->showMessage(tr("<p><b>This workspace has no runs to compare yet.</b></p>"
                                    "<p>Once it has two or more runs, check them here to overlay their curves "
                                    "and see how their configurations differ.</p>"));
    } else {
        m_pageState->showContent();
    }
    // Rebuilding the list only when it changed keeps its scroll position while runs train.
    if (entries != m_entries) {
        QSet<std::int64_t> present;
        const QSignalBlocker blocker(m_runList);
        m_runList->clear();
        for (const Entry& entry : entries) {
            auto* item = new QListWidgetItem(entry.label, m_runList);
            item->setData(kRunIdRole, QVariant::fromValue<qint64>(entry.id));
            item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsUserCheckable);
            item->setCheckState(m_checked.contains(entry.id) ? Qt::Checked : Qt::Unchecked);
            present.insert(entry.id);
        }
        m_checked.intersect(present); // deleted runs leave the comparison
        m_entries = std::move(entries);
    }
    updateAll();
}

void ComparePage::onItemChanged(QListWidgetItem* item)
{
    const auto id = static_cast<std::int64_t>(item->data(kRunIdRole).value<qint64>());
    if (item->checkState() == Qt::Checked)
        m_checked.insert(id);
    else
        m_checked.remove(id);
    updateAll();
}

void ComparePage::updateAll()
{
    updateDiff();
    if (!loadMetrics())
        return; // nothing new: the curves, summary and scatter stand
    updateMetricPicker();
    updateOverlay();
    updateSummary();
    updateGroupPickers();
    updateTargetPickers();
    updateScatter();
    updatePareto();
    updateParallel();
}

void ComparePage::updateDiff()
{
    std::vector<ConfigDiffModel::Config> configs;
    for (const Entry& entry : m_entries) {
        if (m_checked.contains(entry.id))
            configs.push_back({ entry.label, entry.configJson });
    }
    if (configs.size() < 2) {
        m_shownConfigs.clear();
        m_diff->setConfigs({});
        m_summary->clear();
        m_diffState->showMessage(tr("Check two or more runs to compare their configurations."));
        return;
    }
    m_diffState->showContent();
    if (sameConfigs(configs, m_shownConfigs))
        return; // a reset would lose the table's scroll position for nothing
    m_diff->setConfigs(configs);
    m_shownConfigs = std::move(configs);
    m_diffTable->resizeColumnsToContents();
    const int differing = m_diff->differenceCount();
    m_summary->setText(differing == 0
            ? tr("The configurations are identical (%1 keys)").arg(m_diff->keyCount())
            : tr("%1 of %2 keys differ (highlighted)").arg(differing).arg(m_diff->keyCount()));
}

bool ComparePage::loadMetrics()
{
    Workspace* ws = m_session->workspace();
    QHash<std::int64_t, RunMetrics> next;
    QHash<std::int64_t, std::int64_t> counts;
    bool changed = false;
    if (ws) {
        try {
            const MetricQuery query(ws->db());
            for (const Entry& entry : m_entries) {
                if (!m_checked.contains(entry.id))
                    continue;
                // A run's metrics are read again only when it recorded more rows.
                const std::int64_t count = query.count(entry.id);
                counts.insert(entry.id, count);
                if (m_metrics.contains(entry.id) && m_metricCounts.value(entry.id, -1) == count) {
                    RunMetrics kept = m_metrics.value(entry.id);
                    changed = changed || kept.label != entry.label;
                    kept.label = entry.label;
                    kept.name = entry.name;
                    kept.method = entry.method;
                    kept.startedAt = entry.startedAt;
                    next.insert(entry.id, std::move(kept));
                    continue;
                }
                changed = true;
                RunMetrics run;
                run.id = entry.id;
                run.label = entry.label;
                run.name = entry.name;
                run.method = entry.method;
                run.configJson = entry.configJson;
                run.startedAt = entry.startedAt;
                for (const std::string& name : query.names(entry.id))
                    run.series[name] = query.series(entry.id, name);
                next.insert(entry.id, std::move(run));
            }
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read the runs' metrics: %1").arg(QString::fromUtf8(e.what())));
            return false;
        }
    }
    changed = changed || next.size() != m_metrics.size() || m_forceUpdate;
    m_forceUpdate = false;
    m_metrics = std::move(next);
    m_metricCounts = std::move(counts);
    return changed;
}

std::vector<RunMetrics> ComparePage::checkedMetrics() const
{
    std::vector<RunMetrics> runs;
    for (const Entry& entry : m_entries) {
        if (m_metrics.contains(entry.id))
            runs.push_back(m_metrics.value(entry.id));
    }
    return runs;
}

void ComparePage::updateMetricPicker()
{
    std::set<std::string> names;
    for (const RunMetrics& run : std::as_const(m_metrics)) {
        for (const auto& [name, points] : run.series)
            names.insert(name);
    }
    QStringList list;
    for (const std::string& name : names)
        list.append(QString::fromStdString(name));
    QStringList current;
    for (int i = 0; i < m_metricPicker->count(); ++i)
        current.append(m_metricPicker->itemText(i));
    if (list == current)
        return;
    const QString previous = m_metricPicker->currentText();
    const QSignalBlocker blocker(m_metricPicker);
    m_metricPicker->clear();
    m_metricPicker->addItems(list);
    int index = list.indexOf(previous);
    if (index < 0)
        index = list.indexOf(QStringLiteral("loss"));
    m_metricPicker->setCurrentIndex(index < 0 && !list.isEmpty() ? 0 : index);
}

void ComparePage::updateOverlay()
{
    m_overlay->clearSeries();
    const QString metric = m_metricPicker->currentText();
    const XAxis axis = xAxis();
    QStringList withoutTokens;
    int color = 0;
    for (const RunMetrics& run : checkedMetrics()) {
        const auto it = run.series.find(metric.toStdString());
        if (it == run.series.end() || it->second.empty()) {
            ++color;
            continue;
        }
        const auto xs = xValues(run, it->second, axis);
        if (!xs) {
            withoutTokens.append(run.label);
            ++color;
            continue;
        }
        QVector<double> keys(xs->begin(), xs->end());
        QVector<double> values;
        values.reserve(keys.size());
        for (const MetricPoint& p : it->second)
            values.append(p.value);
        const int index = m_overlay->addSeries(run.label, seriesColor(color++));
        // Keys are not sorted for every axis (time restarts for a resumed run), so let the graph sort them.
        m_overlay->series(index)->setData(keys, values, /*alreadySorted=*/false);
        if (keys.size() < 60)
            m_overlay->series(index)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 4));
    }
    m_overlay->yAxis->setLabel(metric);
    switch (axis) {
    case XAxis::Step:
        m_overlay->setXLabel(tr("step"));
        break;
    case XAxis::Tokens:
        m_overlay->setXLabel(tr("tokens (from tokens/s over time)"));
        break;
    case XAxis::Time:
        m_overlay->setXLabel(tr("seconds since the run started"));
        break;
    }
    if (m_checked.isEmpty())
        m_overlayNote->setText(tr("Check runs on the left to overlay their curves."));
    else if (!withoutTokens.isEmpty())
        m_overlayNote->setText(
            tr("Not drawn (no tokens_per_s recorded): %1").arg(withoutTokens.join(QStringLiteral(", "))));
    else
        m_overlayNote->clear();
    m_overlay->markDirty();
    m_overlay->replotIfDirty();
}

void ComparePage::updateSummary()
{
    const std::vector<RunMetrics> runs = checkedMetrics();
    // The metrics the Monitor draws (but the learning rate, a setting more than a result), the demo's
    // measures, and the picked one.
    std::set<std::string> names;
    for (const RunMetrics& run : runs) {
        for (const auto& [name, points] : run.series) {
            const QString metric = QString::fromStdString(name);
            if (metric != QLatin1String("lr")
                && (MonitorPage::routeMetric(metric) || metric.startsWith(QLatin1String("demo/"))))
                names.insert(name);
        }
    }
    if (!m_metricPicker->currentText().isEmpty())
        names.insert(m_metricPicker->currentText().toStdString());
    QStringList metrics;
    for (const std::string& name : names)
        metrics.append(QString::fromStdString(name));
    const auto method = static_cast<stats::IntervalMethod>(m_intervalPicker->currentData().toInt());
    m_summaryRows = summarizeBySeed(runs, metrics, method);
    m_summaryTable->setRowCount(static_cast<int>(m_summaryRows.size()));
    int row = 0;
    for (const SummaryRow& r : m_summaryRows) {
        const QStringList cells = { r.group, r.method, r.metric, QString::number(r.finalValue.n),
            meanStdText(r.finalValue), r.finalValue.n < 2 ? tr("(one run)") : intervalText(r.finalValue),
            meanStdText(r.bestValue), higherIsBetter(r.metric) ? tr("highest") : tr("lowest") };
        for (int column = 0; column < cells.size(); ++column) {
            auto* item = new QTableWidgetItem(userText(cells[column]));
            item->setToolTip(userToolTip(cells[column]));
            m_summaryTable->setItem(row, column, item);
        }
        ++row;
    }
    m_summaryTable->resizeColumnsToContents();
}

void ComparePage::updateGroupPickers()
{
    // One entry per seed group, in the summary's order; the data is the group key.
    QStringList keys;
    QStringList texts;
    QStringList metrics;
    for (const SummaryRow& r : m_summaryRows) {
        if (!keys.contains(r.groupKey)) {
            keys.append(r.groupKey);
            texts.append(QStringLiteral("%1 \u2014 %2").arg(r.method, r.group));
        }
        if (!metrics.contains(r.metric))
            metrics.append(r.metric);
    }
    auto fill = [](QComboBox* box, const QStringList& items, const QStringList& data, int fallback) {
        QStringList current;
        for (int i = 0; i < box->count(); ++i)
            current.append(box->itemData(i).toString());
        if (current == data)
            return;
        const QString previous = box->currentData().toString();
        const QSignalBlocker blocker(box);
        box->clear();
        for (int i = 0; i < items.size(); ++i)
            box->addItem(userText(items[i]), data[i]);
        int index = data.indexOf(previous);
        if (index < 0)
            index = std::min(fallback, static_cast<int>(items.size()) - 1);
        box->setCurrentIndex(index);
    };
    fill(m_groupA, texts, keys, 0);
    fill(m_groupB, texts, keys, 1);
    QString preferred = m_testMetric->currentText();
    if (preferred.isEmpty())
        preferred = targetMetric();
    fill(m_testMetric, metrics, metrics, 0);
    if (m_testMetric->currentText() != preferred && metrics.contains(preferred)) {
        const QSignalBlocker blocker(m_testMetric);
        m_testMetric->setCurrentIndex(metrics.indexOf(preferred));
    }
    updateGroupTest();
}

void ComparePage::updateGroupTest()
{
    m_groupTest.reset();
    const QString a = m_groupA->currentData().toString();
    const QString b = m_groupB->currentData().toString();
    const QString metric = m_testMetric->currentText();
    const SummaryRow* rowA = nullptr;
    const SummaryRow* rowB = nullptr;
    for (const SummaryRow& r : m_summaryRows) {
        if (r.metric != metric)
            continue;
        if (r.groupKey == a)
            rowA = &r;
        if (r.groupKey == b)
            rowB = &r;
    }
    if (m_groupA->count() < 2) {
        m_testResult->setText(tr("Check the runs of two configurations (each over several seeds) to test whether "
                                 "they differ."));
        return;
    }
    if (a == b) {
        m_testResult->setText(tr("Pick two different groups to test."));
        return;
    }
    if (!rowA || !rowB) {
        m_testResult->setText(tr("One of the two groups has no %1.").arg(metric));
        return;
    }
    const auto method = static_cast<stats::IntervalMethod>(m_intervalPicker->currentData().toInt());
    m_groupTest = compareGroups(*rowA, *rowB, method);
    const QString text = userText(groupTestText(*m_groupTest));
    m_testResult->setText(m_groupTest->verdict == stats::Verdict::TooFewRuns
            ? QStringLiteral("\u26a0 ") + text // flagged: numbers shown, nothing concluded
            : text);
}

bool ComparePage::setIntervalMethod(stats::IntervalMethod method)
{
    const int index = m_intervalPicker->findData(static_cast<int>(method));
    m_intervalPicker->setCurrentIndex(index);
    return index >= 0;
}

bool ComparePage::setTestGroups(qint64 runOfA, qint64 runOfB, const QString& metric)
{
    QString a;
    QString b;
    for (const SummaryRow& r : m_summaryRows) {
        if (r.runs.contains(runOfA))
            a = r.groupKey;
        if (r.runs.contains(runOfB))
            b = r.groupKey;
    }
    const int ia = m_groupA->findData(a);
    const int ib = m_groupB->findData(b);
    const int im = m_testMetric->findText(metric);
    if (a.isEmpty() || b.isEmpty() || ia < 0 || ib < 0 || im < 0)
        return false;
    m_groupA->setCurrentIndex(ia);
    m_groupB->setCurrentIndex(ib);
    m_testMetric->setCurrentIndex(im);
    updateGroupTest();
    return true;
}

QString ComparePage::targetMetric() const
{
    const QString picked = m_targetPicker->currentData().toString();
    return picked.isEmpty() ? defaultTargetMetric(checkedMetrics()) : picked;
}

bool ComparePage::setTargetMetric(const QString& metric)
{
    const int index = m_targetPicker->findData(metric);
    if (index < 0)
        return false;
    m_targetPicker->setCurrentIndex(index);
    return true;
}

bool ComparePage::setParetoCost(const QString& cost)
{
    const int index = m_costPicker->findData(cost);
    if (index < 0)
        return false;
    m_costPicker->setCurrentIndex(index);
    return true;
}

void ComparePage::updateTargetPickers()
{
    std::set<std::string> names;
    for (const RunMetrics& run : std::as_const(m_metrics)) {
        for (const auto& [name, points] : run.series)
            names.insert(name);
    }
    auto fill = [](QComboBox* box, const QList<QPair<QString, QString>>& items) {
        QStringList current;
        for (int i = 0; i < box->count(); ++i)
            current.append(box->itemData(i).toString());
        QStringList next;
        for (const auto& item : items)
            next.append(item.second);
        if (current == next)
            return;
        const QString previous = box->currentData().toString();
        const QSignalBlocker blocker(box);
        box->clear();
        for (const auto& item : items)
            box->addItem(item.first, item.second);
        box->setCurrentIndex(std::max(0, static_cast<int>(next.indexOf(previous))));
    };
    const QString fallback = defaultTargetMetric(checkedMetrics());
    QList<QPair<QString, QString>> targets { { tr("default: %1").arg(targetLabel(fallback)), QString() } };
    QList<QPair<QString, QString>> costs;
    for (const std::string& name : names) {
        const QString metric = QString::fromStdString(name);
        targets.append({ metric == QLatin1String("eval_loss") ? targetLabel(metric) : metric, metric });
        if (metric.startsWith(QLatin1String("forgetting/")) || metric.contains(QLatin1String("memory"))
            || metric == QLatin1String("demo/trainable_share"))
            costs.append({ metric, metric });
    }
    // Forgetting first: the question the view answers by default.
    std::stable_sort(costs.begin(), costs.end(),
        [](const auto& x, const auto& y) { return x.second == QLatin1String("forgetting/delta_loss") && x != y; });
    costs.append({ tr("time (s, start to last record)"), kTimeCost });
    fill(m_targetPicker, targets);
    m_targetPicker->setItemText(0, tr("default: %1").arg(targetLabel(fallback)));
    fill(m_costPicker, costs);
}

QColor ComparePage::methodColor(const QString& method)
{
    if (!m_methods.contains(method))
        m_methods.append(method);
    return seriesColor(static_cast<int>(m_methods.indexOf(method)));
}

void ComparePage::updateScatter()
{
    m_learningForgetting = learningVersusForgetting(checkedMetrics(), targetMetric());
    const LearningForgetting& lf = m_learningForgetting;
    clearPlot(m_scatter, m_scatterLabels);
    // A series per method (its runs), then one per method for the seed groups' means.
    QStringList methods;
    for (const LearningForgettingPoint& p : lf.points) {
        if (!methods.contains(p.method))
            methods.append(p.method);
    }
    const bool ci = m_errorBarPicker->currentIndex() == 1;
    for (const QString& method : methods) {
        const QColor color = methodColor(method);
        QVector<double> xs;
        QVector<double> ys;
        for (const LearningForgettingPoint& p : lf.points) {
            if (p.method != method)
                continue;
            xs.append(p.learning);
            ys.append(p.forgetting);
            m_scatterLabels.append(addPointLabel(m_scatter, p.learning, p.forgetting, p.name));
        }
        const int runs = m_scatter->addSeries(userText(method), color, /*faint=*/false, /*scatter=*/true);
        m_scatter->series(runs)->setData(xs, ys, /*alreadySorted=*/false);
        QVector<double> gx;
        QVector<double> gy;
        QVector<double> ex;
        QVector<double> ey;
        for (const PointGroup& g : lf.groups) {
            if (g.method != method || g.x.n < 2)
                continue;
            gx.append(g.x.mean);
            gy.append(g.y.mean);
            ex.append(ci ? (g.x.ciHigh - g.x.ciLow) / 2 : g.x.std);
            ey.append(ci ? (g.y.ciHigh - g.y.ciLow) / 2 : g.y.std);
        }
        if (gx.isEmpty())
            continue;
        const int means
            = m_scatter->addSeries(userText(method) + tr(" (seed mean)"), color, /*faint=*/false, /*scatter=*/true);
        QCPGraph* graph = m_scatter->series(means);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, color, 10));
        graph->setData(gx, gy, /*alreadySorted=*/false);
        addErrorBars(m_scatter, graph, ex, true);
        addErrorBars(m_scatter, graph, ey, false);
    }
    m_scatter->setXLabel(tr("learning: %1").arg(targetLabel(lf.learningMetric)));
    m_scatter->yAxis->setLabel(tr("forgetting: final \u0394 loss on the reference set (tuned \u2212 base)"));
    QStringList missing;
    for (const RunMetrics& run : checkedMetrics()) {
        if (lf.missing.contains(run.id))
            missing.append(run.name.isEmpty() ? QStringLiteral("#%1").arg(run.id) : run.name);
    }
    const QString better = targetHigherIsBetter(lf.learningMetric) ? tr("right is better on the task")
                                                                   : tr("left is better on the task");
    if (m_checked.isEmpty())
        m_scatterNote->setText(tr("Check runs to place them: %1, up is more forgetting.").arg(better));
    else if (!missing.isEmpty())
        m_scatterNote->setText(tr("Not placed (no %1 or %2 recorded): %3. Record forgetting with "
                                  "<code>forgetting_reference</code> in the run configuration.")
                                   .arg(lf.forgettingMetric, lf.learningMetric,
                                       userText(missing.join(QStringLiteral(", "))).toHtmlEscaped()));
    else
        m_scatterNote->setText(tr("%1, up is more forgetting; squares are seed groups' means with %2.")
                                   .arg(better, ci ? tr("95% t intervals") : tr("\u00b1 one standard deviation")));
    m_scatter->markDirty();
    m_scatter->replotIfDirty();
}

void ComparePage::updatePareto()
{
    const QString cost = m_costPicker->currentData().toString();
    m_pareto = paretoView(checkedMetrics(), targetMetric(), cost.isEmpty() ? kTimeCost : cost);
    clearPlot(m_paretoPlot, m_paretoLabels);
    QStringList methods;
    for (const PointGroup& g : m_pareto.groups) {
        if (!methods.contains(g.method))
            methods.append(g.method);
    }
    for (const QString& method : methods) {
        QVector<double> xs;
        QVector<double> ys;
        for (const PointGroup& g : m_pareto.groups) {
            if (g.method != method)
                continue;
            xs.append(g.x.mean);
            ys.append(g.y.mean);
            m_paretoLabels.append(addPointLabel(m_paretoPlot, g.x.mean, g.y.mean, g.label));
        }
        const int index = m_paretoPlot->addSeries(userText(method), methodColor(method), false, true);
        m_paretoPlot->series(index)->setData(xs, ys, /*alreadySorted=*/false);
    }
    // The front as a line through its points, by cost.
    std::vector<std::pair<double, double>> front;
    for (std::size_t i = 0; i < m_pareto.groups.size(); ++i) {
        if (m_pareto.onFront[i])
            front.emplace_back(m_pareto.groups[i].x.mean, m_pareto.groups[i].y.mean);
    }
    std::sort(front.begin(), front.end());
    if (!front.empty()) {
        const int index = m_paretoPlot->addSeries(tr("Pareto front"), palette().color(QPalette::Text));
        QCPGraph* graph = m_paretoPlot->series(index);
        graph->setLineStyle(QCPGraph::lsStepLeft);
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, graph->pen().color(), 14));
        QVector<double> xs;
        QVector<double> ys;
        for (const auto& [x, y] : front) {
            xs.append(x);
            ys.append(y);
        }
        graph->setData(xs, ys, /*alreadySorted=*/true);
    }
    m_paretoPlot->setXLabel(m_pareto.cost == kTimeCost ? tr("cost: run time (s)") : tr("cost: %1").arg(m_pareto.cost));
    m_paretoPlot->yAxis->setLabel(tr("task: %1").arg(targetLabel(m_pareto.target)));
    QStringList missing;
    for (const RunMetrics& run : checkedMetrics()) {
        if (m_pareto.missing.contains(run.id))
            missing.append(run.name.isEmpty() ? QStringLiteral("#%1").arg(run.id) : run.name);
    }
    QString note = tr("Each point is a seed group's mean; circled points are on the Pareto front (no other group is "
                      "at least as good on both axes and better on one). %1 is better.")
                       .arg(targetHigherIsBetter(m_pareto.target) ? tr("Up and left") : tr("Down and left"));
    if (!missing.isEmpty())
        note += QLatin1Char(' ')
            + tr("Not placed (missing a value): %1.").arg(userText(missing.join(QStringLiteral(", "))));
    m_paretoNote->setText(note);
    m_paretoPlot->markDirty();
    m_paretoPlot->replotIfDirty();
}

void ComparePage::updateParallel()
{
    const std::vector<RunMetrics> runs = checkedMetrics();
    QStringList metrics { targetMetric() };
    for (const char* name : { "forgetting/delta_loss", "eval_loss", "loss" }) {
        const QString metric = QString::fromLatin1(name);
        const bool any = std::any_of(runs.begin(), runs.end(), [&](const RunMetrics& r) {
            const auto it = r.series.find(name);
            return it != r.series.end() && !it->second.empty();
        });
        if (any && !metrics.contains(metric))
            metrics.append(metric);
    }
    m_parallel = parallelCoordinates(runs, metrics);
    m_parallelPlot->clearSeries();
    for (std::size_t line = 0; line < m_parallel.lines.size(); ++line) {
        QVector<double> xs;
        QVector<double> ys;
        for (std::size_t axis = 0; axis < m_parallel.axes.size(); ++axis) {
            const double y = m_parallel.scaled(line, axis);
            if (std::isnan(y))
                continue; // the line skips an axis the group lacks
            xs.append(static_cast<double>(axis));
            ys.append(y);
        }
        const ParallelLine& l = m_parallel.lines[line];
        // A colour per line: two configurations of one method must stay apart here; the legend names the method.
        const int index = m_parallelPlot->addSeries(
            userText(l.method + QStringLiteral(" \u2014 ") + l.label), seriesColor(static_cast<int>(line)));
        m_parallelPlot->series(index)->setData(xs, ys, /*alreadySorted=*/true);
        m_parallelPlot->series(index)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, 6));
    }
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (std::size_t axis = 0; axis < m_parallel.axes.size(); ++axis) {
        const ParallelAxis& a = m_parallel.axes[axis];
        ticker->addTick(
            static_cast<double>(axis), QStringLiteral("%1\n[%2, %3]").arg(a.name, number(a.min), number(a.max)));
    }
    m_parallelPlot->xAxis->setTicker(ticker);
    m_parallelPlot->setXLabel(QString());
    m_parallelPlot->yAxis->setLabel(tr("each axis scaled to its range [min, max]"));
    m_parallelNote->setText(m_parallel.lines.size() < 2
            ? tr("Check the runs of two or more configurations: the axes are the numeric settings that differ "
                 "between them, then the results (seed groups' means).")
            : tr("A line per seed group: the numeric settings that differ, then the results (means over seeds)."));
    m_parallelPlot->markDirty();
    m_parallelPlot->replotIfDirty();
}

} // namespace tunebench::ui
