// Several workers write one workspace at once (a sweep, runs from the CLI and the GUI's queue)
// while a reader follows it as the GUI does: 4 store_stream_child processes stream metrics and
// events through BatchWriter while this process polls data_version and reads series and
// summaries. No writer or read fails ("database is locked"), no row is lost (each run's
// counts equal what its worker says it sent), and the figures are printed: rows per second,
// worst and p99 commit latency of the writers, worst read. Timings are printed, never asserted.
//
// writersAndAReader runs 8 s of writing; TUNEBENCH_STRESS_SECONDS sets another length (the `slow` label
// runs test_store_concurrency_slow, 120 s).

#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

using namespace tunebench;
using nlohmann::json;

class TestStoreConcurrency : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void writersAndAReader()
    {
        constexpr int kWriters = 4;
        const double seconds = qEnvironmentVariableIsSet("TUNEBENCH_STRESS_SECONDS")
            ? qEnvironmentVariable("TUNEBENCH_STRESS_SECONDS").toDouble()
            : 8.0;
        QTemporaryDir tmp;
        const std::string dir = tmp.path().toStdString();
        Workspace ws = Workspace::create(dir);
        std::vector<std::int64_t> runs;
        for (int i = 0; i < kWriters; ++i)
            runs.push_back(RunStore(ws.db()).create({ .name = "writer " + std::to_string(i) }));

        std::vector<std::unique_ptr<QProcess>> writers;
        for (int i = 0; i < kWriters; ++i) {
            auto p = std::make_unique<QProcess>();
            p->start(STORE_STREAM_CHILD,
                { tmp.path(), QString::number(runs[static_cast<std::size_t>(i)]), QString::number(seconds) });
            QVERIFY(p->waitForStarted());
            writers.push_back(std::move(p));
        }

        // The reader: what the Monitor and Compare pages do, as often as the GUI's poll allows and more.
        std::int64_t reads = 0, readErrors = 0;
        std::vector<std::optional<std::int64_t>> lastStep(runs.size());
        std::vector<std::int64_t> lastEvent(runs.size(), 0);
        double worstReadMs = 0;
        QString firstReadError;
        QElapsedTimer clock;
        clock.start();
        auto running = [&] {
            return std::any_of(
                writers.begin(), writers.end(), [](const auto& p) { return p->state() != QProcess::NotRunning; });
        };
        while (running() && clock.elapsed() < (seconds + 60) * 1000) {
            QElapsedTimer t;
            t.start();
            try {
                // Incremental, as the Monitor page follows a run: the points and events after the last seen.
                ws.db().dataVersion();
                MetricQuery q(ws.db());
                for (std::size_t i = 0; i < runs.size(); ++i) {
                    const auto points = q.series(runs[i], "loss", lastStep[i]);
                    if (!points.empty())
                        lastStep[i] = points.back().step;
                    const auto events = RunStore(ws.db()).events(runs[i], lastEvent[i]);
                    if (!events.empty())
                        lastEvent[i] = events.back().id;
                }
                RunStore(ws.db()).list();
                ++reads;
            } catch (const std::exception& e) {
                if (readErrors++ == 0)
                    firstReadError = QString::fromUtf8(e.what());
            }
            worstReadMs = std::max(worstReadMs, t.nsecsElapsed() / 1e6);
            QTest::qWait(20);
        }
        const double wallSeconds = clock.elapsed() / 1000.0;

        std::int64_t totalRows = 0;
        double worstCommit = 0, worstP99 = 0;
        std::int64_t commits = 0;
        for (int i = 0; i < kWriters; ++i) {
            QProcess& p = *writers[static_cast<std::size_t>(i)];
            QVERIFY(p.state() == QProcess::NotRunning || p.waitForFinished(60000));
            const QString err = QString::fromUtf8(p.readAllStandardError());
            const QString out = QString::fromUtf8(p.readAllStandardOutput()).trimmed();
            QVERIFY2(p.exitStatus() == QProcess::NormalExit && p.exitCode() == 0, qPrintable(out + err));
            QVERIFY2(!(out + err).contains("locked"), qPrintable(out + err));
            const json sent = json::parse(out.toStdString());
            const std::int64_t run = runs[static_cast<std::size_t>(i)];
            // Every row the worker sent is there: none lost, none doubled.
            QCOMPARE(MetricQuery(ws.db()).count(run), sent["metrics"].get<std::int64_t>());
            QCOMPARE(
                static_cast<std::int64_t>(RunStore(ws.db()).events(run).size()), sent["events"].get<std::int64_t>());
            QVERIFY(sent["metrics"].get<std::int64_t>() > 0);
            totalRows += sent["metrics"].get<std::int64_t>() + sent["events"].get<std::int64_t>();
            commits += sent["commits"].get<std::int64_t>();
            worstCommit = std::max(worstCommit, sent["worst_ms"].get<double>());
            worstP99 = std::max(worstP99, sent["p99_ms"].get<double>());
            qInfo("writer %d: %lld metrics, %lld events, %lld commits, worst %.1f ms, p99 %.1f ms", i,
                static_cast<long long>(sent["metrics"].get<std::int64_t>()),
                static_cast<long long>(sent["events"].get<std::int64_t>()),
                static_cast<long long>(sent["commits"].get<std::int64_t>()), sent["worst_ms"].get<double>(),
                sent["p99_ms"].get<double>());
        }
        QVERIFY2(
            readErrors == 0, qPrintable(QString("%1 failed reads, the first: %2").arg(readErrors).arg(firstReadError)));
        Statement check = ws.db().prepare("PRAGMA integrity_check");
        QVERIFY(check.step());
        QCOMPARE(QString::fromStdString(check.text(0)), QStringLiteral("ok"));
        qInfo("%d writers for %.0f s: %lld rows (%.0f rows/s), %lld commits, worst commit %.1f ms, worst p99 %.1f ms; "
              "reader: %lld reads, worst %.1f ms",
            kWriters, wallSeconds, static_cast<long long>(totalRows), totalRows / wallSeconds,
            static_cast<long long>(commits), worstCommit, worstP99, static_cast<long long>(reads), worstReadMs);
    }
};

QTEST_GUILESS_MAIN(TestStoreConcurrency)
#include "test_concurrency.moc"
