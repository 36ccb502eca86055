// `tunebench-cli pipeline` on a tiny model: continued pretraining on raw text (clm), then a LoRA stage on
// instructions from its merged result (its matrix column: an evaluation task), then a stage continuing that stage's
// adapter (merge: false) with replay. The pipeline process and the second stage's worker are killed with SIGKILL
// mid-stage; the same command again runs only what is missing (stage 1 untouched, stage 2 resumed from its checkpoint,
// stage 3). The lineage in the store, the forgetting matrix printed and stored (its measures recomputed here from the
// stored rows), `pipeline list` and `pipeline show`, and SIGINT stopping a pipeline with exit 3.

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

#include <signal.h>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

QProcessEnvironment cleanEnvironment()
{
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("TUNEBENCH_WORKSPACE");
    return env;
}

} // namespace

class TestPipelineCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_file;
    QString m_ws;

private Q_SLOTS:
    void initTestCase()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        {
            std::ofstream out(root / "corpus.txt");
            const char* lines[] = { "the red fox jumps over the lazy dog", "a green frog sits on a wet log",
                "the blue whale swims in the deep sea", "a small bird sings in the tall tree" };
            for (int i = 0; i < 12; ++i)
                out << lines[i % 4] << "\n";
        }
        {
            std::ofstream out(root / "task.jsonl");
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 12; ++i)
                out << json({ { "instruction", "say something " + std::to_string(i % 3) }, { "output", lines[i % 4] } })
                           .dump()
                    << "\n";
        }
        {
            std::ofstream out(root / "task2.jsonl");
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "count to " + std::to_string(i) }, { "output", "one two three" } })
                           .dump()
                    << "\n";
        }
        {
            std::ofstream out(root / "where.jsonl");
            const char* who[] = { "cat", "dog", "bird", "sun" };
            for (int i = 0; i < 4; ++i)
                out << json({ { "who", who[i] }, { "options", { "mat", "park", "tree", "hill" } }, { "gold", i } })
                           .dump()
                    << "\n";
            std::ofstream(root / "tasks.yaml") << "tasks:\n  - {name: where, kind: multiple_choice, data: where.jsonl, "
                                                  "prompt: 'the {who} is on the', choices: options, answer: gold}\n";
        }
        m_file = m_dir.path() + "/pipeline.yaml";
        QVERIFY(writeTextFile(m_file,
            "name: tiny\n"
            "base:\n  model: model\n  adapter: {type: lora, r: 4, target_modules: [q_proj, v_proj]}\n"
            "  training: {max_steps: 12, per_device_train_batch_size: 4, cutoff_len: 64, save_steps: 2,\n"
            "             learning_rate: 0.01, threads: 1}\n"
            "held_out: 0.25\n"
            "stages:\n"
            "  - {name: domain, objective: clm, dataset: corpus.txt}\n"
            "  - {name: task, dataset: task.jsonl, merge: true, evaluation: {tasks: tasks.yaml}}\n"
            "  - {name: more, dataset: task2.jsonl, merge: false, replay: {share: 0.5, seed: 4},\n"
            "     training: {max_steps: 6}}\n"));
        m_ws = m_dir.path() + "/ws";
        const CliResult r = runCli({ "workspace", "init", m_ws });
        QVERIFY2(r.code == 0, qPrintable(r.err));
    }

    void helpAndBadFile()
    {
        const CliResult r = runCli({ "pipeline", "--help" });
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.contains("pipeline show ID"));
        QVERIFY(writeTextFile(m_dir.path() + "/bad.yaml",
            "base: {model: model}\nstages:\n  - {name: one, dataset: task.jsonl, training: {max_stepz: 3}}\n"));
        const CliResult bad = runCli({ "pipeline", m_dir.path() + "/bad.yaml", "--workspace", m_ws });
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("bad.yaml: stage 'one'") && bad.err.contains("max_stepz"), qPrintable(bad.err));
        const CliResult dry = runCli({ "pipeline", m_file, "--dry-run" });
        QVERIFY2(dry.code == 0, qPrintable(dry.err));
        const QStringList lines = dry.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 3);
        const json first = json::parse(lines[0].toStdString());
        QCOMPARE(first["config"]["packing"], json(true));
        QCOMPARE(first["config"]["dataset_format"], json("text"));
    }

    void killedPipelineResumesOnlyWhatIsMissing()
    {
        QProcess pipeline;
        pipeline.setProcessEnvironment(cleanEnvironment());
        pipeline.start(TUNEBENCH_CLI, { "pipeline", m_file, "--workspace", m_ws });
        QVERIFY(pipeline.waitForStarted());
        // Wait until stage 2's run has passed a checkpoint, well before its end (12 steps). Its worker runs in short
        // slices once it is seen, so it cannot slip past that point on a fast machine.
        std::int64_t victim = 0;
        std::int64_t victimPid = 0;
        QElapsedTimer timer;
        timer.start();
        while (!victim && timer.elapsed() < 300000) {
            if (pipeline.waitForFinished(20))
                QFAIL(qPrintable(
                    "the pipeline ended early: " + pipeline.readAllStandardOutput() + pipeline.readAllStandardError()));
            Workspace w = Workspace::open(m_ws.toStdString());
            Statement st = w.db().prepare("SELECT r.id, r.worker_pid FROM pipeline_stages s JOIN runs r ON "
                                          "r.id = s.run_id WHERE s.stage_index = 1 AND r.status = 'running'");
            if (!st.step() || st.isNull(1))
                continue;
            const std::int64_t run = st.int64(0);
            const std::int64_t pid = st.int64(1);
            const test_support::Caught caught = test_support::stopWhen(
                static_cast<pid_t>(pid),
                [&] {
                    const int c = test_support::newestCheckpointStep(m_ws, run);
                    return c > 0 && c <= 6;
                },
                [&] { return test_support::newestCheckpointStep(m_ws, run) > 6; });
            if (caught != test_support::Caught::Yes)
                QFAIL(qPrintable(QString("stage 2's worker (pid %1) %2 before it was caught past a checkpoint")
                                     .arg(pid)
                                     .arg(caught == test_support::Caught::Gone ? "ended" : "went past step 6")));
            victim = run;
            victimPid = pid;
        }
        QVERIFY2(victim, "stage 2 was not seen running past a checkpoint");
        QCOMPARE(::kill(static_cast<pid_t>(pipeline.processId()), SIGKILL), 0);
        QCOMPARE(::kill(static_cast<pid_t>(victimPid), SIGKILL), 0);
        pipeline.waitForFinished(10000);
        const QString firstOut = QString::fromUtf8(pipeline.readAllStandardOutput());

        Workspace w = Workspace::open(m_ws.toStdString());
        RunStore runs(w.db());
        auto all = runs.list();
        QCOMPARE(all.size(), std::size_t(2));
        const RunRecord stage1 = *runs.find(victim - 1);
        QVERIFY(stage1.status == RunStatus::Finished);

        QProcess again;
        again.setProcessEnvironment(cleanEnvironment());
        again.start(TUNEBENCH_CLI, { "pipeline", m_file, "--workspace", m_ws });
        QVERIFY(again.waitForFinished(300000));
        const QString out = QString::fromUtf8(again.readAllStandardOutput());
        QVERIFY2(again.exitCode() == 0, qPrintable(firstOut + "\n---\n" + out + again.readAllStandardError()));
        qInfo("the resumed pipeline said:\n%s", qPrintable(out));
        QVERIFY2(out.contains("resuming 'tiny'"), qPrintable(out));
        QVERIFY2(out.contains(QString("stage 1 (domain): finished (run %1)").arg(stage1.id)), qPrintable(out));
        QVERIFY2(out.contains(QString("stage 2 (task): run %1 resumed").arg(victim)), qPrintable(out));
        QVERIFY2(!out.contains("evaluating the base model"), qPrintable(out));
        QVERIFY2(out.contains(QRegularExpression("stage 3 \\(more\\): run \\d+ started")), qPrintable(out));
        QVERIFY2(out.contains("forgetting matrix") && out.contains("after more") && out.contains("lower is better")
                && out.contains("higher is better") && out.contains("task/where acc"),
            qPrintable(out));

        // Lineage: stage 2 trains stage 1's merged model; stage 3 continues stage 2's adapter on its model.
        all = runs.list();
        QCOMPARE(all.size(), std::size_t(3));
        const RunRecord after1 = *runs.find(stage1.id);
        QCOMPARE(after1.finishedAt, stage1.finishedAt); // not run again
        const RunRecord r2 = *runs.find(victim);
        const RunRecord r3 = *runs.find(victim + 1);
        QVERIFY(r2.status == RunStatus::Finished && r3.status == RunStatus::Finished);
        QCOMPARE(*r2.parentRunId, stage1.id);
        QCOMPARE(*r3.parentRunId, r2.id);
        QVERIFY(!stage1.parentRunId);
        const fs::path merged = fs::path(m_ws.toStdString()) / "pipelines" / "1" / "stage-2" / "model";
        QCOMPARE(fs::path(r2.modelPath), merged);
        QVERIFY(fs::exists(merged / "config.json"));
        QCOMPARE(r3.modelPath, r2.modelPath);
        const json c1 = json::parse(stage1.configJson);
        const json c3 = json::parse(r3.configJson);
        QCOMPARE(c1["packing"], json(true));
        QCOMPARE(c1["objective"], json("sft"));
        QCOMPARE(c3["init_adapter"], json(std::to_string(r2.id)));
        QCOMPARE(c3["max_steps"], json(6));
        const json l3 = json::parse(r3.lineageJson);
        QCOMPARE(l3["pipeline"]["id"], json(1));
        QCOMPARE(l3["stage"]["name"], json("more"));
        QCOMPARE(l3["merge"], json(false));
        QCOMPARE(l3["replayed"], json(3)); // round(0.5 x 6): task2's 8 records less 2 held out
        // Stage 2's run trained on to its end.
        Statement steps = w.db().prepare("SELECT MAX(step) FROM metrics WHERE run_id = ? AND name = 'loss'");
        steps.bind(1, r2.id);
        QVERIFY(steps.step());
        QCOMPARE(steps.int64(0), 12);

        // The matrix as stored, and its measures as `pipeline show` gives them, worked out again here.
        const CliResult show = runCli({ "pipeline", "show", "1", "--workspace", m_ws, "--json" });
        QVERIFY2(show.code == 0, qPrintable(show.err));
        const json s = json::parse(show.out.toStdString());
        QCOMPARE(s["status"], json("finished"));
        QCOMPARE(s["stages"].size(), std::size_t(3));
        QCOMPARE(s["stages"][1]["parent_run"], json(stage1.id));
        QCOMPARE(s["stages"][2]["run"], json(r3.id));
        const json& rows = s["matrix"]["rows"];
        QCOMPARE(rows.size(), std::size_t(4));
        // Columns: stage 1's held-out loss, stage 2's evaluation task (acc), stage 3's held-out loss.
        const json& columns = s["matrix"]["columns"];
        QCOMPARE(columns.size(), std::size_t(3));
        QCOMPARE(columns[0]["metric"], json("eval_loss"));
        QCOMPARE(columns[1]["name"], json("task/where"));
        QCOMPARE(columns[1]["metric"], json("acc"));
        QCOMPARE(columns[1]["direction"], json("max"));
        QCOMPARE(columns[2]["metric"], json("eval_loss"));
        for (std::size_t j = 0; j < rows.size(); ++j) {
            QCOMPARE(rows[j].size(), std::size_t(3));
            for (std::size_t c = 0; c < 3; ++c) {
                const double x = rows[j][c].get<double>();
                QVERIFY(std::isfinite(x) && x >= 0 && (c != 1 || x <= 1));
            }
            // Four records: an accuracy is a multiple of 1/4.
            QCOMPARE(std::fmod(rows[j][1].get<double>() * 4, 1.0), 0.0);
        }
        const auto R = [&](int j, int c) { return rows[j][c].get<double>(); };
        const json& measures = s["measures"];
        QCOMPARE(measures.size(), std::size_t(2));
        QCOMPARE(measures[0]["direction"], json("max"));
        QCOMPARE(measures[1]["direction"], json("min"));
        const auto near = [](const json& got, double want) { return std::abs(got.get<double>() - want) < 1e-12; };
        // Accuracy (column 1, stage 2): A = R31; BWT = R31 - R21; forgetting = max(R11, R21) - R31; FWT = R11 - R01.
        QVERIFY(near(measures[0]["average"], R(3, 1)));
        QVERIFY(near(measures[0]["bwt"], R(3, 1) - R(2, 1)));
        QVERIFY(near(measures[0]["forgetting"], std::max(R(1, 1), R(2, 1)) - R(3, 1)));
        QVERIFY(near(measures[0]["fwt"], R(1, 1) - R(0, 1)));
        // Losses (columns 0 and 2, stages 1 and 3), negated for the transfers and forgetting.
        QVERIFY(near(measures[1]["average"], (R(3, 0) + R(3, 2)) / 2));
        QVERIFY(near(measures[1]["bwt"], -(R(3, 0) - R(1, 0))));
        QVERIFY(near(measures[1]["forgetting"], R(3, 0) - std::min(R(1, 0), R(2, 0))));
        QVERIFY(near(measures[1]["fwt"], -(R(2, 2) - R(0, 2))));
        // Training on a stage's text lowers its held-out loss below the base model's.
        QVERIFY(R(1, 0) < R(0, 0));

        const CliResult text = runCli({ "pipeline", "show", "1", "--workspace", m_ws });
        QVERIFY2(text.code == 0 && text.out.contains("forgetting matrix") && text.out.contains("after domain")
                && text.out.contains(QString("from run %1").arg(stage1.id)),
            qPrintable(text.out));

        // A third time: nothing left to run.
        const CliResult third = runCli({ "pipeline", m_file, "--workspace", m_ws });
        QVERIFY2(third.code == 0, qPrintable(third.err));
        QVERIFY2(!third.out.contains("started") && !third.out.contains("resumed"), qPrintable(third.out));
        QCOMPARE(runs.list().size(), std::size_t(3));

        const CliResult list = runCli({ "pipeline", "list", "--workspace", m_ws, "--json" });
        QVERIFY2(list.code == 0, qPrintable(list.err));
        const json entry = json::parse(list.out.split('\n', Qt::SkipEmptyParts).at(0).toStdString());
        QCOMPARE(entry["done"], json(3));
        QCOMPARE(entry["status"], json("finished"));
    }

    void sigintStops()
    {
        const QString file = m_dir.path() + "/long.yaml";
        QVERIFY(writeTextFile(file,
            "base:\n  model: model\n  adapter: {type: lora, r: 4}\n"
            "  training: {max_steps: 400, per_device_train_batch_size: 4, cutoff_len: 64, save_steps: 50, threads: 1}\n"
            "stages: [{dataset: task.jsonl}]\n"));
        const QString ws = m_dir.path() + "/ws-long";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        QProcess pipeline;
        pipeline.setProcessEnvironment(cleanEnvironment());
        pipeline.start(TUNEBENCH_CLI, { "pipeline", file, "--workspace", ws });
        QVERIFY(pipeline.waitForStarted());
        QElapsedTimer timer;
        timer.start();
        bool running = false;
        while (!running && timer.elapsed() < 120000) {
            if (pipeline.waitForFinished(100))
                QFAIL(qPrintable(
                    "the pipeline ended early: " + pipeline.readAllStandardOutput() + pipeline.readAllStandardError()));
            Workspace w = Workspace::open(ws.toStdString());
            Statement st = w.db().prepare("SELECT COUNT(*) FROM metrics WHERE name = 'loss'");
            running = st.step() && st.int64(0) > 0;
        }
        QVERIFY(running);
        QCOMPARE(::kill(static_cast<pid_t>(pipeline.processId()), SIGINT), 0);
        QVERIFY(pipeline.waitForFinished(120000));
        const QString out = QString::fromUtf8(pipeline.readAllStandardOutput());
        QVERIFY2(pipeline.exitCode() == 3, qPrintable(out + pipeline.readAllStandardError()));
        const json s = json::parse(runCli({ "pipeline", "show", "1", "--workspace", ws, "--json" }).out.toStdString());
        QCOMPARE(s["status"], json("stopped"));
        QCOMPARE(s["stages"][0]["run_status"], json("cancelled"));
    }
};

QTEST_GUILESS_MAIN(TestPipelineCli)
#include "test_pipeline_cli.moc"
