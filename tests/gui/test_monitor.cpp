// The Monitor page over a real workspace: history and live points from
// another connection, coalesced replots, EMA smoothing, log scale, hover
// read-out, samples; and the /proc reader behind the resources panel,
// checked against this test process itself.

#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/pages/monitor_page.h"
#include "ui/resource_monitor.h"
#include "ui/widgets/resource_panel.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QSettings>
#include <QStandardPaths>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>
#include <ctime>

#include <unistd.h>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

std::filesystem::path fsPath(const QString& path)
{
    return std::filesystem::path(path.toStdString());
}

SeriesPlot* plotOf(MonitorPage& page, const char* key)
{
    return page.plot(QString::fromLatin1(key));
}

// The plots of metrics in the store (the per-rank ones read a distributed run's worker log: test_processes), but
// an online objective's (test_grpo_gui) and distillation's (test_pipeline_gui_run).
QStringList storePlotKeys(const MonitorPage& page)
{
    QStringList keys = page.plotKeys();
    for (const char* online :
        { MonitorPage::kGrpoReward, MonitorPage::kGrpoKl, MonitorPage::kCompletionLength, MonitorPage::kGrpoDiversity,
            MonitorPage::kDistill })
        keys.removeAll(QString::fromLatin1(online));
    keys.removeAll(QString::fromLatin1(MonitorPage::kRankThroughput));
    keys.removeAll(QString::fromLatin1(MonitorPage::kRankComm));
    return keys;
}

int countOf(SeriesPlot* plot, const QString& series)
{
    return plot->pointCount(plot->seriesIndex(series));
}

// A workspace with one running run (this process stands in for its worker).
struct Fixture {
    QTemporaryDir dir;
    std::int64_t run = 0;

    Fixture()
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        RunStore runs(ws.db());
        NewRun r;
        r.name = "dpo-live";
        r.adapter = "lora";
        r.objective = "dpo";
        run = runs.create(r);
        runs.setStatus(run, RunStatus::Running, {}, QCoreApplication::applicationPid());
    }
    QString path() const { return dir.path(); }
};

} // namespace

class TestMonitor : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void emaSmoothing();
    void routesMetricNamesOfCore();
    void followsRunAndCoalescesReplots();
    void historyAndSmoothingSlider();
    void logScaleToggle();
    void hoverReadout();
    void decimationKeepsSpikes();
    void plotDrawsDecimatedKeepsFullResolution();
    void plotsShownPerRunType_data();
    void plotsShownPerRunType();
    void liveRunShowsPlotsAsPointsArrive();
    void procReaderOnThisProcess();
    void procParsers();
    void resourcePanelShowsWorker();

private:
    QTemporaryDir m_settingsDir;
};

void TestMonitor::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("TunebenchTest"));
    QCoreApplication::setApplicationName(QStringLiteral("TestMonitor"));
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QVERIFY(QSettings().fileName().startsWith(m_settingsDir.path()));
}

void TestMonitor::emaSmoothing()
{
    const std::vector<double> v = { 1.0, 2.0, 3.0, 0.0 };
    const std::vector<double> s = emaSmooth(v, 0.5);
    QCOMPARE(s.size(), v.size());
    QCOMPARE(s[0], 1.0); // the first value is not pulled towards zero
    QCOMPARE(s[1], 1.5);
    QCOMPARE(s[2], 2.25);
    QCOMPARE(s[3], 1.125);
    QCOMPARE(emaSmooth(v, 0.0), v);
    // Continuing one value at a time gives the same as smoothing the whole.
    QCOMPARE(emaNext(s[2], v[3], 0.5), s[3]);
    QVERIFY(emaSmooth({}, 0.9).empty());
    // Weights past the end are clamped: 1.0 would freeze the curve at its first value forever.
    const std::vector<double> clamped = emaSmooth({ 0.0, 1000.0 }, 5.0);
    QVERIFY(std::abs(clamped[1] - 1.0) < 1e-9);
}

void TestMonitor::routesMetricNamesOfCore()
{
    // The names the trainer, the preference objectives and the measures write.
    const struct {
        const char* metric;
        const char* plot;
    } cases[] = {
        { "loss", MonitorPage::kLoss },
        { "eval_loss", MonitorPage::kLoss },
        { "lr", MonitorPage::kLearningRate },
        { "grad_norm", MonitorPage::kGradNorm },
        { "tokens_per_s", MonitorPage::kThroughput },
        { "samples_per_s", MonitorPage::kSamples },
        { "mfu", MonitorPage::kMfu },
        { "rewards_chosen", MonitorPage::kRewards },
        { "rewards_rejected", MonitorPage::kRewards },
        { "reward_margin", MonitorPage::kRewards },
        { "reward_accuracy", MonitorPage::kRewards },
        { "diversity/distinct_2", MonitorPage::kDiversity },
        { "diversity/self_bleu", MonitorPage::kDiversity },
        { "forgetting/delta_loss", MonitorPage::kForgetting },
        { "forgetting/kl", MonitorPage::kForgetting },
        // plugins/grpo's, and the diversity measures named after a family drawn whole.
        { "reward_mean", MonitorPage::kGrpoReward },
        { "rewards/numeric", MonitorPage::kGrpoReward },
        { "kl", MonitorPage::kGrpoKl },
        { "completion_length", MonitorPage::kCompletionLength },
        { "completion_length/max", MonitorPage::kCompletionLength },
        { "distinct_2", MonitorPage::kGrpoDiversity },
        { "self_bleu", MonitorPage::kGrpoDiversity },
        { "embedding_diversity", MonitorPage::kGrpoDiversity },
    };
    for (const auto& c : cases) {
        const auto route = MonitorPage::routeMetric(QString::fromLatin1(c.metric));
        QVERIFY2(route, c.metric);
        QCOMPARE(route->plot, QString::fromLatin1(c.plot));
    }
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("measure_time_share")));
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("diversity/per_input_distinct_1")));
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("rewards/")));
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("frac_reward_zero_std")));
}

void TestMonitor::followsRunAndCoalescesReplots()
{
    Fixture fx;
    WorkspaceSession session;
    session.setPollInterval(10);
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.setRefreshInterval(200);
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.showRun(fx.run);
    QCOMPARE(page.currentRun(), fx.run);
    QCOMPARE(page.runPicker()->currentData().value<qint64>(), fx.run);
    const int replotsBefore = page.replotCount();
    QElapsedTimer streaming;
    streaming.start();

    // Another connection is what the worker process is to the GUI.
    Workspace worker = Workspace::open(fsPath(fx.path()));
    BatchWriter writer(worker.db());
    int inserts = 0;
    constexpr int kSteps = 60;
    for (int step = 1; step <= kSteps; ++step) {
        writer.addMetric(fx.run, step, "loss", 3.0 * std::exp(-0.03 * step) + 0.05 * (step % 3));
        writer.addMetric(fx.run, step, "lr", 1e-4);
        writer.addMetric(fx.run, step, "grad_norm", 1.0 + 0.01 * step);
        writer.addMetric(fx.run, step, "tokens_per_s", 900.0 + step);
        writer.addMetric(fx.run, step, "mfu", 0.01 * step);
        writer.addMetric(fx.run, step, "samples_per_s", 8.0 + step);
        writer.addMetric(fx.run, step, "rewards_chosen", 0.01 * step);
        writer.addMetric(fx.run, step, "rewards_rejected", -0.01 * step);
        writer.addMetric(fx.run, step, "reward_accuracy", step > 10 ? 1.0 : 0.5);
        if (step % 20 == 0) {
            writer.addMetric(fx.run, step, "eval_loss", 2.5 - 0.01 * step);
            writer.addMetric(fx.run, step, "diversity/distinct_1", 0.5);
            writer.addMetric(fx.run, step, "forgetting/delta_loss", 0.001 * step);
            writer.addSample(fx.run, step, 0, 0, "Say hi", "hi number " + std::to_string(step), 7);
        }
        // One commit per step, each seen by the session's poll: a fast run's stream.
        inserts += static_cast<int>(writer.flush());
        QTest::qWait(3);
    }
    QTRY_COMPARE(countOf(plotOf(page, MonitorPage::kLoss), QStringLiteral("train (raw)")), kSteps);
    SeriesPlot* loss = plotOf(page, MonitorPage::kLoss);
    QCOMPARE(countOf(loss, QStringLiteral("train")), kSteps); // the EMA curve over the raw one
    QCOMPARE(countOf(loss, QStringLiteral("eval")), 3);
    QCOMPARE(plotOf(page, MonitorPage::kLearningRate)->pointCount(0), kSteps);
    QCOMPARE(plotOf(page, MonitorPage::kGradNorm)->pointCount(0), kSteps);
    QCOMPARE(plotOf(page, MonitorPage::kThroughput)->pointCount(0), kSteps);
    QCOMPARE(plotOf(page, MonitorPage::kMfu)->pointCount(0), kSteps);
    SeriesPlot* rewards = plotOf(page, MonitorPage::kRewards);
    QCOMPARE(rewards->seriesCount(), 3);
    QCOMPARE(countOf(rewards, QStringLiteral("chosen")), kSteps);
    QCOMPARE(countOf(rewards, QStringLiteral("accuracy")), kSteps);
    QCOMPARE(countOf(plotOf(page, MonitorPage::kDiversity), QStringLiteral("distinct_1")), 3);
    QCOMPARE(countOf(plotOf(page, MonitorPage::kForgetting), QStringLiteral("delta_loss")), 3);
    QCOMPARE(page.pointsReceived(), qint64(kSteps * 9 + 3 * 3));
    // The smoothed curve equals the EMA of the raw values, though it was built point by point.
    {
        const std::vector<double>& raw = loss->seriesValues(0);
        const std::vector<double> expected = emaSmooth(raw, page.smoothing());
        const std::vector<double>& smoothed = loss->seriesValues(loss->seriesIndex(QStringLiteral("train")));
        QCOMPARE(smoothed.size(), expected.size());
        for (std::size_t i = 0; i < expected.size(); ++i)
            QVERIFY(std::abs(smoothed[i] - expected[i]) < 1e-12);
    }
    // Samples appear in the table as they are stored.
    QTRY_COMPARE(page.samplesTable()->rowCount(), 3);
    QCOMPARE(page.samplesTable()->item(2, 0)->data(Qt::DisplayRole).toLongLong(), 60LL);
    QCOMPARE(page.samplesTable()->item(2, 1)->text(), QStringLiteral("Say hi"));
    QCOMPARE(page.samplesTable()->item(2, 2)->text(), QStringLiteral("hi number 60"));

    // Coalesced: far fewer replots than rows inserted, yet the last state is drawn.
    QTest::qWait(300);
    const int replots = page.replotCount() - replotsBefore;
    qInfo("%d rows in %d commits to %d plots drew %d replots", inserts, kSteps, int(page.plotKeys().size()), replots);
    QVERIFY(replots > 0);
    // At most one replot per plot and refresh tick (200 ms), plus the one that drew the history.
    const int ticks = static_cast<int>(streaming.elapsed() / 200) + 2;
    QVERIFY2(replots <= ticks * int(page.plotKeys().size()), qPrintable(QString::number(replots)));
    QVERIFY2(replots < inserts, qPrintable(QStringLiteral("%1 replots for %2 inserts").arg(replots).arg(inserts)));
    // Every plot on screen ends up drawn (one per event-loop turn, so a slow machine may need a few ticks).
    QCOMPARE(page.shownPlotKeys(), storePlotKeys(page)); // this run has every family
    for (const QString& key : page.shownPlotKeys())
        QTRY_VERIFY2(!page.plot(key)->isDirty(), qPrintable(key));

    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    const QString file = folder + QStringLiteral("monitor.png");
    QFile::remove(file);
    QVERIFY(page.grab().save(file));
    QVERIFY(QFileInfo(file).size() > 1000);
}

void TestMonitor::historyAndSmoothingSlider()
{
    Fixture fx;
    {
        Workspace ws = Workspace::open(fsPath(fx.path()));
        BatchWriter writer(ws.db());
        for (int step = 1; step <= 10; ++step)
            writer.addMetric(fx.run, step, "loss", step % 2 == 0 ? 2.0 : 0.0);
        writer.flush();
    }
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.showRun(fx.run);
    SeriesPlot* loss = plotOf(page, MonitorPage::kLoss);
    QCOMPARE(countOf(loss, QStringLiteral("train (raw)")), 10); // the history, read when the run is shown
    const int smoothed = loss->seriesIndex(QStringLiteral("train"));

    page.setSmoothing(0.0);
    QCOMPARE(loss->seriesValues(smoothed).at(9), 2.0); // no smoothing: the raw values
    page.setSmoothing(0.5);
    const std::vector<double> expected = emaSmooth({ 0, 2, 0, 2, 0, 2, 0, 2, 0, 2 }, 0.5);
    QCOMPARE(loss->seriesValues(smoothed), expected);
    // The raw curve stays behind, faint.
    QVERIFY(loss->series(0)->pen().color().alpha() < 255);
    QCOMPARE(loss->series(smoothed)->pen().color().alpha(), 255);

    // A run with nothing recorded clears the plots.
    Workspace ws = Workspace::open(fsPath(fx.path()));
    NewRun other;
    other.name = "empty";
    const std::int64_t empty = RunStore(ws.db()).create(other);
    session.notifyChanged();
    page.showRun(empty);
    QCOMPARE(page.currentRun(), empty);
    QCOMPARE(countOf(loss, QStringLiteral("train (raw)")), 0);
}

void TestMonitor::logScaleToggle()
{
    Fixture fx;
    {
        // A point in every family, so every plot (and its toggle) is shown.
        Workspace ws = Workspace::open(fsPath(fx.path()));
        BatchWriter writer(ws.db());
        for (const char* name : { "loss", "lr", "grad_norm", "tokens_per_s", "samples_per_s", "mfu", "reward_margin",
                 "diversity/distinct_1", "forgetting/kl" })
            writer.addMetric(fx.run, 1, name, 0.5);
        writer.flush();
    }
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.showRun(fx.run);
    QCOMPARE(page.shownPlotKeys(), storePlotKeys(page));
    for (const QString& key : page.shownPlotKeys()) {
        QCheckBox* toggle = page.logScaleToggle(key);
        QVERIFY(toggle);
        SeriesPlot* plot = page.plot(key);
        QVERIFY(plot->yAxis->scaleType() == QCPAxis::stLinear);
        QTest::mouseClick(toggle, Qt::LeftButton, {}, QPoint(6, toggle->height() / 2));
        QVERIFY2(toggle->isChecked(), qPrintable(key));
        QVERIFY(plot->logScale());
        QVERIFY(plot->yAxis->scaleType() == QCPAxis::stLogarithmic);
        QVERIFY(plot->yAxis->range().lower > 0);
        toggle->setChecked(false);
        QVERIFY(plot->yAxis->scaleType() == QCPAxis::stLinear);
    }
}

void TestMonitor::hoverReadout()
{
    SeriesPlot plot(QStringLiteral("Loss"));
    plot.resize(500, 300);
    const int a = plot.addSeries(QStringLiteral("train"), seriesColor(0));
    const int b = plot.addSeries(QStringLiteral("eval"), seriesColor(1));
    plot.setSeriesData(a, { 1, 2, 3, 4 }, { 4.0, 3.0, 2.5, 2.25 });
    plot.setSeriesData(b, { 2, 4 }, { 3.5, 2.75 });
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    QVERIFY(plot.replotIfDirty());
    plot.replot();
    const QPointF at(plot.xAxis->coordToPixel(2.05), plot.yAxis->coordToPixel(3.0));
    const QString text = plot.readoutAt(at);
    QVERIFY2(text.contains(QStringLiteral("train: 3")), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("eval: 3.5")), qPrintable(text));
    QVERIFY2(text.startsWith(QStringLiteral("step 2")), qPrintable(text));
    // Moving the mouse there shows it in the plot.
    QTest::mouseMove(&plot, at.toPoint());
    QTRY_VERIFY(plot.readoutText().contains(QStringLiteral("train: 3")));
    // Outside the axis rect there is nothing to read.
    QVERIFY(plot.readoutAt(QPointF(1, 1)).isEmpty());
}

void TestMonitor::decimationKeepsSpikes()
{
    // 100000 points of a gentle curve with one spike up and one down, each a single point.
    constexpr int kPoints = 100000;
    std::vector<double> keys(kPoints);
    std::vector<double> values(kPoints);
    for (int i = 0; i < kPoints; ++i) {
        keys[static_cast<std::size_t>(i)] = i + 1;
        values[static_cast<std::size_t>(i)] = 1.0 + 0.001 * std::sin(i / 500.0);
    }
    values[31415] = 50.0;
    values[77777] = -20.0;
    values[5000] = std::nan("");
    QVector<double> outKeys;
    QVector<double> outValues;
    for (const int columns : { 1, 7, 300, 1920 }) {
        decimateMinMax(keys, values, 1, kPoints, columns, false, &outKeys, &outValues);
        QVERIFY2(outKeys.size() <= 2 * columns, qPrintable(QString::number(outKeys.size())));
        QCOMPARE(outKeys.size(), outValues.size());
        QVERIFY(std::is_sorted(outKeys.begin(), outKeys.end()));
        QVERIFY(outValues.contains(50.0));
        QVERIFY(outValues.contains(-20.0));
        QVERIFY(outKeys.contains(31416.0)); // at the spike's own key
        for (const double v : outValues)
            QVERIFY(!std::isnan(v));
    }
    // Few points are drawn as they are.
    decimateMinMax({ 1, 2, 3 }, { 5, 6, 4 }, 1, 3, 300, false, &outKeys, &outValues);
    QCOMPARE(outKeys, QVector<double>({ 1, 2, 3 }));
    QCOMPARE(outValues, QVector<double>({ 5, 6, 4 }));
    // A zoomed range: one point on each side beyond it, where the line leaves the plot.
    decimateMinMax(keys, values, 1000, 1999, 100, false, &outKeys, &outValues);
    QVERIFY(outKeys.size() <= 2 * 100 + 2);
    QCOMPARE(outKeys.first(), 999.0);
    QCOMPARE(outKeys.last(), 2000.0);
    // On a log axis only positive values can be drawn.
    decimateMinMax(keys, values, 1, kPoints, 300, true, &outKeys, &outValues);
    QVERIFY(!outValues.contains(-20.0));
    QVERIFY(outValues.contains(50.0));
}

void TestMonitor::plotDrawsDecimatedKeepsFullResolution()
{
    SeriesPlot plot(QStringLiteral("Loss"));
    plot.resize(500, 300);
    const int a = plot.addSeries(QStringLiteral("train"), seriesColor(0));
    plot.show();
    QVERIFY(QTest::qWaitForWindowExposed(&plot));
    // Appended in chunks, as a live run's points arrive.
    constexpr int kPoints = 50000;
    for (int start = 0; start < kPoints; start += 1000) {
        std::vector<double> keys;
        std::vector<double> values;
        for (int i = start; i < start + 1000; ++i) {
            keys.push_back(i + 1);
            values.push_back(i == 12345 ? 9.0 : 1.0 + 0.0001 * (i % 7));
        }
        plot.appendToSeries(a, keys, values);
    }
    QVERIFY(plot.replotIfDirty());
    QCOMPARE(plot.pointCount(a), kPoints);
    QCOMPARE(plot.seriesValues(a).size(), std::size_t(kPoints));
    const int width = plot.axisRect()->width();
    QVERIFY2(plot.drawnPointCount(a) <= 2 * width + 2,
        qPrintable(QStringLiteral("%1 drawn over %2 px").arg(plot.drawnPointCount(a)).arg(width)));
    QVERIFY(plot.drawnPointCount(a) > 0);
    // The spike is drawn, and the y axis (from the full data) reaches it.
    bool spikeDrawn = false;
    for (auto it = plot.series(a)->data()->constBegin(); it != plot.series(a)->data()->constEnd(); ++it)
        spikeDrawn = spikeDrawn || it->value == 9.0;
    QVERIFY(spikeDrawn);
    QVERIFY(plot.yAxis->range().upper >= 9.0);
    // Hover reads the full-resolution value of a point that is not drawn: step 20001 holds 1 + 0.0001 * (20000 % 7).
    const QPointF at(plot.xAxis->coordToPixel(20001), plot.yAxis->coordToPixel(1.0));
    const QString text = plot.readoutAt(at);
    const double x = plot.xAxis->pixelToCoord(at.x());
    // The nearest step to the cursor, and its own value.
    const auto step = static_cast<int>(std::lround(x));
    const double expected = step == 12346 ? 9.0 : 1.0 + 0.0001 * ((step - 1) % 7);
    QVERIFY2(text.startsWith(QStringLiteral("step %1").arg(step)), qPrintable(text));
    QVERIFY2(text.contains(QStringLiteral("train: %1").arg(QString::number(expected, 'g', 5))), qPrintable(text));
    // Zooming in redraws that range from the full data: every point of it is drawn.
    plot.xAxis->setRange(20000.5, 20100.5);
    QCOMPARE(plot.drawnPointCount(a), 100 + 2);
}

void TestMonitor::plotsShownPerRunType_data()
{
    QTest::addColumn<QString>("objective");
    QTest::addColumn<QStringList>("metrics");
    QTest::addColumn<QStringList>("shown");
    const QStringList training = { "loss", "lr", "grad_norm", "tokens_per_s" };
    QTest::newRow("sft: no preference plot")
        << "sft" << training + QStringList { "eval_loss" } << QStringList { "loss", "lr", "grad_norm", "tokens_per_s" };
    QTest::newRow("dpo: rewards") << "dpo" << training + QStringList { "reward_margin", "reward_accuracy" }
                                  << QStringList { "loss", "lr", "grad_norm", "tokens_per_s", "rewards" };
    QTest::newRow("measures") << "sft"
                              << QStringList { "loss", "diversity/distinct_1", "forgetting/kl", "measure_time_share" }
                              << QStringList { "loss", "diversity", "forgetting" };
    // A merged run trains nothing: it records no training metrics, so no empty loss plots.
    QTest::newRow("merged: nothing drawn") << "merge" << QStringList {} << QStringList {};
    QTest::newRow("only undrawn metrics") << "merge" << QStringList { "measure_time_share" } << QStringList {};
}

void TestMonitor::plotsShownPerRunType()
{
    QFETCH(QString, objective);
    QFETCH(QStringList, metrics);
    QFETCH(QStringList, shown);
    QTemporaryDir dir;
    std::int64_t run = 0;
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        NewRun r;
        r.name = "typed";
        r.objective = objective.toStdString();
        run = RunStore(ws.db()).create(r);
        RunStore(ws.db()).setStatus(run, RunStatus::Finished);
        BatchWriter writer(ws.db());
        for (int step = 1; step <= 5; ++step) {
            for (const QString& m : metrics)
                writer.addMetric(run, step, m.toStdString(), 0.1 * step);
        }
        writer.flush();
    }
    WorkspaceSession session;
    QVERIFY(session.open(dir.path()));
    MonitorPage page(&session);
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.showRun(run);
    QCOMPARE(page.shownPlotKeys(), shown);
    for (const QString& key : page.plotKeys()) {
        QCOMPARE(page.plot(key)->isVisible(), shown.contains(key));
        QCOMPARE(page.plot(key)->hasData(), shown.contains(key));
    }
    if (shown.isEmpty())
        QVERIFY2(page.noMetricsText().contains(QStringLiteral("no metrics yet")), qPrintable(page.noMetricsText()));
    else
        QVERIFY(page.noMetricsText().isEmpty());
}

void TestMonitor::liveRunShowsPlotsAsPointsArrive()
{
    Fixture fx;
    WorkspaceSession session;
    session.setPollInterval(10);
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.resize(1200, 800);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    page.showRun(fx.run);
    QVERIFY(page.shownPlotKeys().isEmpty());
    QVERIFY(!page.noMetricsText().isEmpty());

    Workspace worker = Workspace::open(fsPath(fx.path()));
    BatchWriter writer(worker.db());
    writer.addMetric(fx.run, 1, "loss", 2.0);
    writer.flush();
    QTRY_COMPARE(page.shownPlotKeys(), QStringList { QStringLiteral("loss") });
    QVERIFY(page.noMetricsText().isEmpty());
    QVERIFY(plotOf(page, MonitorPage::kLoss)->isVisible());
    QTRY_VERIFY(!plotOf(page, MonitorPage::kLoss)->isDirty()); // drawn by the refresh timer
    writer.addMetric(fx.run, 2, "reward_margin", 0.3);
    writer.flush();
    QTRY_COMPARE(page.shownPlotKeys(), (QStringList { QStringLiteral("loss"), QStringLiteral("rewards") }));
    QVERIFY(plotOf(page, MonitorPage::kRewards)->isVisible());
    QVERIFY(!plotOf(page, MonitorPage::kLearningRate)->isVisible());
}

void TestMonitor::procReaderOnThisProcess()
{
    const qint64 pid = QCoreApplication::applicationPid();
    QString error;
    const auto first = readProcessSample(pid, &error);
    QVERIFY2(first, qPrintable(error));
    QVERIFY(QCoreApplication::applicationFilePath().endsWith(first->name));
    // The RSS agrees with what the kernel reports in statm (pages), within what allocating between reads moves.
    QFile statm(QStringLiteral("/proc/self/statm"));
    QVERIFY(statm.open(QIODevice::ReadOnly));
    const QList<QByteArray> pages = statm.readAll().simplified().split(' ');
    const double statmRss = pages.value(1).toDouble() * static_cast<double>(sysconf(_SC_PAGESIZE));
    QVERIFY(first->rssBytes > 1024 * 1024);
    QVERIFY2(std::abs(static_cast<double>(first->rssBytes) - statmRss) < 0.2 * statmRss,
        qPrintable(QStringLiteral("%1 vs %2").arg(first->rssBytes).arg(statmRss)));

    // Burn CPU until this process has used 300 ms of it (however loaded the machine, and so however long
    // that takes): the ticks grow and the monitor's CPU % agrees with the process's own clock().
    ResourceMonitor monitor;
    monitor.setPid(pid);
    QElapsedTimer wall;
    wall.start();
    const std::clock_t cpuStart = std::clock();
    monitor.sample();
    volatile double sink = 0;
    while (std::clock() - cpuStart < CLOCKS_PER_SEC * 3 / 10 && wall.elapsed() < 20000)
        sink = sink + std::sqrt(static_cast<double>(wall.nsecsElapsed()));
    monitor.sample();
    const double cpuSeconds = static_cast<double>(std::clock() - cpuStart) / CLOCKS_PER_SEC;
    const double wallSeconds = static_cast<double>(wall.elapsed()) / 1000.0;
    const double expected = 100.0 * cpuSeconds / wallSeconds;
    const auto second = readProcessSample(pid);
    QVERIFY(second);
    QVERIFY(second->cpuTicks > first->cpuTicks);
    QVERIFY(monitor.processAlive());
    // Ticks are 10 ms: allow two of them over the interval, and a quarter for what happens around the samples.
    const double tolerance = 100.0 * 0.02 / wallSeconds + 0.25 * expected;
    QVERIFY2(std::abs(monitor.cpuPercent() - expected) <= tolerance,
        qPrintable(QStringLiteral("monitor %1 %, clock() %2 %").arg(monitor.cpuPercent()).arg(expected)));
    QVERIFY(monitor.rssBytes() > 0);
    QVERIFY(monitor.systemMemory());
    QVERIFY(monitor.systemMemory()->totalBytes >= monitor.systemMemory()->availableBytes);

    // A process that is not there is reported, naming the file.
    QVERIFY(!readProcessSample(999999999, &error));
    QVERIFY2(error.contains(QStringLiteral("/proc/999999999/stat")), qPrintable(error));
}

void TestMonitor::procParsers()
{
    // The command name may hold spaces and parentheses.
    const QByteArray stat = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194304 120 0 0 0 250 31 0 0 20 0 3 0 100 "
                            "1000000 400 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
    QCOMPARE(parseStatCpuTicks(stat).value_or(0), std::uint64_t(281));
    QVERIFY(!parseStatCpuTicks("garbage"));
    QVERIFY(!parseStatCpuTicks("12 (x) S 1"));
    QCOMPARE(
        parseStatusRss("Name:\tx\nVmPeak:\t  9000 kB\nVmRSS:\t  2048 kB\n").value_or(0), std::uint64_t(2048 * 1024));
    QVERIFY(!parseStatusRss("Name:\tzombie\nState:\tZ (zombie)\n"));
    const auto mem = parseMeminfo("MemTotal:       16000 kB\nMemFree:  100 kB\nMemAvailable:    8000 kB\n");
    QVERIFY(mem);
    QCOMPARE(mem->totalBytes, std::uint64_t(16000 * 1024));
    QCOMPARE(mem->availableBytes, std::uint64_t(8000 * 1024));
    QVERIFY(!parseMeminfo("MemTotal: 1 kB\n"));
    const QList<GpuSample> gpus = parseNvidiaSmi("NVIDIA H100 80GB HBM3, 37, 1024, 81559\nbroken line\n"
                                                 "NVIDIA A10, 0, 5, 23028\n");
    QCOMPARE(gpus.size(), 2);
    QCOMPARE(gpus[0].name, QStringLiteral("NVIDIA H100 80GB HBM3"));
    QCOMPARE(gpus[0].utilisationPercent, 37.0);
    QCOMPARE(gpus[0].memoryUsedMiB, 1024.0);
    QCOMPARE(gpus[1].memoryTotalMiB, 23028.0);
    QVERIFY(parseNvidiaSmi("").isEmpty());
}

void TestMonitor::resourcePanelShowsWorker()
{
    Fixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.showRun(fx.run); // running, with this process as its worker
    ResourcePanel* panel = page.resourcePanel();
    QCOMPARE(panel->monitor()->pid(), QCoreApplication::applicationPid());
    panel->monitor()->setInterval(50);
    panel->monitor()->start();
    QTRY_VERIFY(panel->sparklinePoints() >= 2);
    QVERIFY2(panel->cpuText().contains(QLatin1Char('%')), qPrintable(panel->cpuText()));
    QVERIFY2(panel->rssText().contains(QStringLiteral("MiB")) || panel->rssText().contains(QStringLiteral("GiB")),
        qPrintable(panel->rssText()));
    // Without nvidia-smi the panel says there is no GPU; with it, it names the device or why not.
    if (QStandardPaths::findExecutable(QStringLiteral("nvidia-smi")).isEmpty())
        QVERIFY2(panel->gpuText().contains(QStringLiteral("no GPU")), qPrintable(panel->gpuText()));
    else
        QTRY_VERIFY(!panel->gpuText().contains(QStringLiteral("querying")));

    // The run finishes: no worker to watch.
    Workspace ws = Workspace::open(fsPath(fx.path()));
    RunStore(ws.db()).setStatus(fx.run, RunStatus::Finished);
    session.notifyChanged();
    QCOMPARE(panel->monitor()->pid(), qint64(0));
    QVERIFY(panel->cpuText().contains(QStringLiteral("\u2014")));
}

QTEST_MAIN(TestMonitor)
#include "test_monitor.moc"
