// mergeRuns' stages one at a time (MergeJob), without training: run rows made
// in the store and `full` adapters written by hand on a tiny model. The
// refusals each stage owns, before anything is written; what loadStates reads
// (each parent's weights as saved); a soup of two such runs written back as a
// run whose adapter loads to the average. And foldAdapterIntoWeights, the one
// place that folds an adapter into weights or refuses: LoRA folds to the same
// logits, prompt tuning is refused naming the subject.

#include "core/export/peft_adapter.h"
#include "core/merge/merge_job.h"
#include "core/method/adapter_fold.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_loader.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestMergeJob : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_otherModel;
    std::optional<Workspace> m_ws;
    PluginRegistry m_plugins;
    StateDict m_base;

    // A run row on `model` with the status; with a `full` adapter holding base + shift * (a fixed pattern).
    std::int64_t addRun(const std::string& name, RunStatus status, const fs::path& model, std::optional<double> shift)
    {
        NewRun run;
        run.name = name;
        run.adapter = "full";
        run.objective = "sft";
        run.modelPath = model.string();
        RunStore runs(m_ws->db());
        const std::int64_t id = runs.create(run);
        runs.setStatus(id, status);
        if (shift) {
            RunAdapterFiles files;
            files.adapter = "full";
            files.model = model.string();
            for (const auto& [key, tensor] : m_base)
                files.state.emplace_back(key, tensor + *shift * shiftPattern(tensor));
            files.write(m_ws->runDir(id) / "adapter");
        }
        return id;
    }

    static at::Tensor shiftPattern(const at::Tensor& like)
    {
        return at::arange(like.numel(), like.options()).reshape(like.sizes()).remainder(7) / 7.0 - 0.5;
    }

    std::size_t runCount() { return RunStore(m_ws->db()).list().size(); }

    std::unique_ptr<Adapter> attach(CausalLM& model, const std::string& name, const json& params)
    {
        auto adapter = m_plugins.createAdapter(name);
        json config = params;
        const json resolved = m_plugins.require(PluginKind::Adapter, name).schema.resolve(config, "test");
        model.setRequiresGrad(false);
        adapter->attach({ model, resolved, 5 });
        return adapter;
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
        m_ws.emplace(Workspace::create(root / "ws"));
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        for (const auto& [name, t] : loadCausalLM(m_model)->namedParameters())
            m_base[name] = t.detach().clone();
        addRun("a", RunStatus::Finished, m_model, 0.01); // 1
        addRun("b", RunStatus::Cancelled, m_model, -0.03); // 2
        addRun("running", RunStatus::Running, m_model, 0.01); // 3
        addRun("no-adapter", RunStatus::Finished, m_model, std::nullopt); // 4
        addRun("other-base", RunStatus::Finished, m_otherModel, 0.01); // 5
    }

    // Each refusal comes from resolveParameters or checkParents and names what is wrong; no run is added.
    void refusals_data()
    {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QList<qint64>>("runs");
        QTest::addColumn<QString>("params");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("soup of one") << "soup" << QList<qint64> { 1 } << "{}"
                                     << QStringList { "soup needs at least 2 runs, got 1" };
        QTest::newRow("weights per run") << "soup" << QList<qint64> { 1, 2 } << R"({"weights": [1, 2, 3]})"
                                         << QStringList { "3 weights for 2 runs" };
        QTest::newRow("unknown parameter")
            << "ties" << QList<qint64> { 1 } << R"({"alpha": 1})" << QStringList { "ties takes no parameter 'alpha'" };
        QTest::newRow("named twice") << "soup" << QList<qint64> { 1, 1 } << "{}"
                                     << QStringList { "run 1 is named twice" };
        QTest::newRow("unknown run") << "soup" << QList<qint64> { 1, 99 } << "{}"
                                     << QStringList { "no run with id 99" };
        QTest::newRow("still running") << "soup" << QList<qint64> { 1, 3 } << "{}"
                                       << QStringList { "run 3 ('running') is running" };
        QTest::newRow("no adapter") << "soup" << QList<qint64> { 4, 1 } << "{}"
                                    << QStringList { "run 4 ('no-adapter') has no saved adapter" };
        QTest::newRow("other base") << "soup" << QList<qint64> { 1, 5 } << "{}"
                                    << QStringList { "share one base model", "other-model", "run 5" };
    }
    void refusals()
    {
        QFETCH(QString, method);
        QFETCH(QList<qint64>, runs);
        QFETCH(QString, params);
        QFETCH(QStringList, expected);
        MergeRequest request;
        request.method = method.toStdString();
        request.runIds.assign(runs.begin(), runs.end());
        request.params = json::parse(params.toStdString());
        const std::size_t before = runCount();
        MergeJob job(*m_ws, m_plugins, request);
        QString error;
        try {
            job.resolveParameters();
            job.checkParents();
        } catch (const InputError& e) {
            error = e.what();
        }
        for (const QString& piece : expected)
            QVERIFY2(error.contains(piece), qPrintable(error));
        QCOMPARE(runCount(), before);
    }

    // Every stage on two hand-made runs: the states read back as written, a soup of them saved as a finished run
    // whose adapter loads to the average.
    void soupStageByStage()
    {
        MergeRequest request;
        request.method = "soup";
        request.runIds = { 2, 1 };
        MergeJob job(*m_ws, m_plugins, request);
        job.resolveParameters();
        QVERIFY(job.weights().empty());
        job.checkParents();
        QCOMPARE(job.parents().size(), std::size_t { 2 });
        QCOMPARE(job.parents()[0].name, std::string("b"));
        job.loadStates();
        QCOMPARE(job.parentStates().size(), std::size_t { 2 });
        const std::string name = "model.layers.1.mlp.down_proj.weight";
        const at::Tensor& base = m_base.at(name);
        QVERIFY(model_test::maxAbsDiff(job.baseState().at(name), base) == 0);
        QVERIFY(model_test::maxAbsDiff(job.parentStates()[0].at(name), base - 0.03 * shiftPattern(base)) < 1e-7);
        QVERIFY(model_test::maxAbsDiff(job.parentStates()[1].at(name), base + 0.01 * shiftPattern(base)) < 1e-7);
        job.chooseValidationSet();
        QVERIFY(!job.validationSet());
        QVERIFY2(QString::fromStdString(job.validationNote()).contains("has no training configuration"),
            job.validationNote().c_str());
        job.merge();
        QVERIFY(model_test::maxAbsDiff(job.merged().at(name), base - 0.01 * shiftPattern(base)) < 1e-7);

        const std::size_t before = runCount();
        job.recordRun();
        job.writeAdapter();
        job.measure();
        job.finish();
        QCOMPARE(runCount(), before + 1);
        const MergeOutcome& out = job.outcome();
        const auto record = RunStore(m_ws->db()).find(out.runId);
        QVERIFY(record);
        QVERIFY(record->status == RunStatus::Finished);
        QCOMPARE(record->name, std::string("merge-soup-2-1"));
        QCOMPARE(record->parentRunId.value_or(0), std::int64_t { 2 });
        QCOMPARE(out.lineage.at("parents").dump(), std::string("[2,1]"));
        QVERIFY(out.summary.at("eval_loss").is_null());
        QVERIFY(out.summary.contains("eval_note"));
        auto model = loadCausalLM(m_model);
        auto adapter = loadRunAdapter(m_ws->runDir(out.runId) / "adapter", *model, m_plugins, m_model);
        for (const auto& [key, t] : model->namedParameters())
            QVERIFY2(model_test::maxAbsDiff(t, job.merged().at(key)) == 0, key.c_str());
    }

    // LoRA folds into the weights: no hook left, the same logits as with the adapter attached.
    void foldMergesLora()
    {
        auto model = loadCausalLM(m_model);
        auto adapter = attach(*model, "lora", { { "r", 2 } });
        {
            at::NoGradGuard noGrad;
            at::manual_seed(4);
            for (auto& g : adapter->parameterGroups(0.0)) {
                for (auto& p : g.parameters)
                    p.tensor.add_(at::randn_like(p.tensor) * 0.1);
            }
        }
        const at::Tensor ids = model_test::randomIds(2, 6, 8);
        const at::Tensor hooked = model_test::logitsOf(*model, ids);
        foldAdapterIntoWeights(*adapter, *model, "test");
        for (const Linear* layer : model->linears())
            QVERIFY(layer->hook() == nullptr);
        const double diff = model_test::maxAbsDiff(model_test::logitsOf(*model, ids), hooked);
        QVERIFY2(diff < 1e-5, qPrintable(QString("folded logits differ by %1").arg(diff)));
    }

    // Prompt tuning adds inputs: refused with the caller's subject and advice.
    void foldRefusesPromptTuning()
    {
        auto model = loadCausalLM(m_model);
        auto adapter = attach(*model, "prompt_tuning", { { "num_virtual_tokens", 2 } });
        QString error;
        try {
            foldAdapterIntoWeights(*adapter, *model, "run 7's adapter", "export it as an adapter instead");
        } catch (const InputError& e) {
            error = e.what();
        }
        QCOMPARE(error,
            QString("run 7's adapter cannot be folded into the model's weights (prompt and prefix tuning add inputs, "
                    "not weights); export it as an adapter instead"));
    }
};

QTEST_GUILESS_MAIN(TestMergeJob)
#include "test_merge_job.moc"
