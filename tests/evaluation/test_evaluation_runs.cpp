// Evaluation tasks in runs and in the CLI: a LoRA run with `evaluation:` stores
// eval/, eval_base/ and eval_delta/ metrics at the start, on schedule and at the
// end; `tunebench-cli evaluate` prints one JSON object with only each kind's
// metrics, equal to the in-process numbers, and for a run reuses the base
// model's cached results; a run file's relative tasks path is made absolute.

#include "core/evaluation/evaluate.h"
#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestEvaluationRuns : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    fs::path m_tasks;
    PluginRegistry m_plugins;
    std::optional<std::int64_t> m_runId;

    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }
    QString qpath(const std::string& name) const { return QString::fromStdString(path(name).string()); }

    static json parseOneObject(const QString& out)
    {
        const std::string text = out.trimmed().toStdString();
        if (text.find('\n') != std::string::npos)
            return nullptr; // more than one line
        const json j = json::parse(text, nullptr, false);
        return j.is_object() ? j : json(nullptr);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = path("model");
        model_test::writeTinyModelFolder(m_model, 9);
        m_data = path("data.jsonl");
        {
            std::ofstream out(m_data);
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park" };
            for (int i = 0; i < 16; ++i)
                out << json({ { "text", lines[i % 2] } }).dump() << "\n";
        }
        fs::create_directories(path("tasks"));
        std::ofstream(path("tasks/mc.jsonl"))
            << json({ { "q", "the cat sat on the" }, { "c", { "mat", "park" } }, { "a", 0 } }).dump() << "\n"
            << json({ { "q", "the dog ran in the" }, { "c", { "mat", "park" } }, { "a", 1 } }).dump() << "\n"
            << json({ { "q", "the dog sat on the" }, { "c", { "mat", "park" } }, { "a", 0 } }).dump() << "\n";
        std::ofstream(path("tasks/gen.jsonl")) << json({ { "q", "the cat" }, { "a", 3 } }).dump() << "\n"
                                               << json({ { "q", "the dog" }, { "a", "4" } }).dump() << "\n";
        std::ofstream(path("tasks/text.jsonl")) << json({ { "text", "the cat sat on the mat" } }).dump() << "\n"
                                                << json({ { "text", "the dog ran" } }).dump() << "\n";
        m_tasks = path("tasks/tasks.yaml");
        std::ofstream(m_tasks) << "tasks:\n"
                                  "  - {name: mc, kind: multiple_choice, data: mc.jsonl, prompt: \"{q}\", choices: c, "
                                  "answer: a, num_fewshot: 1}\n"
                                  "  - {name: gen, kind: generation, data: gen.jsonl, prompt: \"{q}\", answer: a, "
                                  "regex: \"([0-9]+)\", compare: numeric, max_new_tokens: 4}\n"
                                  "  - {name: ppl, kind: perplexity, data: text.jsonl}\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.find(PluginKind::Adapter, "lora"));
    }

    void runStoresEvaluationAtStartScheduleAndEnd()
    {
        Workspace ws = Workspace::create(path("ws"));
        const std::int64_t runId = RunStore(ws.db()).create({ "evaluated" });
        const json c = { { "model", m_model.string() }, { "dataset", m_data.string() }, { "learning_rate", 3e-2 },
            { "per_device_train_batch_size", 4 }, { "max_steps", 4 }, { "seed", 11 }, { "threads", 1 },
            { "adapter", { { "type", "lora" }, { "r", 2 } } }, { "measure_time_budget", 1.0 },
            { "evaluation", { { "tasks", m_tasks.string() }, { "steps", 2 }, { "limit", 2 } } } };
        std::vector<json> events;
        TrainerOptions o;
        o.runDir = ws.runDir(runId);
        o.workspace = &ws;
        o.runId = runId;
        o.events = [&](const json& e) { events.push_back(e); };
        runTraining(TrainConfig::fromJson(c, m_plugins, "test config"), m_plugins, o);

        const MetricQuery metrics(ws.db());
        for (const char* name : { "eval/mc/acc", "eval/mc/acc_norm", "eval/gen/exact_match", "eval/ppl/perplexity",
                 "eval/ppl/bits_per_byte", "eval_delta/ppl/perplexity" }) {
            const auto series = metrics.series(runId, name);
            QCOMPARE(series.size(), 3u);
            QCOMPARE(series[0].step, 0);
            QCOMPARE(series[1].step, 2);
            QCOMPARE(series[2].step, 4);
        }
        const auto base = metrics.series(runId, "eval_base/ppl/perplexity");
        QCOMPARE(base.size(), 1u);
        QCOMPARE(base[0].step, 0);
        // LoRA starts as the identity: at step 0 the model is the base; training then moves it.
        const auto ppl = metrics.series(runId, "eval/ppl/perplexity");
        QVERIFY(std::abs(ppl[0].value - base[0].value) < 1e-9 * base[0].value);
        QVERIFY(std::abs(metrics.series(runId, "eval_delta/ppl/perplexity")[0].value) < 1e-9 * base[0].value);
        QVERIFY(std::abs(ppl[2].value - ppl[0].value) > 1e-6);
        const auto delta = metrics.series(runId, "eval_delta/ppl/perplexity");
        QVERIFY(std::abs(delta[2].value - (ppl[2].value - base[0].value)) < 1e-9 * base[0].value);
        for (const auto& p : metrics.series(runId, "eval/mc/acc"))
            QVERIFY(p.value == 0.0 || p.value == 0.5 || p.value == 1.0); // limit 2: two records
        int measured = 0;
        for (const json& e : events) {
            if (e["event"] == "measure" && e["kind"] == "evaluation") {
                ++measured;
                QCOMPARE(e["values"]["mc"]["n"].get<int>(), 2);
                QCOMPARE(e["base_cached"].get<bool>(), measured > 1);
            }
        }
        QCOMPARE(measured, 3);
        m_runId = runId;
    }

    void cliEvaluatesAModelFolder()
    {
        const CliResult r = runCli({ "evaluate", "--model", QString::fromStdString(m_model.string()), "--tasks",
            QString::fromStdString(m_tasks.string()), "--limit", "2", "--threads", "1" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json out = parseOneObject(r.out);
        QVERIFY2(out.is_object(), qPrintable(r.out));
        QCOMPARE(out.size(), 1u);
        const json& tasks = out["tasks"];
        QCOMPARE(tasks.size(), 3u);
        auto keys = [](const json& o) {
            std::set<std::string> k;
            for (const auto& [key, value] : o.items())
                k.insert(key);
            return k;
        };
        QCOMPARE(keys(tasks["mc"]), (std::set<std::string> { "n", "acc", "acc_norm" }));
        QCOMPARE(keys(tasks["gen"]), (std::set<std::string> { "n", "exact_match" }));
        QCOMPARE(keys(tasks["ppl"]), (std::set<std::string> { "n", "perplexity", "bits_per_byte" }));
        QCOMPARE(tasks["mc"]["n"].get<int>(), 2);

        // The same numbers in process.
        const auto model = loadCausalLM(m_model);
        EvalOptions o;
        o.limit = 2;
        const json here
            = evaluationJson(evaluateTasks(*model, Tokenizer::fromFolder(m_model), EvalTaskFile::load(m_tasks), o));
        for (const auto& [task, metrics] : here["tasks"].items()) {
            for (const auto& [name, value] : metrics.items())
                QVERIFY2(std::abs(value.get<double>() - tasks[task][name].get<double>())
                        <= 1e-6 * (1 + std::abs(value.get<double>())),
                    (task + "/" + name).c_str());
        }
    }

    void cliEvaluatesARunAndReusesTheBase()
    {
        QVERIFY(m_runId);
        const QString ws = qpath("ws");
        const QStringList args = { "evaluate", "--workspace", ws, "--run", QString::number(*m_runId), "--tasks",
            QString::fromStdString(m_tasks.string()), "--limit", "2", "--threads", "1" };
        const CliResult r = runCli(args);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json out = parseOneObject(r.out);
        QVERIFY2(out.is_object(), qPrintable(r.out));
        QVERIFY(out["base_cached"].get<bool>()); // the run's own evaluation at step 0 cached it
        QCOMPARE(out["step"].get<int>(), 4);
        Workspace w = Workspace::open(path("ws"));
        const MetricQuery metrics(w.db());
        // The run's final model as saved: what its evaluation at the end measured.
        const auto ppl = metrics.series(*m_runId, "eval/ppl/perplexity");
        QCOMPARE(ppl.size(), 4u);
        QCOMPARE(ppl[3].step, 4);
        QVERIFY(std::abs(ppl[3].value - ppl[2].value) < 1e-6 * ppl[2].value);
        QVERIFY(std::abs(out["tasks"]["ppl"]["perplexity"].get<double>() - ppl[2].value) < 1e-6 * ppl[2].value);
        QVERIFY(std::abs(out["base"]["ppl"]["perplexity"].get<double>()
                    - metrics.series(*m_runId, "eval_base/ppl/perplexity")[0].value)
            < 1e-12);
        QCOMPARE(metrics.series(*m_runId, "eval_base/ppl/perplexity").size(), 2u);
        QCOMPARE(metrics.series(*m_runId, "eval_delta/mc/acc").size(), 4u);

        // Another limit is another base: evaluated, then cached.
        QStringList three = args;
        three[three.indexOf("--limit") + 1] = "3";
        QCOMPARE(parseOneObject(runCli(three).out)["base_cached"].get<bool>(), false);
        QCOMPARE(parseOneObject(runCli(three).out)["base_cached"].get<bool>(), true);
    }

    void cliUsageErrors()
    {
        const QString tasks = QString::fromStdString(m_tasks.string());
        QCOMPARE(runCli({ "evaluate", "--tasks", tasks }).code, 2);
        QCOMPARE(runCli({ "evaluate", "--model", qpath("model"), "--run", "1", "--tasks", tasks }).code, 2);
        QCOMPARE(runCli({ "evaluate", "--model", qpath("model") }).code, 2);
        const CliResult noWorkspace = runCli({ "evaluate", "--run", "1", "--tasks", tasks });
        QCOMPARE(noWorkspace.code, 2);
        QVERIFY(noWorkspace.err.contains("--workspace"));
        const CliResult help = runCli({ "evaluate", "--help" });
        QCOMPARE(help.code, 0);
        QVERIFY(help.out.contains("acc_norm"));
    }

    void configuration_data()
    {
        QTest::addColumn<QString>("evaluation");
        QTest::addColumn<QString>("expected");
        QTest::newRow("misspelt key") << R"({"tasks": "t.yaml", "step": 2})"
                                      << "unknown key 'evaluation.step'";
        QTest::newRow("not a mapping") << R"("t.yaml")"
                                       << "section 'evaluation' must be a mapping";
        QTest::newRow("negative steps") << R"({"tasks": "t.yaml", "steps": -1})"
                                        << "evaluation_steps";
    }
    void configuration()
    {
        QFETCH(QString, evaluation);
        QFETCH(QString, expected);
        json c = { { "model", m_model.string() }, { "dataset", m_data.string() } };
        c["evaluation"] = json::parse(evaluation.toStdString());
        try {
            TrainConfig::fromJson(c, m_plugins, "run.yaml");
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(expected), e.what());
            QVERIFY2(QString(e.what()).contains("run.yaml"), e.what());
        }
    }

    void badTasksFileFailsBeforeTraining()
    {
        std::ofstream(path("broken.yaml")) << "tasks:\n  - {name: x, kind: essay, data: mc.jsonl}\n";
        json c = { { "model", m_model.string() }, { "dataset", m_data.string() }, { "max_steps", 1 },
            { "evaluation", { { "tasks", path("broken.yaml").string() } } } };
        TrainerOptions o;
        o.runDir = path("broken-run");
        try {
            runTraining(TrainConfig::fromJson(c, m_plugins, "test config"), m_plugins, o);
            QFAIL("trained");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("broken.yaml") && QString(e.what()).contains("key 'kind'"), e.what());
        }
    }

    // A run file's relative tasks path is relative to the file, stored absolute (runs create and train CONFIG).
    void relativeTasksPathResolved()
    {
        fs::create_directories(path("configs"));
        std::ofstream(path("configs/run.yaml")) << "model: " << m_model.string() << "\ndataset: " << m_data.string()
                                                << "\nmax_steps: 1\nevaluation:\n  tasks: ../tasks/tasks.yaml\n"
                                                << "  steps: 5\n";
        const CliResult r
            = runCli({ "runs", "create", "--workspace", qpath("ws"), "--config", qpath("configs/run.yaml") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        Workspace ws = Workspace::open(path("ws"));
        const auto run = RunStore(ws.db()).find(r.out.trimmed().toLongLong());
        QVERIFY(run);
        const json stored = json::parse(run->configJson);
        QCOMPARE(stored["evaluation"]["tasks"].get<std::string>(),
            fs::weakly_canonical(m_tasks).lexically_normal().string());
        const TrainConfig config = TrainConfig::fromJson(stored, m_plugins, "stored");
        QCOMPARE(config.evaluationTasks, stored["evaluation"]["tasks"].get<std::string>());
        QCOMPARE(config.evaluationSteps, 5);
        QCOMPARE(config.toJson()["evaluation_tasks"].get<std::string>(), config.evaluationTasks);
    }
};

QTEST_GUILESS_MAIN(TestEvaluationRuns)
#include "test_evaluation_runs.moc"
