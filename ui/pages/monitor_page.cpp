#include "ui/pages/monitor_page.h"

#include "core/store/artifacts.h"
#include "core/store/metrics.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/dialogs/settings_dialog.h"
#include "ui/pages/monitor/completions_panel.h"
#include "ui/resource_monitor.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/resource_panel.h"
#include "ui/widgets/series_plot.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QElapsedTimer>
#include <QFile>
#include <QGridLayout>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QScrollArea>
#include <QSlider>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <exception>

namespace tunebench::ui {

namespace {

const QString kTrainRaw = QStringLiteral("train (raw)");
const QString kTrainSmoothed = QStringLiteral("train");
const QString kEval = QStringLiteral("eval");

// Diversity and forgetting record many numbers; these are the ones drawn.
const QStringList kDiversityShown
    = { QStringLiteral("distinct_1"), QStringLiteral("distinct_2"), QStringLiteral("ead_2"),
          QStringLiteral("self_bleu"), QStringLiteral("embedding_distance"), QStringLiteral("token_entropy") };
const QStringList kForgettingShown
    = { QStringLiteral("delta_loss"), QStringLiteral("kl"), QStringLiteral("probe_accuracy_delta") };

// An online objective's diversity of its completions (plugins/grpo): every metric of these families is drawn, so
// new measures named after them show up without more work.
const QStringList kCompletionDiversityPrefixes = { QStringLiteral("distinct_"), QStringLiteral("self_bleu"),
    QStringLiteral("embedding_diversity"), QStringLiteral("ead_") };

// As plugins/grpo names its metrics.
std::optional<MonitorPage::Route> routeOnlineMetric(const QString& metric)
{
    using Route = MonitorPage::Route;
    if (metric == QLatin1String("reward_mean"))
        return Route { QString::fromLatin1(MonitorPage::kGrpoReward), MonitorPage::tr("total") };
    if (metric.startsWith(QLatin1String("rewards/")) && metric.size() > 8)
        return Route { QString::fromLatin1(MonitorPage::kGrpoReward), metric.mid(8) };
    if (metric == QLatin1String("kl"))
        return Route { QString::fromLatin1(MonitorPage::kGrpoKl), MonitorPage::tr("KL") };
    if (metric == QLatin1String("completion_length"))
        return Route { QString::fromLatin1(MonitorPage::kCompletionLength), MonitorPage::tr("mean") };
    if (metric == QLatin1String("completion_length/min"))
        return Route { QString::fromLatin1(MonitorPage::kCompletionLength), MonitorPage::tr("min") };
    if (metric == QLatin1String("completion_length/max"))
        return Route { QString::fromLatin1(MonitorPage::kCompletionLength), MonitorPage::tr("max") };
    for (const QString& prefix : kCompletionDiversityPrefixes) {
        if (metric.startsWith(prefix))
            return Route { QString::fromLatin1(MonitorPage::kGrpoDiversity), metric };
    }
    return std::nullopt;
}

QString runLabel(const RunRecord& run)
{
    const std::string_view status = toString(run.status);
    return QStringLiteral("#%1 %2 (%3)")
        .arg(run.id)
        .arg(userText(run.name), QString::fromUtf8(status.data(), static_cast<qsizetype>(status.size())));
}

} // namespace

std::optional<MonitorPage::Route> MonitorPage::routeMetric(const QString& metric)
{
    if (metric == QLatin1String("loss"))
        return Route { QString::fromLatin1(kLoss), kTrainRaw };
    if (metric == QLatin1String("eval_loss"))
        return Route { QString::fromLatin1(kLoss), kEval };
    if (metric == QLatin1String("lr"))
        return Route { QString::fromLatin1(kLearningRate), tr("learning rate") };
    if (metric == QLatin1String("grad_norm"))
        return Route { QString::fromLatin1(kGradNorm), tr("gradient norm") };
    if (metric == QLatin1String("tokens_per_s"))
        return Route { QString::fromLatin1(kThroughput), tr("tokens/s") };
    // As core/train/training_run.cpp names them (core/train/throughput.h defines MFU).
    if (metric == QLatin1String("samples_per_s"))
        return Route { QString::fromLatin1(kSamples), tr("samples/s") };
    if (metric == QLatin1String("mfu"))
        return Route { QString::fromLatin1(kMfu), tr("MFU") };
    // As core/method/preference.cpp's rewardMetrics names them.
    if (metric == QLatin1String("rewards_chosen"))
        return Route { QString::fromLatin1(kRewards), tr("chosen") };
    if (metric == QLatin1String("rewards_rejected"))
        return Route { QString::fromLatin1(kRewards), tr("rejected") };
    if (metric == QLatin1String("reward_margin"))
        return Route { QString::fromLatin1(kRewards), tr("margin") };
    if (metric == QLatin1String("reward_accuracy"))
        return Route { QString::fromLatin1(kRewards), tr("accuracy") };
    if (auto online = routeOnlineMetric(metric))
        return online;
    // As core/train/measures.cpp names them.
    if (metric.startsWith(QLatin1String("diversity/"))) {
        const QString name = metric.mid(10);
        if (kDiversityShown.contains(name))
            return Route { QString::fromLatin1(kDiversity), name };
    }
    if (metric.startsWith(QLatin1String("forgetting/"))) {
        const QString name = metric.mid(11);
        if (kForgettingShown.contains(name))
            return Route { QString::fromLatin1(kForgetting), name };
    }
    // As plugins/distill names them: gap = student_loss - teacher_loss, the two cross-entropies on the batch.
    if (metric == QLatin1String("teacher_student_gap"))
        return Route { QString::fromLatin1(kDistill), tr("gap") };
    if (metric == QLatin1String("student_loss"))
        return Route { QString::fromLatin1(kDistill), tr("student CE") };
    if (metric == QLatin1String("teacher_loss"))
        return Route { QString::fromLatin1(kDistill), tr("teacher CE") };
    return std::nullopt;
}

MonitorPage::MonitorPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_runPicker(new QComboBox)
    , m_runInfo(new QLabel)
    , m_smoothing(new QSlider(Qt::Horizontal))
    , m_smoothingLabel(new QLabel)
    , m_samples(new QTableWidget(0, 3))
    , m_completions(new CompletionsPanel)
    , m_resources(new ResourcePanel)
{
    m_runPicker->setObjectName(QStringLiteral("monitorRunPicker"));
    m_runPicker->setMinimumContentsLength(28);
    m_runPicker->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    connect(m_runPicker, &QComboBox::currentIndexChanged, this, [this] {
        const qint64 id = m_runPicker->currentData().value<qint64>();
        if (id != m_runId) {
            m_runId = id;
            loadRun();
        }
    });
    m_smoothing->setObjectName(QStringLiteral("monitorSmoothing"));
    m_smoothing->setRange(0, 99);
    m_smoothing->setValue(60);
    m_smoothing->setMaximumWidth(180);
    m_smoothing->setToolTip(tr("EMA smoothing of the train loss (the raw values stay drawn faintly behind)"));
    connect(m_smoothing, &QSlider::valueChanged, this, [this] {
        m_smoothingLabel->setText(tr("%1").arg(smoothing(), 0, 'f', 2));
        updateSmoothed(true);
    });
    m_smoothingLabel->setText(tr("%1").arg(smoothing(), 0, 'f', 2));
    m_smoothingLabel->setMinimumWidth(m_smoothingLabel->fontMetrics().horizontalAdvance(QStringLiteral("0.00")));

    auto* bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("&Run:")));
    qobject_cast<QLabel*>(bar->itemAt(0)->widget())->setBuddy(m_runPicker);
    bar->addWidget(m_runPicker);
    bar->addWidget(m_runInfo, 1);
    makePlainLabel(m_runInfo); // the run's error quotes names and data
    bar->addWidget(new QLabel(tr("Smoothing:")));
    bar->addWidget(m_smoothing);
    bar->addWidget(m_smoothingLabel);

    auto* plots = new QWidget;
    buildPlots(plots);
    // Scrolled rather than squeezed: the page never forces the window to grow.
    auto* plotScroll = new QScrollArea;
    plotScroll->setWidget(plots);
    plotScroll->setWidgetResizable(true);
    plotScroll->setFrameShape(QFrame::NoFrame);
    auto* resourceScroll = new QScrollArea;
    resourceScroll->setWidget(m_resources);
    resourceScroll->setWidgetResizable(true);
    resourceScroll->setFrameShape(QFrame::NoFrame);
    resourceScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    resourceScroll->setMinimumWidth(m_resources->minimumWidth() + 16);

    m_samples->setObjectName(QStringLiteral("monitorSamples"));
    m_samples->setHorizontalHeaderLabels({ tr("Step"), tr("Prompt"), tr("Completion") });
    m_samples->verticalHeader()->hide();
    m_samples->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_samples->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_samples->setWordWrap(true);
    m_samples->horizontalHeader()->setStretchLastSection(true);
    m_samples->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_samples->setColumnWidth(1, 260);

    auto* vertical = new QSplitter(Qt::Vertical);
    vertical->setObjectName(QStringLiteral("monitorVerticalSplitter"));
    vertical->addWidget(plotScroll);
    auto* samplesPanel = new QWidget;
    auto* samplesLayout = new QVBoxLayout(samplesPanel);
    samplesLayout->setContentsMargins(0, 0, 0, 0);
    samplesLayout->addWidget(new QLabel(tr("<b>Samples over training</b> (fixed prompts and seeds)")));
    samplesLayout->addWidget(m_samples, 1);
    vertical->addWidget(samplesPanel);
    m_completions->setObjectName(QStringLiteral("monitorCompletions"));
    m_completions->hide(); // until the run has sampled completions for training
    vertical->addWidget(m_completions);
    vertical->setStretchFactor(0, 4);
    vertical->setStretchFactor(1, 1);
    vertical->setStretchFactor(2, 2);

    auto* horizontal = new QSplitter(Qt::Horizontal);
    horizontal->setObjectName(QStringLiteral("monitorSplitter"));
    horizontal->addWidget(vertical);
    horizontal->addWidget(resourceScroll);
    horizontal->setStretchFactor(0, 5);
    horizontal->setStretchFactor(1, 1);

    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(horizontal, 1);
    m_pageState = new EmptyState(content);
    m_pageState->setObjectName(QStringLiteral("monitorPageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_pageState);

    m_refresh.setInterval(AppSettings::plotRefreshMs());
    connect(&m_refresh, &QTimer::timeout, this, &MonitorPage::tick);
    m_refresh.start();

    connect(m_session, &WorkspaceSession::workspaceChanged, this, [this] {
        m_runId = 0;
        refreshRuns();
        loadRun();
    });
    connect(m_session, &WorkspaceSession::changed, this, [this] {
        refreshRuns();
        follow();
    });
    refreshRuns();
    loadRun();
}

void MonitorPage::buildPlots(QWidget* container)
{
    auto* outer = new QVBoxLayout(container);
    outer->setContentsMargins(0, 0, 0, 0);
    m_noMetrics = new QLabel(tr("<p><b>This run has recorded no metrics yet.</b></p>"
                                "<p>Its plots appear here as their first points arrive.</p>"));
    m_noMetrics->setObjectName(QStringLiteral("monitorNoMetrics"));
    m_noMetrics->setAlignment(Qt::AlignCenter);
    m_noMetrics->setWordWrap(true);
    outer->addWidget(m_noMetrics, 1);
    m_plotGrid = new QWidget;
    auto* grid = new QGridLayout(m_plotGrid);
    grid->setContentsMargins(0, 0, 0, 0);
    grid->setSpacing(4);
    outer->addWidget(m_plotGrid, 1);
    const struct {
        const char* key;
        QString title;
        bool legend; // the curves are named by the legend, even one
    } plots[] = {
        { kLoss, tr("Loss"), false },
        { kLearningRate, tr("Learning rate"), false },
        { kGradNorm, tr("Gradient norm"), false },
        { kThroughput, tr("Throughput (tokens/s)"), false },
        { kSamples, tr("Throughput (samples/s)"), false },
        { kMfu, tr("Model FLOPs utilisation (share of the device's peak)"), false },
        { kRewards, tr("Preference rewards"), true },
        { kGrpoReward, tr("Reward (total and per function)"), true },
        { kGrpoKl, tr("KL to the reference"), false },
        { kCompletionLength, tr("Completion length (tokens)"), true },
        { kGrpoDiversity, tr("Diversity of the completions"), true },
        { kDiversity, tr("Diversity of samples"), true },
        { kForgetting, tr("Forgetting (reference set)"), true },
        { kRankThroughput, tr("Throughput per rank (tokens/s)"), true },
        { kRankComm, tr("Communication per step (s, per rank)"), true },
        { kDistill, tr("Teacher-student gap (distillation)"), true },
    };
    int index = 0;
    for (const auto& p : plots) {
        const QString key = QString::fromLatin1(p.key);
        auto* plot = new SeriesPlot(p.title);
        plot->setObjectName(QStringLiteral("monitorPlot_%1").arg(key));
        plot->setLegendForOne(p.legend);
        auto* log = new QCheckBox(tr("log scale"));
        log->setObjectName(QStringLiteral("monitorLog_%1").arg(key));
        connect(log, &QCheckBox::toggled, plot, [this, plot](bool on) {
            plot->setLogScale(on);
            plot->replotIfDirty(); // a click answers at once
        });
        auto* cell = new QWidget;
        auto* cellLayout = new QVBoxLayout(cell);
        cellLayout->setContentsMargins(0, 0, 0, 0);
        cellLayout->setSpacing(0);
        cellLayout->addWidget(plot, 1);
        cellLayout->addWidget(log, 0, Qt::AlignRight);
        grid->addWidget(cell, index / 4, index % 4);
        cell->hide(); // until the run has points for it
        m_cells.insert(key, cell);
        m_plots.insert(key, plot);
        m_logToggles.insert(key, log);
        m_plotOrder.append(key);
        ++index;
    }
    SeriesPlot* loss = m_plots.value(QString::fromLatin1(kLoss));
    loss->addSeries(kTrainRaw, seriesColor(0), /*faint=*/true);
    loss->addSeries(kTrainSmoothed, seriesColor(0));
    loss->addSeries(kEval, seriesColor(1));
    loss->series(2)->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    m_plotGrid->hide();
}

QStringList MonitorPage::shownPlotKeys() const
{
    return m_shown;
}

QString MonitorPage::noMetricsText() const
{
    return m_noMetrics->isHidden() ? QString() : m_noMetrics->text();
}

void MonitorPage::updateShownPlots()
{
    QStringList shown;
    for (const QString& key : m_plotOrder) {
        if (m_plots.value(key)->hasData())
            shown.append(key);
    }
    if (shown == m_shown)
        return;
    m_shown = shown;
    auto* grid = static_cast<QGridLayout*>(m_plotGrid->layout());
    for (const QString& key : m_plotOrder)
        grid->removeWidget(m_cells.value(key));
    // Four to a row, as many rows as needed: no gaps where a family is missing.
    const int columns = std::min<int>(4, std::max<int>(1, static_cast<int>(shown.size())));
    for (const QString& key : m_plotOrder) {
        QWidget* cell = m_cells.value(key);
        const auto index = static_cast<int>(shown.indexOf(key));
        cell->setVisible(index >= 0);
        if (index >= 0)
            grid->addWidget(cell, index / columns, index % columns);
    }
    m_plotGrid->setVisible(!shown.isEmpty());
    m_noMetrics->setVisible(shown.isEmpty());
}

int MonitorPage::ensureSeries(const QString& plotKey, const QString& series)
{
    SeriesPlot* plot = m_plots.value(plotKey);
    const int index = plot->seriesIndex(series);
    return index >= 0 ? index : plot->addSeries(series, seriesColor(plot->seriesCount()));
}

void MonitorPage::setSmoothing(double weight)
{
    m_smoothing->setValue(qRound(std::clamp(weight, 0.0, 0.99) * 100));
}

double MonitorPage::smoothing() const
{
    return m_smoothing->value() / 100.0;
}

void MonitorPage::setRefreshInterval(int milliseconds)
{
    m_refresh.setInterval(std::max(16, milliseconds));
}

int MonitorPage::replotCount() const
{
    int n = 0;
    for (SeriesPlot* plot : m_plots)
        n += plot->replotCount();
    return n;
}

void MonitorPage::flushReplots()
{
    for (const QString& key : m_shown)
        m_plots.value(key)->replotIfDirty();
}

void MonitorPage::tick()
{
    // Hidden plots stay dirty and are drawn when the page is shown again.
    if (!isVisible() || m_replotting)
        return;
    // Only the plots on screen (not scrolled out of view); the others wait until they are.
    m_replotQueue.clear();
    for (const QString& key : m_shown) {
        SeriesPlot* plot = m_plots.value(key);
        if (plot->isDirty() && plot->isVisible() && !plot->visibleRegion().isEmpty())
            m_replotQueue.append(key);
    }
    replotNext();
}

void MonitorPage::replotNext()
{
    // One replot per event-loop turn: timers and input are served between two plots' replots.
    while (!m_replotQueue.isEmpty()) {
        if (m_plots.value(m_replotQueue.takeFirst())->replotIfDirty()) {
            m_replotting = !m_replotQueue.isEmpty();
            if (m_replotting)
                QTimer::singleShot(0, this, &MonitorPage::replotNext);
            return;
        }
    }
    m_replotting = false;
}

void MonitorPage::showRun(qint64 runId)
{
    refreshRuns();
    const int index = m_runPicker->findData(QVariant::fromValue<qint64>(runId));
    if (index >= 0)
        m_runPicker->setCurrentIndex(index); // loads the run through currentIndexChanged
    if (index >= 0 && runId != m_runId) {
        m_runId = runId;
        loadRun();
    }
}

void MonitorPage::refreshRuns()
{
    Workspace* ws = m_session->workspace();
    if (!ws) {
        m_pageState->showMessage(EmptyState::noWorkspaceText());
        const QSignalBlocker blocker(m_runPicker);
        m_runPicker->clear();
        return;
    }
    std::vector<RunRecord> runs;
    try {
        runs = RunStore(ws->db()).list();
    } catch (const std::exception& e) {
        m_session->reportError(tr("Cannot read the runs: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    if (runs.empty()) {
        m_pageState->showMessage(tr("<p><b>This workspace has no runs to monitor yet.</b></p>"
                                    "<p>Start one from Run Setup or with <code>tunebench-cli train</code>; "
                                    "its curves appear here while it trains.</p>"));
    } else {
        m_pageState->showContent();
    }
    QStringList labels;
    QList<qint64> ids;
    for (const RunRecord& run : runs) {
        labels.append(runLabel(run));
        ids.append(run.id);
    }
    bool same = m_runPicker->count() == labels.size();
    for (int i = 0; same && i < labels.size(); ++i)
        same = m_runPicker->itemText(i) == labels[i] && m_runPicker->itemData(i).value<qint64>() == ids[i];
    if (!same) {
        const QSignalBlocker blocker(m_runPicker);
        m_runPicker->clear();
        for (int i = 0; i < labels.size(); ++i)
            m_runPicker->addItem(labels[i], QVariant::fromValue<qint64>(ids[i]));
        int index = m_runPicker->findData(QVariant::fromValue<qint64>(m_runId));
        if (index < 0 && !ids.isEmpty()) {
            index = static_cast<int>(ids.size()) - 1; // the newest run by default
        }
        m_runPicker->setCurrentIndex(index);
        const qint64 picked = index >= 0 ? ids[index] : 0;
        if (picked != m_runId) {
            m_runId = picked;
            loadRun();
        }
    }
    updateWorker();
}

void MonitorPage::updateWorker()
{
    Workspace* ws = m_session->workspace();
    qint64 pid = 0;
    QString info;
    if (ws && m_runId > 0) {
        try {
            if (const auto run = RunStore(ws->db()).find(m_runId)) {
                // Only a live worker of this host: a pid of another host's or a gone worker means nothing here.
                if (checkWorker(*run).verdict == WorkerCheck::Verdict::Alive)
                    pid = *run->workerPid;
                info = userText(run->adapter + " \u00b7 " + run->objective);
                if (!run->error.empty())
                    info += tr(" \u00b7 error: %1")
                                .arg(userText(QString::fromStdString(run->error).section(QLatin1Char('\n'), 0, 0)));
            }
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read run %1: %2").arg(m_runId).arg(QString::fromUtf8(e.what())));
        }
    }
    m_runInfo->setText(info);
    if (pid != m_resources->monitor()->pid())
        m_resources->setWorker(pid);
}

void MonitorPage::loadRun()
{
    for (SeriesPlot* plot : m_plots) {
        plot->clearData();
        // Series beyond the fixed loss curves depend on what the run recorded.
        if (plot != m_plots.value(QString::fromLatin1(kLoss)))
            plot->clearSeries();
    }
    m_followed.clear();
    m_rawLoss.clear();
    m_rawLossSteps.clear();
    m_smoothedCount = 0;
    m_lastSampleId = 0;
    m_workerLogOffset = 0;
    m_workerLogPartial.clear();
    m_rankFigures = {};
    m_samples->setRowCount(0);
    m_completions->reset(m_runId);
    m_completions->hide();
    m_replotQueue.clear();
    updateWorker();
    follow();
    updateShownPlots();
    flushReplots(); // the history is drawn at once, not at the next tick
}

void MonitorPage::follow()
{
    Workspace* ws = m_session->workspace();
    if (!ws || m_runId <= 0 || m_following)
        return;
    m_following = true;
    try {
        const MetricQuery query(ws->db());
        for (const std::string& name : query.names(m_runId)) {
            const QString metric = QString::fromStdString(name);
            if (!routeMetric(metric))
                continue;
            Followed& followed = m_followed[metric];
            const std::vector<MetricPoint> points = query.series(m_runId, name, followed.lastStep);
            if (points.empty())
                continue;
            std::vector<double> steps;
            std::vector<double> values;
            steps.reserve(points.size());
            values.reserve(points.size());
            for (const MetricPoint& p : points) {
                steps.push_back(static_cast<double>(p.step));
                values.push_back(p.value);
            }
            followed.lastStep = points.back().step;
            m_pointsReceived += static_cast<qint64>(points.size());
            appendMetric(metric, steps, values);
        }
        followSamples();
        m_completions->follow(*ws);
        m_completions->setVisible(m_completions->hasCompletions());
        followRankFigures();
        updateShownPlots();
    } catch (const std::exception& e) {
        m_session->reportError(
            tr("Cannot read the metrics of run %1: %2").arg(m_runId).arg(QString::fromUtf8(e.what())));
    }
    m_following = false;
}

void MonitorPage::appendMetric(const QString& name, const std::vector<double>& steps, const std::vector<double>& values)
{
    const auto route = routeMetric(name);
    SeriesPlot* plot = m_plots.value(route->plot);
    const int index = ensureSeries(route->plot, route->series);
    plot->appendToSeries(index, steps, values);
    if (name == QLatin1String("loss")) {
        m_rawLossSteps.insert(m_rawLossSteps.end(), steps.begin(), steps.end());
        m_rawLoss.insert(m_rawLoss.end(), values.begin(), values.end());
        updateSmoothed(false);
    }
}

void MonitorPage::updateSmoothed(bool all)
{
    SeriesPlot* plot = m_plots.value(QString::fromLatin1(kLoss));
    const int index = plot->seriesIndex(kTrainSmoothed);
    const double weight = smoothing();
    if (all || m_smoothedCount == 0) {
        const std::vector<double> smoothed = emaSmooth(m_rawLoss, weight);
        plot->setSeriesData(index, QVector<double>(m_rawLossSteps.begin(), m_rawLossSteps.end()),
            QVector<double>(smoothed.begin(), smoothed.end()));
        m_lastEma = smoothed.empty() ? 0 : smoothed.back();
    } else {
        // Only the new points: the EMA continues from the last smoothed value.
        std::vector<double> keys;
        std::vector<double> values;
        keys.reserve(m_rawLoss.size() - m_smoothedCount);
        values.reserve(m_rawLoss.size() - m_smoothedCount);
        for (std::size_t i = m_smoothedCount; i < m_rawLoss.size(); ++i) {
            m_lastEma = emaNext(m_lastEma, m_rawLoss[i], weight);
            keys.push_back(m_rawLossSteps[i]);
            values.push_back(m_lastEma);
        }
        plot->appendToSeries(index, keys, values);
    }
    m_smoothedCount = m_rawLoss.size();
    if (all)
        plot->replotIfDirty(); // the slider answers at once
}

void MonitorPage::followSamples()
{
    Workspace* ws = m_session->workspace();
    const std::vector<SampleRecord> samples = ArtifactStore(ws->db()).samplesAfter(m_runId, m_lastSampleId);
    for (const SampleRecord& s : samples) {
        if (s.id <= m_lastSampleId)
            continue;
        m_lastSampleId = std::max(m_lastSampleId, s.id);
        const int row = m_samples->rowCount();
        m_samples->insertRow(row);
        auto* step = new QTableWidgetItem;
        step->setData(Qt::DisplayRole, QVariant::fromValue<qlonglong>(s.step));
        m_samples->setItem(row, 0, step);
        auto* prompt = new QTableWidgetItem(userText(s.prompt));
        prompt->setToolTip(userToolTip(s.prompt));
        m_samples->setItem(row, 1, prompt);
        auto* text = new QTableWidgetItem(userText(s.text));
        text->setToolTip(userToolTip(s.text));
        m_samples->setItem(row, 2, text);
    }
}

void MonitorPage::readRankFigures(const QByteArray& lines, RankFigures* into)
{
    auto perRank = [](const nlohmann::json& event, const char* key) -> std::optional<std::vector<double>> {
        const auto it = event.find(key);
        if (it == event.end() || !it->is_array() || it->empty())
            return std::nullopt;
        std::vector<double> values;
        for (const nlohmann::json& v : *it) {
            if (!v.is_number())
                return std::nullopt;
            values.push_back(v.get<double>());
        }
        return values;
    };
    for (const QByteArray& line : lines.split('\n')) {
        // Most lines are other events or a plain run's steps: only parse those that can carry the figures.
        if (!line.startsWith('{') || !line.contains("\"rank_"))
            continue;
        const nlohmann::json event = nlohmann::json::parse(line.constBegin(), line.constEnd(), nullptr, false);
        if (!event.is_object() || event.value("event", "") != "step" || !event.contains("step")
            || !event["step"].is_number())
            continue;
        const double step = event["step"].get<double>();
        // A resumed run repeats the steps after its checkpoint: the later values stand.
        if (auto v = perRank(event, "rank_tokens_per_s"))
            into->tokensPerSecond[step] = std::move(*v);
        if (auto v = perRank(event, "rank_comm_seconds"))
            into->commSeconds[step] = std::move(*v);
    }
}

void MonitorPage::followRankFigures()
{
    Workspace* ws = m_session->workspace();
    QFile log(QString::fromStdString((ws->runDir(m_runId) / "worker.log").string()));
    if (!log.open(QIODevice::ReadOnly))
        return; // a run started from a terminal writes its events there, not here
    if (log.size() < m_workerLogOffset) {
        // Rewritten from the start: read it again.
        m_workerLogOffset = 0;
        m_workerLogPartial.clear();
        m_rankFigures = {};
    }
    if (log.size() == m_workerLogOffset || !log.seek(m_workerLogOffset))
        return;
    QByteArray text = m_workerLogPartial + log.readAll();
    m_workerLogOffset = log.pos();
    const qsizetype lastNewline = text.lastIndexOf('\n');
    m_workerLogPartial = text.mid(lastNewline + 1);
    text.truncate(lastNewline + 1);
    if (!text.contains("\"rank_"))
        return; // nothing new for these plots (a plain run never has anything)
    readRankFigures(text, &m_rankFigures);
    const struct {
        const char* plot;
        const std::map<double, std::vector<double>>* figures;
    } plots[] = { { kRankThroughput, &m_rankFigures.tokensPerSecond }, { kRankComm, &m_rankFigures.commSeconds } };
    for (const auto& p : plots) {
        const QString key = QString::fromLatin1(p.plot);
        std::size_t ranks = 0;
        for (const auto& [step, values] : *p.figures)
            ranks = std::max(ranks, values.size());
        SeriesPlot* plot = m_plots.value(key);
        for (std::size_t r = 0; r < ranks; ++r) {
            QVector<double> steps;
            QVector<double> values;
            for (const auto& [step, perRank] : *p.figures) {
                if (r < perRank.size()) {
                    steps.append(step);
                    values.append(perRank[r]);
                }
            }
            plot->setSeriesData(ensureSeries(key, tr("rank %1").arg(r)), steps, values);
        }
    }
}

} // namespace tunebench::ui
