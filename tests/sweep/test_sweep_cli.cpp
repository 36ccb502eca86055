// `tunebench-cli sweep` on a tiny model: 2 points x 2 seeds, 2 workers at a time. The sweep process and one
// of its workers are killed with SIGKILL mid-way; the same command again runs only what is missing (the
// killed worker's run resumed from its checkpoint, the finished runs untouched), and `sweep show` gives
// each point's final metrics as computed here from the store. Early stopping (median rule) stops the run that
// does not learn, and SIGINT stops the sweep.

#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"
#include "support/run_stepping.h"

#include <QElapsedTimer>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include <signal.h>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

struct RunRow {
    QString status;
    double finishedAt = 0;
    std::int64_t metricRows = 0;
    double metricSum = 0;
    std::optional<std::int64_t> pid;
    std::int64_t lastStep = 0; // the highest step with a loss
    bool operator==(const RunRow&) const = default;
};

std::map<std::int64_t, RunRow> readRuns(const QString& ws)
{
    Workspace w = Workspace::open(ws.toStdString());
    Statement st
        = w.db().prepare("SELECT r.id, r.status, COALESCE(r.finished_at, 0), r.worker_pid, "
                         "(SELECT COUNT(*) FROM metrics m WHERE m.run_id = r.id), "
                         "(SELECT COALESCE(SUM(value), 0) FROM metrics m WHERE m.run_id = r.id), "
                         "(SELECT COALESCE(MAX(step), 0) FROM metrics m WHERE m.run_id = r.id AND m.name = 'loss') "
                         "FROM runs r ORDER BY r.id");
    std::map<std::int64_t, RunRow> out;
    while (st.step())
        out[st.int64(0)]
            = { QString::fromStdString(st.text(1)), st.real(2), st.int64(4), st.real(5), st.optInt64(3), st.int64(6) };
    return out;
}

// A run's final value of a metric: the value at its highest step (latest row on ties).
std::optional<double> finalValue(const QString& ws, std::int64_t run, const std::string& name)
{
    Workspace w = Workspace::open(ws.toStdString());
    Statement st = w.db().prepare(
        "SELECT value FROM metrics WHERE run_id = ? AND name = ? ORDER BY step DESC, rowid DESC LIMIT 1");
    st.bind(1, run).bind(2, name);
    if (!st.step())
        return std::nullopt;
    return st.real(0);
}

} // namespace

class TestSweepCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_sweep;
    QString m_ws;

private Q_SLOTS:
    void initTestCase()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        {
            std::ofstream out(root / "data.jsonl");
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 12; ++i)
                out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        }
        std::ofstream(root / "run.yaml") << "model: model\ndataset: data.jsonl\nadapter: {type: lora, r: 4, "
                                            "target_modules: [q_proj, v_proj]}\n"
                                            "training: {max_steps: 16, per_device_train_batch_size: 4, cutoff_len: 64,"
                                            " save_steps: 3, val_size: 0.25, eval_steps: 4, threads: 1}\n";
        m_sweep = m_dir.path() + "/sweep.yaml";
        QVERIFY(writeTextFile(m_sweep,
            "name: tiny\nbase: run.yaml\ngrid:\n  training.learning_rate: [1.0e-2, 3.0e-2]\nseeds: [1, 2]\n"
            "metric: eval_loss\ndirection: min\nconcurrency: 2\n"));
        m_ws = m_dir.path() + "/ws";
        const CliResult r = runCli({ "workspace", "init", m_ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
    }

    void help()
    {
        const CliResult r = runCli({ "sweep", "--help" });
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("--concurrency"));
        const CliResult list = runCli({ "sweep", "list", "--help" });
        QCOMPARE(list.code, 0);
        QVERIFY(list.out.contains("sweep list"));
        const CliResult bad = runCli({ "sweep", m_dir.path() + "/run.yaml", "--workspace", m_ws });
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("run.yaml") && bad.err.contains("unknown key"), qPrintable(bad.err));
    }

    void killedSweepResumesOnlyWhatIsMissing()
    {
        QProcess sweep;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("TUNEBENCH_WORKSPACE");
        sweep.setProcessEnvironment(env);
        sweep.start(TUNEBENCH_CLI, { "sweep", m_sweep, "--workspace", m_ws });
        QVERIFY(sweep.waitForStarted());
        // Wait until a run has finished while another one runs past its first checkpoint.
        std::int64_t victim = 0;
        std::int64_t victimPid = 0;
        QElapsedTimer timer;
        timer.start();
        while (!victim && timer.elapsed() < 300000) {
            if (sweep.waitForFinished(20))
                QFAIL(qPrintable(
                    "the sweep ended early: " + sweep.readAllStandardOutput() + sweep.readAllStandardError()));
            const auto runs = readRuns(m_ws);
            int finished = 0;
            for (const auto& [id, r] : runs)
                finished += r.status == "finished";
            if (finished == 0)
                continue;
            for (const auto& [id, r] : runs) {
                // Past a checkpoint and far from its end (16 steps), so it is still running when it is killed. The
                // worker runs in short slices once it is seen, so it cannot slip past that point on a fast machine.
                if (r.status != "running" || !r.pid)
                    continue;
                const std::int64_t run = id;
                const test_support::Caught caught = test_support::stopWhen(
                    static_cast<pid_t>(*r.pid),
                    [&] {
                        const int c = test_support::newestCheckpointStep(m_ws, run);
                        return c > 0 && c <= 9;
                    },
                    [&] { return test_support::newestCheckpointStep(m_ws, run) > 9; });
                if (caught == test_support::Caught::Yes) {
                    victim = id;
                    victimPid = *r.pid;
                    break;
                }
            }
        }
        QVERIFY2(victim, "no run was seen running past a checkpoint after another had finished");
        QCOMPARE(::kill(static_cast<pid_t>(sweep.processId()), SIGKILL), 0);
        QCOMPARE(::kill(static_cast<pid_t>(victimPid), SIGKILL), 0);
        sweep.waitForFinished(10000);
        const QString firstOut = QString::fromUtf8(sweep.readAllStandardOutput());
        const auto before = readRuns(m_ws);
        QCOMPARE(before.size(), std::size_t(4)); // every (point, seed) recorded at the start
        std::set<std::int64_t> finishedBefore;
        for (const auto& [id, r] : before) {
            if (r.status == "finished")
                finishedBefore.insert(id);
        }
        QVERIFY(!finishedBefore.empty());
        QCOMPARE(before.at(victim).status, QStringLiteral("running")); // left behind by the killed worker

        // Resumed: only the runs not finished are started; the killed one continues from its checkpoint.
        QProcess again;
        again.setProcessEnvironment(env);
        again.start(TUNEBENCH_CLI, { "sweep", m_sweep, "--workspace", m_ws });
        QVERIFY(again.waitForFinished(300000));
        const QString out = QString::fromUtf8(again.readAllStandardOutput());
        QVERIFY2(again.exitCode() == 0, qPrintable(firstOut + "\n---\n" + out + again.readAllStandardError()));
        QVERIFY2(out.contains("resuming 'tiny'"), qPrintable(out));
        qInfo("killed run %lld; the resumed sweep said:\n%s", static_cast<long long>(victim), qPrintable(out));
        QVERIFY2(out.contains(QString("run %1 (").arg(victim))
                && out.contains(QRegularExpression(QString("run %1 \\(point \\d, seed \\d\\): resumed").arg(victim))),
            qPrintable(out));
        for (const std::int64_t id : finishedBefore)
            QVERIFY2(!out.contains(QRegularExpression(QString("run %1 \\(.*\\): (started|resumed)").arg(id))),
                qPrintable(out));
        const auto after = readRuns(m_ws);
        QCOMPARE(after.size(), std::size_t(4));
        for (const auto& [id, r] : after)
            QCOMPARE(r.status, QStringLiteral("finished"));
        for (const std::int64_t id : finishedBefore)
            QVERIFY2(after.at(id) == before.at(id), qPrintable(QString("run %1 changed").arg(id)));
        // The killed run trained on to the end (16 steps, one loss a step).
        Workspace w = Workspace::open(m_ws.toStdString());
        Statement steps = w.db().prepare("SELECT MAX(step) FROM metrics WHERE run_id = ? AND name = 'loss'");
        steps.bind(1, victim);
        QVERIFY(steps.step());
        QCOMPARE(steps.int64(0), 16);

        // A third time: nothing left to run.
        const CliResult third = runCli({ "sweep", m_sweep, "--workspace", m_ws });
        QVERIFY2(third.code == 0, qPrintable(third.err));
        QVERIFY2(third.out.contains("4 of 4 runs done") && !third.out.contains("started"), qPrintable(third.out));
        QVERIFY(readRuns(m_ws) == after);
    }

    // Median rule at step 4 with two runs side by side: the one that does not learn (learning rate 0) is worse
    // than the other's eval loss there and is stopped early through SIGTERM (cancelled, with a checkpoint, marked
    // stopped early: done, not failed); SIGINT then stops the sweep and its other worker.
    void earlyStoppingStopsTheWorse()
    {
        const fs::path root = m_dir.path().toStdString();
        std::ofstream(root / "long.yaml") << "model: model\ndataset: data.jsonl\nadapter: {type: lora, r: 4}\n"
                                             "training: {max_steps: 400, per_device_train_batch_size: 4, cutoff_len: "
                                             "64, save_steps: 50, val_size: 0.25, eval_steps: 2, threads: 1}\n";
        const QString file = m_dir.path() + "/early.yaml";
        QVERIFY(writeTextFile(file,
            "base: long.yaml\ngrid:\n  training.learning_rate: [5.0e-2, 0.0]\nconcurrency: 2\n"
            "early_stopping: {rule: median, metric: eval_loss, steps: [4], min_runs: 1}\n"));
        const QString ws = m_dir.path() + "/ws-early";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        QProcess sweep;
        QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
        env.remove("TUNEBENCH_WORKSPACE");
        sweep.setProcessEnvironment(env);
        sweep.start(TUNEBENCH_CLI, { "sweep", file, "--workspace", ws });
        QVERIFY(sweep.waitForStarted());
        std::int64_t stopped = 0;
        QElapsedTimer timer;
        timer.start();
        while (!stopped && timer.elapsed() < 120000) {
            if (sweep.waitForFinished(100))
                QFAIL(qPrintable(
                    "the sweep ended early: " + sweep.readAllStandardOutput() + sweep.readAllStandardError()));
            Workspace w = Workspace::open(ws.toStdString());
            Statement st = w.db().prepare("SELECT run_id FROM sweep_runs WHERE stopped_early = 1");
            if (st.step())
                stopped = st.int64(0);
        }
        QVERIFY2(stopped, "no run was stopped early");
        QCOMPARE(::kill(static_cast<pid_t>(sweep.processId()), SIGINT), 0);
        QVERIFY(sweep.waitForFinished(120000));
        const QString out = QString::fromUtf8(sweep.readAllStandardOutput());
        QVERIFY2(sweep.exitCode() == 3, qPrintable(out + sweep.readAllStandardError()));
        QVERIFY2(out.contains(QString("run %1 (point 1): stopping early").arg(stopped)), qPrintable(out));
        Workspace w = Workspace::open(ws.toStdString());
        RunStore runs(w.db());
        const auto run = runs.find(stopped);
        QCOMPARE(json::parse(run->configJson)["learning_rate"].get<double>(), 0.0);
        QVERIFY(run->status == RunStatus::Cancelled);
        int events = 0;
        for (const EventRecord& e : runs.events(stopped))
            events += e.kind == "stopped_early";
        QCOMPARE(events, 1);
        const json show = json::parse(runCli({ "sweep", "show", "1", "--workspace", ws }).out.toStdString());
        QCOMPARE(show["status"].get<std::string>(), std::string("stopped"));
        QCOMPARE(show["points"][1]["stopped_early"], json::array({ stopped }));
        QCOMPARE(show["points"][0]["stopped_early"], json::array());
        QCOMPARE(show["points"][0]["finished"], json::array()); // stopped by SIGINT: resumable, not done
    }

    void listAndShow()
    {
        const CliResult list = runCli({ "sweep", "list", "--workspace", m_ws, "--json" });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        const QStringList lines = list.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 1);
        const json entry = json::parse(lines[0].toStdString());
        QCOMPARE(entry["status"].get<std::string>(), std::string("finished"));
        QCOMPARE(entry["done"].get<int>(), 4);
        const std::int64_t id = entry["id"];

        const CliResult show = runCli({ "sweep", "show", QString::number(id), "--workspace", m_ws });
        QVERIFY2(show.code == 0, qPrintable(show.err));
        const json s = json::parse(show.out.toStdString());
        QCOMPARE(s["id"].get<std::int64_t>(), id);
        QCOMPARE(s["name"].get<std::string>(), std::string("tiny"));
        QCOMPARE(s["points"].size(), std::size_t(2));
        const double lrs[] = { 1e-2, 3e-2 };
        double bestMean = INFINITY;
        int bestIndex = -1;
        std::set<std::int64_t> allRuns;
        for (int p = 0; p < 2; ++p) {
            const json& point = s["points"][p];
            QCOMPARE(point["index"].get<int>(), p);
            QCOMPARE(point["params"]["training.learning_rate"].get<double>(), lrs[p]);
            QCOMPARE(point["runs"].size(), std::size_t(2));
            for (const std::string name : { "loss", "eval_loss" }) {
                std::vector<double> v;
                for (const json& run : point["runs"]) {
                    allRuns.insert(run.get<std::int64_t>());
                    const auto f = finalValue(m_ws, run.get<std::int64_t>(), name);
                    QVERIFY2(f, name.c_str());
                    v.push_back(*f);
                }
                const double mean = (v[0] + v[1]) / 2;
                const double sd = std::abs(v[0] - v[1]) / std::sqrt(2.0); // sample std of two values
                const double half = 12.706204736174694 * sd / std::sqrt(2.0); // t(0.975, 1)
                const json& m = point["metrics"][name];
                QCOMPARE(m["n"].get<int>(), 2);
                QVERIFY2(std::abs(m["mean"].get<double>() - mean) <= 1e-12 * std::abs(mean),
                    qPrintable(QString::fromStdString(m.dump())));
                QVERIFY(std::abs(m["std"].get<double>() - sd) <= 1e-9 * std::max(1.0, sd));
                QVERIFY(std::abs(m["ci95"][0].get<double>() - (mean - half)) <= 1e-8 * std::max(1.0, half));
                QVERIFY(std::abs(m["ci95"][1].get<double>() - (mean + half)) <= 1e-8 * std::max(1.0, half));
                if (name == "eval_loss" && mean < bestMean) {
                    bestMean = mean;
                    bestIndex = p;
                }
            }
            // The runs are the point's: its learning rate and their seeds 1 and 2.
            std::set<std::uint64_t> seeds;
            Workspace w = Workspace::open(m_ws.toStdString());
            for (const json& run : point["runs"]) {
                const json config = json::parse(RunStore(w.db()).find(run.get<std::int64_t>())->configJson);
                QCOMPARE(config["learning_rate"].get<double>(), lrs[p]);
                seeds.insert(config["seed"].get<std::uint64_t>());
            }
            QCOMPARE(seeds, (std::set<std::uint64_t> { 1, 2 }));
        }
        QCOMPARE(allRuns.size(), std::size_t(4));
        QCOMPARE(s["best"]["index"].get<int>(), bestIndex);
        QCOMPARE(s["best"]["value"].get<double>(), bestMean);
        QCOMPARE(s["best"]["params"], s["points"][bestIndex]["params"]);

        const CliResult missing = runCli({ "sweep", "show", "99", "--workspace", m_ws });
        QCOMPARE(missing.code, 1);
        QVERIFY(missing.err.contains("no sweep with id 99"));
    }
};

QTEST_GUILESS_MAIN(TestSweepCli)
#include "test_sweep_cli.moc"
