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
        { "rewards_chosen", MonitorPage::kRewards },
        { "rewards_rejected", MonitorPage::kRewards },
        { "reward_margin", MonitorPage::kRewards },
        { "reward_accuracy", MonitorPage::kRewards },
        { "diversity/distinct_2", MonitorPage::kDiversity },
        { "diversity/self_bleu", MonitorPage::kDiversity },
        { "forgetting/delta_loss", MonitorPage::kForgetting },
        { "forgetting/kl", MonitorPage::kForgetting },
    };
    for (const auto& c : cases) {
        const auto route = MonitorPage::routeMetric(QString::fromLatin1(c.metric));
        QVERIFY2(route, c.metric);
        QCOMPARE(route->plot, QString::fromLatin1(c.plot));
    }
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("measure_time_share")));
    QVERIFY(!MonitorPage::routeMetric(QStringLiteral("diversity/per_input_distinct_1")));
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
    SeriesPlot* rewards = plotOf(page, MonitorPage::kRewards);
    QCOMPARE(rewards->seriesCount(), 3);
    QCOMPARE(countOf(rewards, QStringLiteral("chosen")), kSteps);
    QCOMPARE(countOf(rewards, QStringLiteral("accuracy")), kSteps);
    QCOMPARE(countOf(plotOf(page, MonitorPage::kDiversity), QStringLiteral("distinct_1")), 3);
    QCOMPARE(countOf(plotOf(page, MonitorPage::kForgetting), QStringLiteral("delta_loss")), 3);
    QCOMPARE(page.pointsReceived(), qint64(kSteps * 7 + 3 * 3));
    // The smoothed curve equals the EMA of the raw values, though it was built point by point.
    {
        std::vector<double> raw;
        for (auto it = loss->series(0)->data()->constBegin(); it != loss->series(0)->data()->constEnd(); ++it)
            raw.push_back(it->value);
        const std::vector<double> expected = emaSmooth(raw, page.smoothing());
        const auto smoothed = loss->series(loss->seriesIndex(QStringLiteral("train")))->data();
        for (int i = 0; i < kSteps; ++i)
            QVERIFY(std::abs(smoothed->at(i)->value - expected[static_cast<std::size_t>(i)]) < 1e-12);
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
    // Every plot ends up drawn (a slow machine may need a few ticks: each takes a 30 ms budget at most).
    for (const QString& key : page.plotKeys())
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
    QCOMPARE(loss->series(smoothed)->data()->at(9)->value, 2.0); // no smoothing: the raw values
    page.setSmoothing(0.5);
    const std::vector<double> expected = emaSmooth({ 0, 2, 0, 2, 0, 2, 0, 2, 0, 2 }, 0.5);
    for (int i = 0; i < 10; ++i)
        QCOMPARE(loss->series(smoothed)->data()->at(i)->value, expected[static_cast<std::size_t>(i)]);
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
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    MonitorPage page(&session);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    for (const QString& key : page.plotKeys()) {
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
