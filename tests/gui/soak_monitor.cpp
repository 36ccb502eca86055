// Soak: a real training run with measures (eval, samples, diversity,
// forgetting, checkpoints) started through the main window's run queue, as
// the GUI starts one, with the Monitor page following it live, for
// TUNEBENCH_SOAK_SECONDS (180 by default). Every TUNEBENCH_SOAK_SAMPLE_SECONDS
// (5) the resident memory of the worker and of the GUI process is sampled
// (/proc/PID/status VmRSS); a 10 ms precise timer measures how late the GUI's
// event loop serves it throughout (the method of bench_gui_latency).
//
// Prints lateness median/p95/p99/max and each process's RSS at start, end,
// maximum and growth. Asserts only memory: after the warm-up (the first sixth
// of the time, at least 30 s) neither process may grow by more than
// TUNEBENCH_SOAK_MAX_GROWTH_MB (64 MiB by default); never timing.
//
// 3 minutes: ctest -L slow -R soak_monitor -V. Two hours, by hand:
//   scripts/soak 120        (minutes; builds soak_monitor, runs it offscreen)

#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/main_window.h"
#include "ui/pages/monitor_page.h"
#include "ui/run_queue.h"
#include "ui/workspace_session.h"

#include "run_test_support.h"

#include <QElapsedTimer>
#include <QFile>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

constexpr int kProbeMs = 10;

double envNumber(const char* name, double fallback)
{
    return qEnvironmentVariableIsSet(name) ? qEnvironmentVariable(name).toDouble() : fallback;
}

// Resident set size of a process in MiB; 0 when it is gone.
double rssMiB(qint64 pid)
{
    QFile f(QStringLiteral("/proc/%1/status").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return 0;
    for (const QByteArray& line : f.readAll().split('\n')) {
        if (line.startsWith("VmRSS:"))
            return line.mid(6).trimmed().split(' ').value(0).toDouble() / 1024.0;
    }
    return 0;
}

double percentile(const std::vector<double>& sorted, double q)
{
    if (sorted.empty())
        return 0;
    const auto index = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(index, sorted.size() - 1)];
}

struct Series {
    std::vector<double> mib; // one a sample
    double start() const { return mib.empty() ? 0 : mib.front(); }
    double end() const { return mib.empty() ? 0 : mib.back(); }
    double max() const { return mib.empty() ? 0 : *std::max_element(mib.begin(), mib.end()); }
    // Growth after the warm-up: the highest sample after it minus the sample where it ends.
    double growthAfter(std::size_t warmup) const
    {
        if (mib.size() <= warmup + 1)
            return 0;
        return *std::max_element(mib.begin() + static_cast<std::ptrdiff_t>(warmup), mib.end()) - mib[warmup];
    }
};

} // namespace

class SoakMonitor : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settings.path(), QStringLiteral("TunebenchSoak")); }

    void trainingWithMonitorKeepsMemoryFlat()
    {
        const double seconds = envNumber("TUNEBENCH_SOAK_SECONDS", 180);
        const double every = envNumber("TUNEBENCH_SOAK_SAMPLE_SECONDS", 5);
        const double maxGrowth = envNumber("TUNEBENCH_SOAK_MAX_GROWTH_MB", 64);
        const double warmupSeconds = std::max(30.0, seconds / 6);

        gui_test::RunFixture fixture;
        const std::filesystem::path reference = fixture.root / "reference.jsonl";
        {
            std::ofstream out(reference);
            for (const char* text : { "the quick brown fox jumps over the lazy dog", "a bird sang on the tree",
                     "the sun rose over the hill and the day began" })
                out << nlohmann::json({ { "text", text } }).dump() << "\n";
        }
        nlohmann::json config = fixture.config(100'000'000);
        config["name"] = "soak";
        config["save_steps"] = 500;
        config["save_total_limit"] = 2;
        config["val_size"] = 0.25;
        config["eval_steps"] = 50;
        config["logging_steps"] = 1;
        config["sample_prompts"] = nlohmann::json::array({ "say something" });
        config["sample_steps"] = 100;
        config["samples_per_prompt"] = 2;
        config["sample_max_new_tokens"] = 8;
        config["forgetting_reference"] = reference.string();
        config["forgetting_steps"] = 200;
        config["weight_analysis"] = true;
        config["lr_scheduler_type"] = "constant";
        const std::int64_t runId = fixture.recordRun(config);

        auto window = gui_test::openRunsWindow(fixture);
        QVERIFY(window);
        window->resize(1280, 800);
        window->show();
        QString error;
        QVERIFY2(window->runQueue()->enqueue(runId, false, &error), qPrintable(error));
        QTRY_VERIFY_WITH_TIMEOUT(fixture.run(runId)->status == RunStatus::Running, 60000);
        const qint64 worker = fixture.run(runId)->workerPid.value_or(0);
        QVERIFY(worker > 0);
        window->showPage(MainWindow::MonitorPageIndex);
        window->monitorPage()->showRun(runId);

        // The event-loop probe runs for the whole soak; memory is sampled beside it.
        std::vector<double> late;
        QElapsedTimer clock;
        QTimer probe;
        probe.setTimerType(Qt::PreciseTimer);
        probe.setInterval(kProbeMs);
        qint64 last = -1;
        connect(&probe, &QTimer::timeout, this, [&] {
            const qint64 now = clock.nsecsElapsed();
            if (last >= 0)
                late.push_back(std::max(0.0, static_cast<double>(now - last) / 1e6 - kProbeMs));
            last = now;
        });
        Series workerRss;
        Series guiRss;
        const qint64 self = QCoreApplication::applicationPid();
        QTimer sampler;
        sampler.setInterval(static_cast<int>(every * 1000));
        connect(&sampler, &QTimer::timeout, this, [&] {
            workerRss.mib.push_back(rssMiB(worker));
            guiRss.mib.push_back(rssMiB(self));
        });
        std::printf("soak: %.0f s, run %lld (worker pid %lld), RSS every %.0f s, growth bound %.0f MiB after %.0f s\n",
            seconds, static_cast<long long>(runId), static_cast<long long>(worker), every, maxGrowth, warmupSeconds);
        std::fflush(stdout);
        workerRss.mib.push_back(rssMiB(worker));
        guiRss.mib.push_back(rssMiB(self));
        clock.start();
        probe.start();
        sampler.start();
        QTest::qWait(static_cast<int>(seconds * 1000));
        probe.stop();
        sampler.stop();

        const std::optional<RunRecord> run = fixture.run(runId);
        QVERIFY(run);
        const bool stillRunning = run->status == RunStatus::Running;
        std::int64_t steps = 0;
        {
            Workspace ws = Workspace::open(fixture.workspace);
            for (const MetricPoint& p : MetricQuery(ws.db()).series(runId, "loss"))
                steps = std::max(steps, p.step);
        }
        const int samples
            = window->monitorPage()->findChild<QTableWidget*>(QStringLiteral("monitorSamples"))->rowCount();
        QVERIFY(window->runQueue()->stop(runId, &error));
        QTRY_VERIFY_WITH_TIMEOUT(fixture.run(runId)->status != RunStatus::Running, 60000);

        std::sort(late.begin(), late.end());
        std::printf("soak: %lld steps trained, %d samples shown, the run %s to the end\n",
            static_cast<long long>(steps), samples, stillRunning ? "ran" : "did NOT run");
        std::printf("event loop lateness ms: median %.2f  p95 %.2f  p99 %.2f  max %.2f  (%zu ticks)\n",
            percentile(late, 0.5), percentile(late, 0.95), percentile(late, 0.99), late.empty() ? 0 : late.back(),
            late.size());
        const auto warmup = static_cast<std::size_t>(warmupSeconds / every);
        for (const auto& [label, s] : { std::pair<const char*, const Series&> { "worker", workerRss },
                 std::pair<const char*, const Series&> { "gui", guiRss } }) {
            std::printf("%-6s RSS MiB: start %.1f  end %.1f  max %.1f  growth after warm-up %.1f  (%zu samples)\n",
                label, s.start(), s.end(), s.max(), s.growthAfter(warmup), s.mib.size());
        }
        std::fflush(stdout);

        QVERIFY2(stillRunning, run->error.c_str());
        QVERIFY(steps > 0);
        QVERIFY2(workerRss.growthAfter(warmup) <= maxGrowth, "the worker's memory grew beyond the bound");
        QVERIFY2(guiRss.growthAfter(warmup) <= maxGrowth, "the GUI's memory grew beyond the bound");
    }

private:
    QTemporaryDir m_settings;
};

QTEST_MAIN(SoakMonitor)
#include "soak_monitor.moc"
