// Every adapter plugin through the product's real paths: `tunebench-cli train
// CONFIG.yaml` with the adapter's run section (the `run:` of its conformance
// file, plugins/<name>/conformance.yaml) trains it (exit 0, the loss
// falls), and a run stopped part-way and resumed gives the same losses, step
// for step, as the uninterrupted CLI run; `export --format merged` writes a
// folder that computes what base + adapter computes (refused where the file
// says merged_export: false, as for prompt and prefix tuning). Steps cross
// epochs (HFT re-draws its halves), a sparse fine-tuning's dense phase and
// chain-of-LoRA's links. Plugins on TUNEBENCH_PLUGIN_PATH are run too.

#include "core/conformance/adapter_conformance.h"
#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/train/run_adapter.h"
#include "core/train/trainer.h"
#include "core/util/yaml_json.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"
#include "support/test_plugins.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <fstream>
#include <map>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestAdapterRuns : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;
    std::map<std::string, ConformanceSpec> m_specs;

    json adapterSection(const std::string& adapter) const
    {
        json section = m_specs.at(adapter).run;
        section["type"] = adapter;
        return section;
    }

    QString writeConfig(const std::string& adapter)
    {
        const QString path = m_dir.path() + "/" + QString::fromStdString(adapter) + ".yaml";
        const std::string yaml = "name: " + adapter + "-run\nmodel: " + m_model.string()
            + "\ndataset: " + m_data.string() + "\nobjective: sft\nadapter: " + adapterSection(adapter).dump()
            + "\ntraining:\n  learning_rate: 1.0e-2\n  max_steps: 6\n  per_device_train_batch_size: 4\n"
              "  lr_scheduler_type: cosine\n  warmup_steps: 1\n  weight_decay: 0.01\n  seed: 42\n"
              "  cutoff_len: 96\n  save_steps: 3\n  threads: 1\n";
        writeTextFile(path, QByteArray::fromStdString(yaml));
        return path;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        // 8 examples, 4 a batch: two steps an epoch, so six steps span three epochs.
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
            "the sun rose over the hill" };
        for (int i = 0; i < 8; ++i)
            out << json({ { "instruction", "say something" }, { "output", lines[i % 4] } }).dump() << "\n";
        m_plugins.load(test_plugins::folders());
        QVERIFY(m_plugins.broken().empty());
        for (const PluginInfo& p : m_plugins.plugins()) {
            if (p.kind == PluginKind::Adapter)
                m_specs.emplace(p.name, readConformanceSpec(p.conformanceFile()));
        }
    }

    void promptsFillingTheCutoffAreAnError()
    {
        json config = readYamlOrJsonFile(writeConfig("full").toStdString());
        config["training"]["cutoff_len"] = 8; // the Alpaca prompt alone is longer
        try {
            TrainerOptions o;
            o.runDir = fs::path(m_dir.path().toStdString()) / "cut";
            runTraining(TrainConfig::fromJson(config, m_plugins, "cut.yaml"), m_plugins, o);
            QFAIL("trained on nothing");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("no example keeps a response token within cutoff_len 8"), e.what());
        }
    }

    void trainsFromYamlAndResumesExactly_data()
    {
        QTest::addColumn<QString>("adapter");
        for (const auto& [name, spec] : m_specs)
            QTest::newRow(name.c_str()) << QString::fromStdString(name);
    }

    void trainsFromYamlAndResumesExactly()
    {
        QFETCH(QString, adapter);
        const std::string name = adapter.toStdString();
        const QString config = writeConfig(name);
        const QString ws = m_dir.path() + "/ws-" + adapter;
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);

        // The uninterrupted run, through the CLI.
        const CliResult r = runCli({ "train", config, "--workspace", ws });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out.right(600)));
        std::vector<double> straight;
        for (const QString& line : r.out.split('\n', Qt::SkipEmptyParts)) {
            const json e = json::parse(line.toStdString());
            if (e["event"] == "step")
                straight.push_back(e["loss"].get<double>());
        }
        QCOMPARE(straight.size(), 6u);
        QVERIFY2(straight.back() < straight.front(),
            qPrintable(QString("loss %1 -> %2").arg(straight.front()).arg(straight.back())));

        // Exported as a merged model folder: the bare folder computes what base + adapter computes.
        const QString merged = m_dir.path() + "/merged-" + adapter;
        const CliResult exported
            = runCli({ "export", "--workspace", ws, "--run", "1", "--format", "merged", "--out", merged });
        if (!m_specs.at(name).mergedExport) {
            QCOMPARE(exported.code, 1);
            QVERIFY2(exported.err.contains("cannot be folded into the model's weights"), qPrintable(exported.err));
        } else {
            QVERIFY2(exported.code == 0, qPrintable(exported.err));
            auto tuned = loadCausalLM(m_model);
            const auto attached
                = loadRunAdapter(fs::path(ws.toStdString()) / "runs" / "1" / "adapter", *tuned, m_plugins, m_model);
            auto folded = loadCausalLM(merged.toStdString());
            QVERIFY(fs::exists(fs::path(merged.toStdString()) / "tokenizer.json"));
            at::NoGradGuard noGrad;
            ForwardInput in;
            in.inputIds = model_test::randomIds(2, 10, 4, model_test::kTinyTokenizerVocab);
            const double diff = model_test::maxAbsDiff(tuned->forward(in).logits, folded->forward(in).logits);
            QVERIFY2(diff < 1e-4, qPrintable(QString("merged model differs by %1").arg(diff)));
        }

        // Stopped after step 3 (its checkpoint), then resumed: the same losses, bit for bit.
        const TrainConfig c
            = TrainConfig::fromJson(readYamlOrJsonFile(config.toStdString()), m_plugins, config.toStdString());
        const fs::path runDir = fs::path(m_dir.path().toStdString()) / ("resumed-" + name);
        std::vector<double> resumed;
        std::atomic<bool> cancel { false };
        TrainerOptions o;
        o.runDir = runDir;
        o.cancel = &cancel;
        o.events = [&](const json& e) {
            if (e["event"] == "step") {
                resumed.push_back(e["loss"].get<double>());
                if (e["step"].get<int>() == 3)
                    cancel = true;
            }
        };
        QVERIFY(runTraining(c, m_plugins, o).status == TrainResult::Status::Cancelled);
        QCOMPARE(resumed.size(), 3u);
        cancel = false;
        o.resume = true;
        QVERIFY(runTraining(c, m_plugins, o).status == TrainResult::Status::Finished);
        QCOMPARE(resumed.size(), straight.size());
        for (std::size_t i = 0; i < straight.size(); ++i)
            QVERIFY2(resumed[i] == straight[i],
                qPrintable(QString("step %1: resumed %2, uninterrupted %3")
                               .arg(i + 1)
                               .arg(resumed[i], 0, 'g', 17)
                               .arg(straight[i], 0, 'g', 17)));
    }
};

QTEST_GUILESS_MAIN(TestAdapterRuns)
#include "test_adapter_runs.moc"
