// Merging runs through the CLI as a user would: two tiny runs (full
// fine-tuning and LoRA) on one base model are merged with each method; the new
// run is checked in `runs show` (status, adapter, lineage, eval_loss) and its
// `export --format merged` folder must hold exactly the weights the merge
// functions compute from base and parents. Then the refusals: an adapter that
// cannot be folded, different base models, bad flags, unknown runs.

#include "core/merge/merge_methods.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/train/run_adapter.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestMergeRuns : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_otherModel; // a copy elsewhere: another base model path
    fs::path m_data;
    QString m_ws;
    PluginRegistry m_plugins;
    StateDict m_base;
    std::vector<StateDict> m_parents; // runs 1 and 2 with their adapters folded in

    QString writeConfig(const std::string& name, const fs::path& model, const std::string& adapter, int steps)
    {
        const QString path = m_dir.path() + "/" + QString::fromStdString(name) + ".yaml";
        const std::string yaml = "name: " + name + "\nmodel: " + model.string() + "\ndataset: " + m_data.string()
            + "\nobjective: sft\nadapter:\n" + adapter
            + "training:\n  learning_rate: 2.0e-2\n  max_steps: " + std::to_string(steps)
            + "\n  per_device_train_batch_size: 4\n  seed: 42\n  cutoff_len: 96\n  val_size: 0.25\n  threads: 1\n";
        writeTextFile(path, QByteArray::fromStdString(yaml));
        return path;
    }

    void train(const QString& config)
    {
        const CliResult r = runCli({ "train", config, "--workspace", m_ws });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out.right(600)));
    }

    json runShow(std::int64_t id)
    {
        const CliResult r = runCli({ "runs", "show", QString::number(id), "--workspace", m_ws });
        if (r.code != 0)
            return json();
        return json::parse(r.out.toStdString());
    }

    int runCount()
    {
        const CliResult r = runCli({ "runs", "list", "--workspace", m_ws });
        return static_cast<int>(r.out.split('\n', Qt::SkipEmptyParts).size());
    }

    StateDict foldedRun(std::int64_t id)
    {
        auto model = loadCausalLM(m_model);
        auto adapter = loadRunAdapter(
            fs::path(m_ws.toStdString()) / "runs" / std::to_string(id) / "adapter", *model, m_plugins, m_model);
        if (adapter->canMerge()) {
            at::NoGradGuard noGrad;
            adapter->merge();
        }
        StateDict s;
        for (const auto& [name, t] : model->namedParameters())
            s[name] = t.detach().clone();
        return s;
    }

    // The merged run exported as a model folder holds `expected`, tensor for tensor.
    void checkExport(std::int64_t runId, const StateDict& expected, const QString& tag)
    {
        const QString out = m_dir.path() + "/export-" + tag;
        const CliResult e = runCli(
            { "export", "--workspace", m_ws, "--run", QString::number(runId), "--format", "merged", "--out", out });
        QVERIFY2(e.code == 0, qPrintable(e.err));
        auto folded = loadCausalLM(out.toStdString());
        const auto params = folded->namedParameters();
        QCOMPARE(params.size(), expected.size());
        double worst = 0;
        std::string where;
        for (const auto& [name, t] : params) {
            QVERIFY2(expected.count(name), name.c_str());
            const double d = model_test::maxAbsDiff(t, expected.at(name));
            if (d > worst) {
                worst = d;
                where = name;
            }
        }
        QVERIFY2(worst < 1e-6, qPrintable(QString("%1 differs by %2").arg(QString::fromStdString(where)).arg(worst)));
        // ... and the merge changed something: it is not the base model.
        double moved = 0;
        for (const auto& [name, t] : params)
            moved = std::max(moved, model_test::maxAbsDiff(t, m_base.at(name)));
        QVERIFY(moved > 1e-4);
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        const fs::path root = m_dir.path().toStdString();
        m_model = root / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        m_otherModel = root / "other-model";
        fs::copy(m_model, m_otherModel, fs::copy_options::recursive);
        m_data = root / "data.jsonl";
        {
            std::ofstream out(m_data);
            const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
                "the sun rose over the hill" };
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        }
        m_ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", m_ws }).code, 0);
        train(writeConfig("full-run", m_model, "  type: full\n", 3)); // run 1
        train(writeConfig(
            "lora-run", m_model, "  type: lora\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear\n", 3)); // run 2
        train(writeConfig("prompt-run", m_model, "  type: prompt_tuning\n  num_virtual_tokens: 2\n", 1)); // run 3
        train(writeConfig("other-base", m_otherModel, "  type: full\n", 1)); // run 4
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        for (const auto& [name, t] : loadCausalLM(m_model)->namedParameters())
            m_base[name] = t.detach().clone();
        m_parents = { foldedRun(1), foldedRun(2) };
    }

    void mergesWithEachMethod_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QStringList>("flags");
        QTest::newRow("soup") << "soup" << QStringList { "--weights", "2,1" };
        QTest::newRow("greedy_soup") << "greedy_soup" << QStringList {};
        QTest::newRow("greedy_soup-eval-file") << "greedy_soup" << QStringList { "--eval-dataset", "DATA" };
        QTest::newRow("task_arithmetic") << "task_arithmetic" << QStringList { "--scaling", "0.7" };
        QTest::newRow("ties") << "ties" << QStringList { "--density", "0.5", "--scaling", "1.2" };
        QTest::newRow("breadcrumbs") << "breadcrumbs"
                                     << QStringList { "--beta", "0.05", "--gamma", "0.5", "--scaling", "0.8" };
        QTest::newRow("lines") << "lines" << QStringList { "--alpha", "0.3", "--beta", "0.6", "--weights", "1,0.5" };
    }

    void mergesWithEachMethod()
    {
        QFETCH(QString, method);
        QFETCH(QStringList, flags);
        flags.replaceInStrings("DATA", QString::fromStdString(m_data.string()));
        const QString name = "merged-" + QString::fromUtf8(QTest::currentDataTag());
        const CliResult r = runCli(
            QStringList { "merge", "--workspace", m_ws, "--runs", "1,2", "--method", method, "--name", name } + flags);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QStringList outLines = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(outLines.size(), 1); // one JSON line on stdout
        const json summary = json::parse(outLines.front().toStdString());
        const std::int64_t id = summary.at("run_id").get<std::int64_t>();
        QCOMPARE(QString::fromStdString(summary.at("method").get<std::string>()), method);
        QVERIFY(summary.at("parents") == json::array({ 1, 2 }));

        const json shown = runShow(id);
        QVERIFY(!shown.is_null());
        QCOMPARE(QString::fromStdString(shown["status"].get<std::string>()), QString("finished"));
        QCOMPARE(QString::fromStdString(shown["adapter"].get<std::string>()), QString("full"));
        QCOMPARE(QString::fromStdString(shown["name"].get<std::string>()), name);
        QCOMPARE(shown["parent_run_id"].get<std::int64_t>(), std::int64_t(1));
        const json lineage = shown["lineage"];
        QCOMPARE(QString::fromStdString(lineage["method"].get<std::string>()), method);
        QVERIFY(lineage["parents"] == json::array({ 1, 2 }));
        QCOMPARE(
            QString::fromStdString(lineage["base_model"].get<std::string>()), QString::fromStdString(m_model.string()));
        QVERIFY(lineage["parent_adapters"] == json::array({ "full", "lora" }));
        QVERIFY(lineage["params"] == summary["params"]);
        // The parents evaluated on one split of one dataset: the merge is measured there too.
        QVERIFY2(shown["metrics"].contains("eval_loss"), shown.dump().c_str());
        const double evalLoss = shown["metrics"]["eval_loss"]["last"].get<double>();
        QVERIFY(std::isfinite(evalLoss) && evalLoss > 0);
        QCOMPARE(evalLoss, summary["eval_loss"].get<double>());

        const json p = summary["params"];
        StateDict expected;
        if (method == "soup") {
            expected = uniformSoup(m_parents, { 2, 1 });
        } else if (method == "greedy_soup") {
            std::vector<StateDict> kept;
            for (const auto& k : summary.at("kept"))
                kept.push_back(m_parents.at(static_cast<std::size_t>(k.get<int>() - 1)));
            expected = uniformSoup(kept);
            QCOMPARE(summary.at("ingredients").size(), 2u);
            QVERIFY(summary.at("ingredients")[0]["kept"].get<bool>());
            if (flags.contains("--eval-dataset"))
                QCOMPARE(QString::fromStdString(summary["eval_set"].get<std::string>()),
                    QString::fromStdString(m_data.string()));
            else
                QVERIFY(QString::fromStdString(summary["eval_set"].get<std::string>()).contains("eval split"));
        } else if (method == "task_arithmetic") {
            QCOMPARE(p["scaling"].get<double>(), 0.7);
            expected = taskArithmetic(m_base, m_parents, 0.7);
        } else if (method == "ties") {
            QCOMPARE(p["density"].get<double>(), 0.5);
            expected = ties(m_base, m_parents, 0.5, 1.2);
        } else if (method == "breadcrumbs") {
            expected = breadcrumbs(m_base, m_parents, 0.05, 0.5, 0.8);
        } else {
            QVERIFY(p["weights"] == json::array({ 1.0, 0.5 }));
            expected = tunebench::lines(m_base, m_parents, 2, 0.3, 0.6, { 1, 0.5 });
        }
        checkExport(id, expected, QString::fromUtf8(QTest::currentDataTag()));
    }

    void linesWorksOnOneRun()
    {
        const CliResult r = runCli({ "merge", "--workspace", m_ws, "--runs", "1", "--method", "lines" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json summary = json::parse(r.out.trimmed().toStdString());
        QVERIFY(summary["parents"] == json::array({ 1 }));
        QCOMPARE(summary["params"]["alpha"].get<double>(), 0.5);
        const std::int64_t id = summary["run_id"].get<std::int64_t>();
        QCOMPARE(QString::fromStdString(runShow(id)["name"].get<std::string>()), QString("merge-lines-1"));
        checkExport(id, lines(m_base, { m_parents[0] }, 2, 0.5, 0.5), "lines-one");
    }

    void evalLossIsTheTrainersEvalLoss()
    {
        // What the merge measures a parent at on the shared split is what the trainer logged at its last eval.
        const CliResult r = runCli({ "merge", "--workspace", m_ws, "--runs", "1,2", "--method", "soup" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json summary = json::parse(r.out.trimmed().toStdString());
        for (int parent : { 1, 2 }) {
            const double trainer = runShow(parent)["metrics"]["eval_loss"]["last"].get<double>();
            const double measured = summary["parent_eval_loss"][std::to_string(parent)].get<double>();
            QVERIFY2(std::abs(trainer - measured) < 1e-4,
                qPrintable(QString("run %1: trainer %2, merge %3").arg(parent).arg(trainer).arg(measured)));
        }
    }

    void refusals_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QStringList>("message");
        QTest::newRow("prompt tuning") << QStringList { "--runs", "1,3", "--method", "soup" } << 1
                                       << QStringList { "run 3", "cannot be folded" };
        QTest::newRow("other base") << QStringList { "--runs", "1,4", "--method", "task_arithmetic" } << 1
                                    << QStringList { "share one base model", QString::fromStdString(m_model.string()),
                                           QString::fromStdString(m_otherModel.string()) };
        QTest::newRow("unknown method") << QStringList { "--runs", "1,2", "--method", "dare" } << 2
                                        << QStringList { "--method", "greedy_soup" };
        QTest::newRow("flag the method lacks") << QStringList { "--runs", "1,2", "--method", "soup", "--density",
            "0.5" } << 2 << QStringList { "--density", "takes no parameter" };
        QTest::newRow("not a number") << QStringList { "--runs", "1,2", "--method", "ties", "--scaling", "abc" } << 2
                                      << QStringList { "--scaling", "expected a number" };
        QTest::newRow("density out of range") << QStringList { "--runs", "1,2", "--method", "ties", "--density", "1.5" }
                                              << 2 << QStringList { "--density", "[0" };
        QTest::newRow("weights count") << QStringList { "--runs", "1,2", "--method", "soup", "--weights", "1" } << 2
                                       << QStringList { "--weights", "one weight per run" };
        QTest::newRow("bad run list") << QStringList { "--runs", "1,x", "--method", "soup" } << 2
                                      << QStringList { "--runs" };
        QTest::newRow("unknown run") << QStringList { "--runs", "1,99", "--method", "soup" } << 1
                                     << QStringList { "no run with id 99" };
        QTest::newRow("run twice") << QStringList { "--runs", "1,1", "--method", "soup" } << 1
                                   << QStringList { "named twice" };
        QTest::newRow("soup of one") << QStringList { "--runs", "1", "--method", "soup" } << 1
                                     << QStringList { "at least 2" };
        QTest::newRow("missing eval dataset")
            << QStringList { "--runs", "1,2", "--method", "greedy_soup", "--eval-dataset", "/nonexistent/val.jsonl" }
            << 1 << QStringList { "/nonexistent/val.jsonl" };
    }

    void refusals()
    {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QStringList, message);
        const int before = runCount();
        const CliResult r = runCli(QStringList { "merge", "--workspace", m_ws } + args);
        QVERIFY2(r.code == code, qPrintable(QString("exit %1: %2").arg(r.code).arg(r.err)));
        for (const QString& m : message)
            QVERIFY2(r.err.contains(m), qPrintable(r.err + " lacks " + m));
        QVERIFY(r.out.isEmpty());
        QCOMPARE(runCount(), before); // refused before anything was recorded
    }
};

QTEST_GUILESS_MAIN(TestMergeRuns)
#include "test_merge_runs.moc"
