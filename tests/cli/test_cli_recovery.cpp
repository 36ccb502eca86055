// Recovery without the GUI: a `tunebench-cli train` worker killed with SIGKILL is
// recognised as gone by the command line, `train --resume` continues it from its
// newest checkpoint with the uninterrupted run's step losses, bit for bit; `runs stop`
// stops a live worker with a checkpoint; `runs recover` marks gone workers' runs
// failed; a run of another host is never judged; a pid taken over by another process
// is not mistaken for the worker; every command group's --help lists its commands.

#include "core/store/metrics.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>

#include <signal.h>
#include <unistd.h>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 24;

// Step losses by step number from a worker's JSON event lines; a later line for the same step (a
// resumed run repeating steps after its checkpoint) must agree with the earlier one.
bool collectLosses(const QString& out, std::map<int, double>& losses, QString* why)
{
    for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
        const json e = json::parse(line.toStdString(), nullptr, false);
        if (!e.is_object() || e.value("event", "") != "step")
            continue;
        const int step = e["step"].get<int>();
        const double loss = e["loss"].get<double>();
        if (auto it = losses.find(step); it != losses.end() && it->second != loss) {
            *why = QString("step %1 gave %2, then %3").arg(step).arg(it->second, 0, 'g', 17).arg(loss, 0, 'g', 17);
            return false;
        }
        losses[step] = loss;
    }
    return true;
}

// A `tunebench-cli train` worker whose stdout is read as it goes.
struct Worker {
    QProcess process;
    QString out;

    void start(const QStringList& args)
    {
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("TUNEBENCH_WORKSPACE");
        process.setProcessEnvironment(env);
        process.start(TUNEBENCH_CLI, args);
    }
    // Reads until an event line matching `event` (and, when given, at least `step`) has come.
    bool waitFor(const std::string& event, int step = 0)
    {
        QElapsedTimer timer;
        timer.start();
        while (timer.elapsed() < 120000) {
            process.waitForReadyRead(100);
            out += QString::fromUtf8(process.readAllStandardOutput());
            for (const QString& line : out.split('\n', Qt::SkipEmptyParts)) {
                const json e = json::parse(line.toStdString(), nullptr, false);
                if (e.is_object() && e.value("event", "") == event && e.value("step", 0) >= step)
                    return true;
            }
            if (process.state() == QProcess::NotRunning)
                return false;
        }
        return false;
    }
    void finish()
    {
        process.waitForFinished(120000);
        out += QString::fromUtf8(process.readAllStandardOutput());
    }
};

std::optional<RunRecord> findRun(const QString& ws, std::int64_t id)
{
    Workspace w = Workspace::open(ws.toStdString());
    return RunStore(w.db()).find(id);
}

QString statusOf(const QString& ws, std::int64_t id)
{
    const auto run = findRun(ws, id);
    return run ? QString::fromUtf8(toString(run->status).data()) : QStringLiteral("(no run)");
}

// Writes a worker identity into the store as a worker of another machine, or a gone one, would have left it.
void setWorker(const QString& ws, std::int64_t id, std::int64_t pid, const std::string& host, const std::string& boot,
    std::optional<std::int64_t> start)
{
    Workspace w = Workspace::open(ws.toStdString());
    Statement st = w.db().prepare("UPDATE runs SET status = 'running', worker_pid = ?, worker_host = ?, "
                                  "worker_boot_id = ?, worker_start = ? WHERE id = ?");
    st.bind(1, pid).bind(2, host).bind(3, boot).bind(4, start).bind(5, id);
    st.run();
}

QString integrity(const QString& ws)
{
    Workspace w = Workspace::open(ws.toStdString());
    Statement st = w.db().prepare("PRAGMA integrity_check");
    QString result;
    while (st.step())
        result += QString::fromStdString(st.text(0));
    return result;
}

} // namespace

class TestCliRecovery : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_config;
    QString m_longConfig; // the same with 100000 steps, for a worker that must still run when it is stopped
    std::map<int, double> m_straight; // the uninterrupted run's losses

    QString newWorkspace(const QString& name)
    {
        const QString ws = m_dir.path() + "/" + name;
        const CliResult r = runCli({ "workspace", "init", ws });
        if (r.code != 0)
            qWarning("%s", qPrintable(r.err));
        return ws;
    }

    std::int64_t recordRun(const QString& ws, const QString& config = {})
    {
        const CliResult r
            = runCli({ "runs", "create", "--workspace", ws, "--config", config.isEmpty() ? m_config : config });
        return r.code == 0 ? r.out.trimmed().toLongLong() : 0;
    }

private Q_SLOTS:
    void initTestCase()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        {
            std::ofstream out(root / "data.jsonl");
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        }
        // Flat, as Run Setup records it, so `runs create` takes it as it is.
        m_config = m_dir.path() + "/run.json";
        const json config = { { "name", "recovery" }, { "model", (root / "model").string() },
            { "dataset", (root / "data.jsonl").string() }, { "objective", "sft" }, { "adapter", "lora" }, { "r", 4 },
            { "lora_alpha", 8 }, { "lora_dropout", 0.1 }, { "target_modules", { "q_proj", "v_proj" } },
            { "learning_rate", 1e-2 }, { "max_steps", kSteps }, { "per_device_train_batch_size", 4 },
            { "lr_scheduler_type", "cosine" }, { "warmup_steps", 2 }, { "seed", 42 }, { "cutoff_len", 64 },
            { "save_steps", 4 }, { "threads", 1 } };
        const std::string yaml = config.dump(2);
        QVERIFY(writeTextFile(m_config, QByteArray::fromStdString(yaml)));
        json longer = config;
        longer["max_steps"] = 100000;
        m_longConfig = m_dir.path() + "/long.json";
        QVERIFY(writeTextFile(m_longConfig, QByteArray::fromStdString(longer.dump(2))));

        const QString ws = newWorkspace("straight");
        const CliResult r = runCli({ "train", m_config, "--workspace", ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QString why;
        QVERIFY2(collectLosses(r.out, m_straight, &why), qPrintable(why));
        QCOMPARE(m_straight.size(), std::size_t(kSteps));
    }

    // Killed twice (after its first checkpoint, then again in the resumed run), resumed from the
    // command line each time: every step's loss equals the uninterrupted run's.
    void killedWorkerResumesFromTheCli()
    {
        const QString ws = newWorkspace("killed");
        const std::int64_t id = recordRun(ws);
        QVERIFY(id > 0);
        std::map<int, double> losses;
        QString why;
        const int killAfter[] = { 6, 15 };
        for (int round = 0; round < 2; ++round) {
            Worker w;
            w.start({ "train", round == 0 ? "--run" : "--resume", QString::number(id), "--workspace", ws });
            QVERIFY2(w.waitFor("step", killAfter[round]), qPrintable(w.out + w.process.readAllStandardError()));
            QCOMPARE(::kill(static_cast<pid_t>(w.process.processId()), SIGKILL), 0);
            w.finish();
            QVERIFY2(collectLosses(w.out, losses, &why), qPrintable(why));
            QCOMPARE(statusOf(ws, id), QStringLiteral("running")); // left behind by the killed worker
            QCOMPARE(integrity(ws), QStringLiteral("ok"));
            qInfo("kill %d: after step %d", round + 1, losses.rbegin()->first);
        }
        // The worker is gone: resumed, not refused as "already running".
        const CliResult r = runCli({ "train", "--resume", QString::number(id), "--workspace", ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY2(r.err.contains("is no longer running"), qPrintable(r.err));
        QVERIFY2(collectLosses(r.out, losses, &why), qPrintable(why));
        QCOMPARE(losses.size(), m_straight.size());
        for (const auto& [step, loss] : m_straight)
            QVERIFY2(losses[step] == loss,
                qPrintable(QString("step %1: resumed %2, uninterrupted %3")
                               .arg(step)
                               .arg(losses[step], 0, 'g', 17)
                               .arg(loss, 0, 'g', 17)));
        QCOMPARE(statusOf(ws, id), QStringLiteral("finished"));
        QCOMPARE(integrity(ws), QStringLiteral("ok"));
        // The store tells the story: the gone worker (failed, stale) and the resumption.
        Workspace w = Workspace::open(ws.toStdString());
        int stale = 0, resumed = 0;
        for (const EventRecord& e : RunStore(w.db()).events(id)) {
            stale += e.kind == "failed" && json::parse(e.payloadJson).value("stale", false);
            resumed += e.kind == "resumed";
        }
        QCOMPARE(stale, 2);
        QCOMPARE(resumed, 2);
        // The stored losses are the uninterrupted run's, one row per step: every step a checkpoint covers was
        // committed before it, and what a killed attempt committed past its checkpoint is discarded on resume
        // (test_batch_writer), so no step is missing or stored twice.
        const std::vector<MetricPoint> stored = MetricQuery(w.db()).series(id, "loss");
        QString storedSteps;
        for (const MetricPoint& p : stored)
            storedSteps += QString::number(p.step) + " ";
        QVERIFY2(stored.size() == m_straight.size(), qPrintable("stored steps: " + storedSteps));
        for (const MetricPoint& p : stored)
            QVERIFY2(m_straight.count(int(p.step)) && m_straight.at(int(p.step)) == p.value,
                qPrintable(QString("stored loss of step %1: %2").arg(p.step).arg(p.value, 0, 'g', 17)));
        Statement dup = w.db().prepare(
            "SELECT COUNT(*) FROM (SELECT 1 FROM metrics WHERE run_id = ? GROUP BY step, name HAVING COUNT(*) > 1)");
        dup.bind(1, id);
        QVERIFY(dup.step());
        QCOMPARE(dup.int64(0), std::int64_t(0));
    }

    // `runs stop` sends SIGTERM: the worker checkpoints and ends cancelled, and `train --resume`
    // continues from that checkpoint (stopped the same way again).
    void stopCheckpointsAndResumes()
    {
        const QString ws = newWorkspace("stopped");
        const std::int64_t id = recordRun(ws, m_longConfig);
        const QString idText = QString::number(id);
        int stoppedAt = 0;
        for (int round = 0; round < 2; ++round) {
            Worker w;
            w.start({ "train", round == 0 ? "--run" : "--resume", idText, "--workspace", ws });
            QVERIFY(w.waitFor("step", stoppedAt + 2));
            const CliResult stop = runCli({ "runs", "stop", idText, "--workspace", ws, "--wait" });
            QVERIFY2(stop.code == 0, qPrintable(stop.err));
            QVERIFY2(stop.out.contains("Sent SIGTERM") && stop.out.contains("is cancelled"), qPrintable(stop.out));
            w.finish();
            QCOMPARE(w.process.exitCode(), 3);
            QVERIFY(w.out.contains("\"status\":\"cancelled\""));
            QCOMPARE(statusOf(ws, id), QStringLiteral("cancelled"));
            std::map<int, double> losses;
            QString why;
            QVERIFY2(collectLosses(w.out, losses, &why), qPrintable(why));
            QVERIFY(!losses.empty());
            if (round == 1)
                QCOMPARE(losses.begin()->first, stoppedAt + 1); // continued after the checkpoint, not from the start
            stoppedAt = losses.rbegin()->first;
            const fs::path checkpoint = fs::path(ws.toStdString()) / "runs" / idText.toStdString() / "checkpoints"
                / ("step-" + std::to_string(stoppedAt));
            QVERIFY2(fs::exists(checkpoint / "trainer_state.json"), checkpoint.c_str());
        }
        const CliResult again = runCli({ "runs", "stop", idText, "--workspace", ws });
        QCOMPARE(again.code, 1);
        QVERIFY2(again.err.contains("is not running (it is cancelled)"), qPrintable(again.err));
    }

    // A run another machine works on (a workspace on a shared file system) is left alone and named.
    void otherHostsRunsAreNeverJudged()
    {
        const QString ws = newWorkspace("shared");
        const std::int64_t id = recordRun(ws);
        setWorker(ws, id, 999999, "gpu-node-7", "0e1b1c7e-0000-4000-8000-000000000000", 12345);
        const QString idText = QString::number(id);

        const CliResult train = runCli({ "train", "--resume", idText, "--workspace", ws });
        QCOMPARE(train.code, 1);
        QVERIFY2(train.err.contains("running on another host (worker pid 999999 on host gpu-node-7)"),
            qPrintable(train.err));
        const CliResult stop = runCli({ "runs", "stop", idText, "--workspace", ws });
        QCOMPARE(stop.code, 1);
        QVERIFY2(stop.err.contains("pid 999999 on host gpu-node-7"), qPrintable(stop.err));
        const CliResult recover = runCli({ "runs", "recover", "--workspace", ws, "--json" });
        QCOMPARE(recover.code, 0);
        const json report = json::parse(recover.out.toStdString());
        QVERIFY(report["recovered"].empty());
        QCOMPARE(report["other_hosts"].size(), std::size_t(1));
        QCOMPARE(report["other_hosts"][0]["host"].get<std::string>(), std::string("gpu-node-7"));
        QCOMPARE(statusOf(ws, id), QStringLiteral("running"));
    }

    // How a run marked running is judged on this host.
    void verdicts_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("verdict");
        QTest::addColumn<QString>("reason");
        using V = WorkerCheck::Verdict;
        QTest::newRow("live worker") << "self" << int(V::Alive) << "pid";
        QTest::newRow("dead pid") << "dead" << int(V::Stale) << "is no longer running";
        QTest::newRow("host restarted") << "reboot" << int(V::Stale) << "the host has restarted";
        QTest::newRow("pid recycled, other start") << "recycled-start" << int(V::Stale) << "belongs to another process";
        QTest::newRow("pid recycled, no start kept") << "recycled-cmdline" << int(V::Stale) << "not a Tunebench worker";
        QTest::newRow("other host") << "other-host" << int(V::OtherHost) << "on host elsewhere-1";
        QTest::newRow("no pid") << "no-pid" << int(V::NoWorker) << "no worker pid";
    }

    void verdicts()
    {
        QFETCH(QString, kind);
        QFETCH(int, verdict);
        QFETCH(QString, reason);
        // A live process that is not Tunebench, as a recycled pid would be.
        QProcess sleeper;
        sleeper.start("sleep", { "60" });
        QVERIFY(sleeper.waitForStarted());
        const std::int64_t sleepPid = sleeper.processId();
        QProcess gone;
        gone.start("true");
        QVERIFY(gone.waitForStarted());
        const std::int64_t deadPid = gone.processId();
        QVERIFY(gone.waitForFinished());

        RunRecord run;
        run.id = 1;
        run.status = RunStatus::Running;
        run.workerHost = thisHostName();
        run.workerBootId = thisBootId();
        if (kind == "self") {
            run.workerPid = getpid();
            run.workerStart = processStartTicks(getpid());
        } else if (kind == "dead") {
            run.workerPid = deadPid;
        } else if (kind == "reboot") {
            run.workerPid = getpid();
            run.workerStart = processStartTicks(getpid());
            run.workerBootId = "00000000-0000-4000-8000-000000000000";
        } else if (kind == "recycled-start") {
            run.workerPid = sleepPid;
            run.workerStart = *processStartTicks(sleepPid) - 1; // the worker that had the pid started before
        } else if (kind == "recycled-cmdline") {
            run.workerPid = sleepPid; // a row from before start times were kept
        } else if (kind == "other-host") {
            run.workerPid = deadPid;
            run.workerHost = "elsewhere-1";
        }
        const WorkerCheck check = checkWorker(run);
        sleeper.kill();
        sleeper.waitForFinished();
        QCOMPARE(int(check.verdict), verdict);
        QVERIFY2(QString::fromStdString(check.reason).contains(reason), check.reason.c_str());
    }

    // `runs recover` marks runs with a gone worker failed (a dead pid, a pid taken over by `sleep`)
    // and leaves a live one; `train --resume` then continues a recovered run.
    void recoverMarksGoneWorkersFailed()
    {
        const QString ws = newWorkspace("recover");
        QProcess sleeper;
        sleeper.start("sleep", { "60" });
        QVERIFY(sleeper.waitForStarted());
        const std::int64_t dead = recordRun(ws), recycled = recordRun(ws), live = recordRun(ws);
        QProcess gone;
        gone.start("true");
        QVERIFY(gone.waitForStarted());
        const std::int64_t deadPid = gone.processId();
        QVERIFY(gone.waitForFinished());
        setWorker(ws, dead, deadPid, thisHostName(), thisBootId(), std::nullopt);
        setWorker(ws, recycled, sleeper.processId(), thisHostName(), thisBootId(), std::nullopt);
        {
            Workspace w = Workspace::open(ws.toStdString());
            RunStore(w.db()).setStatus(live, RunStatus::Running, {}, getpid());
        }
        const CliResult r = runCli({ "runs", "recover", "--workspace", ws });
        sleeper.kill();
        sleeper.waitForFinished();
        QCOMPARE(r.code, 0);
        QVERIFY2(
            r.out.contains(QString("run %1: marked failed: worker pid %2 is no longer running").arg(dead).arg(deadPid)),
            qPrintable(r.out));
        QVERIFY2(r.out.contains(QString("run %1: marked failed").arg(recycled)), qPrintable(r.out));
        QVERIFY2(r.out.contains("sleep 60', not a Tunebench worker"), qPrintable(r.out));
        QVERIFY2(!r.out.contains(QString("run %1:").arg(live)), qPrintable(r.out));
        QCOMPARE(statusOf(ws, dead), QStringLiteral("failed"));
        QVERIFY(QString::fromStdString(findRun(ws, dead)->error).contains("ended without finishing the run"));
        QCOMPARE(statusOf(ws, recycled), QStringLiteral("failed"));
        QCOMPARE(statusOf(ws, live), QStringLiteral("running"));
        const CliResult refused = runCli({ "train", "--resume", QString::number(live), "--workspace", ws });
        QCOMPARE(refused.code, 1);
        QVERIFY2(refused.err.contains("is already running (worker pid " + QString::number(getpid())),
            qPrintable(refused.err));
        const CliResult nothing = runCli({ "runs", "recover", "--workspace", ws });
        QVERIFY2(nothing.out.contains("No stale runs."), qPrintable(nothing.out));
    }

    // Every command group's --help lists each of its commands (the groups read off the top-level help).
    void everyGroupListsItsCommands()
    {
        const CliResult top = runCli({ "--help" });
        QCOMPARE(top.code, 0);
        std::map<QString, QStringList> groups;
        const QRegularExpression line(R"(^  ([a-z-]+) ([a-z-]+)\s{2,})");
        for (const QString& l : top.out.split('\n')) {
            const auto m = line.match(l);
            if (m.hasMatch())
                groups[m.captured(1)] << m.captured(1) + " " + m.captured(2);
        }
        QVERIFY(groups.count("runs"));
        QVERIFY(groups["runs"].contains("runs stop") && groups["runs"].contains("runs recover"));
        for (const auto& [group, commands] : groups) {
            const CliResult help = runCli({ group, "--help" });
            QVERIFY2(help.code == 0, qPrintable(group + ": " + help.err));
            for (const QString& c : commands)
                QVERIFY2(
                    help.out.contains("  " + c + " "), qPrintable(group + " --help lacks " + c + ":\n" + help.out));
            const CliResult bare = runCli({ group });
            QCOMPARE(bare.code, 2);
            QVERIFY2(bare.err.contains(commands.first()), qPrintable(bare.err));
        }
        qInfo("%zu command groups", groups.size());
    }
};

QTEST_GUILESS_MAIN(TestCliRecovery)
#include "test_cli_recovery.moc"
