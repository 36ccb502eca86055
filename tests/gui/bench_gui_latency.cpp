// GUI responsiveness while a fast run streams metrics. Prints figures; asserts
// only that every point reached the plots.
//
// A writer thread with its own connection (what a run's worker is to the GUI)
// commits a step's metrics 200 times a second (loss, lr, grad_norm, tokens_per_s,
// the four preference rewards, eval loss, diversity and forgetting now and
// then, a sample every 100 steps) for TUNEBENCH_BENCH_SECONDS (20 by default),
// while the Monitor page shows the run, polled every 100 ms. A 10 ms precise
// timer measures how late the event loop serves it (median, p95, p99, max)
// first on an idle page, then during the stream; the page's replots per
// second are counted.
//
// Run: ctest -L bench -R bench_gui_latency -V, or build/tests/bench_gui_latency.

#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/pages/monitor_page.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include <QElapsedTimer>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <QThread>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>

#include <stdlib.h>
#include <time.h>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

constexpr int kProbeMs = 10;
constexpr int kStepsPerSecond = 200;

struct Latency {
    double median = 0;
    double p95 = 0;
    double p99 = 0;
    double max = 0;
    std::size_t ticks = 0;
};

// CPU time of the calling thread (ms): what a replot costs, however many processes share the cores.
double threadCpuMs()
{
    timespec t {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double percentile(std::vector<double> sorted, double q)
{
    if (sorted.empty())
        return 0;
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(index, sorted.size() - 1)];
}

// Serves a 10 ms timer for `seconds` while the event loop runs; lateness is how
// much later than 10 ms after the previous tick each tick came.
Latency probe(double seconds)
{
    std::vector<double> late;
    QElapsedTimer clock;
    QTimer timer;
    timer.setTimerType(Qt::PreciseTimer);
    timer.setInterval(kProbeMs);
    qint64 last = -1;
    QObject::connect(&timer, &QTimer::timeout, [&] {
        const qint64 now = clock.nsecsElapsed();
        if (last >= 0)
            late.push_back(std::max(0.0, static_cast<double>(now - last) / 1e6 - kProbeMs));
        last = now;
    });
    clock.start();
    timer.start();
    QTest::qWait(static_cast<int>(seconds * 1000));
    timer.stop();
    std::sort(late.begin(), late.end());
    Latency out;
    out.ticks = late.size();
    out.median = percentile(late, 0.5);
    out.p95 = percentile(late, 0.95);
    out.p99 = percentile(late, 0.99);
    out.max = late.empty() ? 0 : late.back();
    return out;
}

// The 1-minute load average: on shared cores it explains a large part of the lateness, so it is printed beside it.
double loadAverage()
{
    double load[1] = { 0 };
    return getloadavg(load, 1) == 1 ? load[0] : -1;
}

void print(const char* label, const Latency& l)
{
    std::printf("%-22s timer lateness ms: median %.2f  p95 %.2f  p99 %.2f  max %.2f  (%zu ticks; load %.2f on %d "
                "cores)\n",
        label, l.median, l.p95, l.p99, l.max, l.ticks, loadAverage(), QThread::idealThreadCount());
}

} // namespace

class BenchGuiLatency : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void monitorWhileStreaming()
    {
        const double seconds = qEnvironmentVariableIsSet("TUNEBENCH_BENCH_SECONDS")
            ? qEnvironmentVariable("TUNEBENCH_BENCH_SECONDS").toDouble()
            : 20.0;
        QTemporaryDir dir;
        const std::filesystem::path root(dir.path().toStdString());
        std::int64_t runId = 0;
        {
            Workspace ws = Workspace::create(root);
            RunStore runs(ws.db());
            runId = runs.create({ .name = "fast-run", .adapter = "lora", .objective = "dpo" });
            runs.setStatus(runId, RunStatus::Running, {}, QCoreApplication::applicationPid());
        }
        WorkspaceSession session;
        session.setPollInterval(100);
        QVERIFY(session.open(dir.path()));
        // Time the page spends reading the store per poll: one handler before the page's, one after.
        QElapsedTimer followClock;
        double followMs = 0;
        double followMaxMs = 0;
        int follows = 0;
        connect(&session, &WorkspaceSession::changed, this, [&] { followClock.start(); });
        MonitorPage page(&session);
        connect(&session, &WorkspaceSession::changed, this, [&] {
            const double ms = static_cast<double>(followClock.nsecsElapsed()) / 1e6;
            followMs += ms;
            followMaxMs = std::max(followMaxMs, ms);
            ++follows;
        });
        // And per replot.
        QElapsedTimer replotClock;
        double replotMs = 0;
        double replotMaxMs = 0;
        double replotCpuStart = 0;
        std::vector<double> replotCpu;
        for (const QString& key : page.plotKeys()) {
            SeriesPlot* plot = page.plot(key);
            connect(plot, &QCustomPlot::beforeReplot, this, [&] {
                replotClock.start();
                replotCpuStart = threadCpuMs();
            });
            connect(plot, &QCustomPlot::afterReplot, this, [&] {
                const double ms = static_cast<double>(replotClock.nsecsElapsed()) / 1e6;
                replotMs += ms;
                replotMaxMs = std::max(replotMaxMs, ms);
                replotCpu.push_back(threadCpuMs() - replotCpuStart);
            });
        }
        page.resize(1280, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.showRun(runId);
        std::printf("plot refresh interval %d ms, store poll %d ms, %d steps/s for %.0f s\n", page.refreshInterval(),
            session.pollInterval(), kStepsPerSecond, seconds);

        print("idle page", probe(2.0));
        followMs = followMaxMs = replotMs = replotMaxMs = 0;
        follows = 0;
        replotCpu.clear();

        std::atomic<bool> stop { false };
        std::atomic<std::int64_t> drawnRows { 0 }; // rows of metrics the Monitor draws
        std::atomic<std::int64_t> rows { 0 };
        std::atomic<std::int64_t> commits { 0 };
        std::thread writer([&] {
            Workspace ws = Workspace::open(root);
            BatchWriter batch(ws.db(), { .maxRows = 4096, .maxDelay = std::chrono::milliseconds(50) });
            const auto start = std::chrono::steady_clock::now();
            std::int64_t step = 0;
            while (!stop.load()) {
                ++step;
                const double s = static_cast<double>(step);
                batch.addMetric(runId, step, "loss", 2.0 * std::exp(-s / 2000.0) + 0.1 * std::sin(s));
                batch.addMetric(runId, step, "lr", 1e-4);
                batch.addMetric(runId, step, "grad_norm", 1.0 + 0.1 * std::cos(s));
                batch.addMetric(runId, step, "tokens_per_s", 5000.0 + 100.0 * std::sin(s / 10.0));
                batch.addMetric(runId, step, "rewards_chosen", 0.001 * s);
                batch.addMetric(runId, step, "rewards_rejected", -0.001 * s);
                batch.addMetric(runId, step, "reward_margin", 0.002 * s);
                batch.addMetric(runId, step, "reward_accuracy", 0.5 + 0.4 * std::tanh(s / 500.0));
                std::int64_t drawn = 8;
                if (step % 50 == 0) {
                    batch.addMetric(runId, step, "eval_loss", 2.0 * std::exp(-s / 2000.0));
                    batch.addMetric(runId, step, "diversity/distinct_1", 0.6);
                    batch.addMetric(runId, step, "diversity/self_bleu", 0.3);
                    batch.addMetric(runId, step, "forgetting/delta_loss", s * 1e-5);
                    batch.addMetric(runId, step, "forgetting/kl", s * 2e-5);
                    batch.addMetric(runId, step, "measure_time_share", 0.05); // stored, not drawn
                    drawn += 5;
                }
                if (step % 100 == 0)
                    batch.addSample(
                        runId, step, 0, 0, "Describe the sea.", "The sea at step " + std::to_string(step), 1);
                drawnRows += drawn;
                // Pace the stream at kStepsPerSecond.
                const auto due = start + std::chrono::microseconds(step * 1000000 / kStepsPerSecond);
                std::this_thread::sleep_until(due);
            }
            batch.flush();
            commits = static_cast<std::int64_t>(batch.batchesCommitted());
            rows = static_cast<std::int64_t>(batch.rowsCommitted());
        });
        const int replotsBefore = page.replotCount();
        QElapsedTimer wall;
        wall.start();
        const Latency streaming = probe(seconds);
        stop = true;
        writer.join();
        const double elapsed = static_cast<double>(wall.elapsed()) / 1000.0;
        const int replots = page.replotCount() - replotsBefore;
        print("while streaming", streaming);
        std::printf("stream: %lld rows in %lld commits (%.0f rows/s); Monitor drew %d replots (%.1f per second "
                    "over %d plots)\n",
            static_cast<long long>(rows.load()), static_cast<long long>(commits.load()),
            static_cast<double>(rows.load()) / elapsed, replots, replots / elapsed, int(page.plotKeys().size()));

        std::printf("store reads: %d polls that saw commits, %.2f ms each on average, max %.1f ms; replots: %.2f ms "
                    "each on average, max %.1f ms\n",
            follows, follows ? followMs / follows : 0.0, followMaxMs, replots ? replotMs / replots : 0.0, replotMaxMs);
        std::sort(replotCpu.begin(), replotCpu.end());
        std::printf(
            "replot CPU time (this thread, not inflated by other processes) ms: median %.2f  p95 %.2f  max %.2f\n",
            percentile(replotCpu, 0.5), percentile(replotCpu, 0.95), replotCpu.empty() ? 0.0 : replotCpu.back());

        // Every point drawn reached the plots once the last commit was polled.
        QTRY_COMPARE_WITH_TIMEOUT(page.pointsReceived(), qint64(drawnRows.load()), 10000);
        SeriesPlot* loss = page.plot(QString::fromLatin1(MonitorPage::kLoss));
        std::printf("loss plot holds %d points (%d drawn); samples table %d rows\n", loss->pointCount(0),
            loss->drawnPointCount(0), page.findChild<QTableWidget*>(QStringLiteral("monitorSamples"))->rowCount());
        QVERIFY(replots > 0);
    }
};

QTEST_MAIN(BenchGuiLatency)
#include "bench_gui_latency.moc"
