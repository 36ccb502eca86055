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

QString meanStdText(const MeanStd& m)
{
    return m.n > 1 ? QStringLiteral("%1 \u00b1 %2").arg(number(m.mean), number(m.std)) : number(m.mean);
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
    , m_scatter(new SeriesPlot(tr("Learning versus forgetting (one point per run)")))
    , m_scatterNote(new QLabel)
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
    m_summaryTable->setHorizontalHeaderLabels({ tr("Runs (same config but seed)"), tr("Metric"), tr("Seeds"),
        tr("Final (mean \u00b1 std)"), tr("Best (mean \u00b1 std)"), tr("Best is") });
    m_summaryTable->verticalHeader()->hide();
    m_summaryTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_summaryTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_summaryTable->horizontalHeader()->setStretchLastSection(true);
    auto* summaryPanel = new QWidget;
    auto* summaryLayout = new QVBoxLayout(summaryPanel);
    auto* summaryHelp = new QLabel(tr("Runs whose configurations differ only in a <i>seed</i> form one group; the "
                                      "spread is the sample standard deviation over the group's runs."));
    summaryHelp->setWordWrap(true);
    summaryLayout->addWidget(summaryHelp);
    summaryLayout->addWidget(m_summaryTable, 1);

    // Learning versus forgetting.
    m_scatter->setObjectName(QStringLiteral("compareScatter"));
    m_scatter->addSeries(tr("runs"), seriesColor(0), /*faint=*/false, /*scatter=*/true);
    m_scatterNote->setObjectName(QStringLiteral("compareScatterNote"));
    m_scatterNote->setWordWrap(true);
    auto* scatterPanel = new QWidget;
    auto* scatterLayout = new QVBoxLayout(scatterPanel);
    scatterLayout->addWidget(m_scatter, 1);
    scatterLayout->addWidget(m_scatterNote);

    m_tabs->setObjectName(QStringLiteral("compareTabs"));
    m_tabs->addTab(curves, tr("Curves"));
    m_tabs->addTab(diffPanel, tr("Configuration"));
    m_tabs->addTab(summaryPanel, tr("Summary"));
    m_tabs->addTab(scatterPanel, tr("Learning vs forgetting"));
    connect(m_tabs, &QTabWidget::currentChanged, this, [this] {
        m_overlay->replotIfDirty();
        m_scatter->replotIfDirty();
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
                    run.configJson, run.startedAt });
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
    updateScatter();
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
                    kept.startedAt = entry.startedAt;
                    next.insert(entry.id, std::move(kept));
                    continue;
                }
                changed = true;
                RunMetrics run;
                run.id = entry.id;
                run.label = entry.label;
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
    // The metrics the Monitor draws (but the learning rate, a setting more than a result), and the picked one.
    std::set<std::string> names;
    for (const RunMetrics& run : runs) {
        for (const auto& [name, points] : run.series) {
            const QString metric = QString::fromStdString(name);
            if (metric != QLatin1String("lr") && MonitorPage::routeMetric(metric))
                names.insert(name);
        }
    }
    if (!m_metricPicker->currentText().isEmpty())
        names.insert(m_metricPicker->currentText().toStdString());
    QStringList metrics;
    for (const std::string& name : names)
        metrics.append(QString::fromStdString(name));
    m_summaryRows = summarizeBySeed(runs, metrics);
    m_summaryTable->setRowCount(static_cast<int>(m_summaryRows.size()));
    int row = 0;
    for (const SummaryRow& r : m_summaryRows) {
        const QStringList cells = { r.group, r.metric, QString::number(r.finalValue.n), meanStdText(r.finalValue),
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

void ComparePage::updateScatter()
{
    const LearningForgetting lf = learningVersusForgetting(checkedMetrics());
    for (QCPItemText* label : std::as_const(m_scatterLabels))
        m_scatter->removeItem(label);
    m_scatterLabels.clear();
    QVector<double> xs;
    QVector<double> ys;
    for (const LearningForgettingPoint& p : lf.points) {
        xs.append(p.learning);
        ys.append(p.forgetting);
    }
    m_scatter->series(0)->setData(xs, ys, /*alreadySorted=*/false);
    for (const LearningForgettingPoint& p : lf.points) {
        auto* label = new QCPItemText(m_scatter);
        label->position->setCoords(p.learning, p.forgetting);
        label->setPositionAlignment(Qt::AlignLeft | Qt::AlignBottom);
        label->setText(QStringLiteral(" #%1").arg(p.runId));
        label->setColor(m_scatter->palette().color(QPalette::Text));
        label->setClipToAxisRect(true);
        m_scatterLabels.append(label);
    }
    m_scatter->setXLabel(lf.learningMetric == QLatin1String("eval_loss")
            ? tr("learning: eval loss drop (first \u2212 final eval_loss)")
            : tr("learning: train loss drop (first \u2212 final loss)"));
    m_scatter->yAxis->setLabel(tr("forgetting: final \u0394 loss on the reference set (tuned \u2212 base)"));
    QStringList missing;
    for (const qint64 id : lf.missing)
        missing.append(QStringLiteral("#%1").arg(id));
    if (m_checked.isEmpty())
        m_scatterNote->setText(tr("Check runs to place them: right is more learning, up is more forgetting."));
    else if (!missing.isEmpty())
        m_scatterNote->setText(tr("Not placed (no %1 or %2 recorded): %3. Record forgetting with "
                                  "<code>forgetting_reference</code> in the run configuration.")
                                   .arg(lf.forgettingMetric, lf.learningMetric, missing.join(QStringLiteral(", "))));
    else
        m_scatterNote->setText(tr("Right is more learning, up is more forgetting."));
    m_scatter->markDirty();
    m_scatter->replotIfDirty();
}

} // namespace tunebench::ui
