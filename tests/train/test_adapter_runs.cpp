// Every adapter plugin through the product's real paths: `tunebench-cli train
// CONFIG.yaml` with the adapter's YAML section trains it (exit 0, the loss
// falls), and a run stopped part-way and resumed gives the same losses, step
// for step, as the uninterrupted CLI run; `export --format merged` writes a
// folder that computes what base + adapter computes (prompt and prefix tuning
// are refused). Steps cross epochs (HFT re-draws its
// halves), a sparse fine-tuning's dense phase and chain-of-LoRA's links.
// A loaded adapter without a row here fails the test.

#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/train/run_adapter.h"
#include "core/train/trainer.h"
#include "core/util/yaml_json.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

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

namespace {

// The adapter section of the YAML, per adapter (the model: Llama, hidden 32, 2 layers).
const std::map<std::string, std::string> kAdapterSections = {
    { "full", "  type: full\n" }, { "freeze", "  type: freeze\n  trainable_layers: 1\n  layerwise_lr_decay: 0.8\n" },
    { "bitfit", "  type: bitfit\n" },
    { "lora", "  type: lora\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.1\n  target_modules: [q_proj, v_proj]\n" },
    { "rslora", "  type: rslora\n  r: 4\n  lora_alpha: 8\n  target_modules: all-linear\n" },
    { "dora",
        "  type: dora\n  r: 4\n  lora_alpha: 8\n  lora_dropout: 0.1\n  target_modules: [q_proj, v_proj, down_proj]\n" },
    { "pissa", "  type: pissa\n  r: 4\n  lora_alpha: 4\n  target_modules: [q_proj, v_proj]\n" },
    // Links of 2 steps: new links start at steps 2 and 4, around the stop after step 3.
    { "chain_of_lora",
        "  type: chain_of_lora\n  r: 4\n  lora_alpha: 8\n  chain_links: 3\n  chain_link_steps: 2\n  target_modules: "
        "all-linear\n" },
    { "hft", "  type: hft\n  hft_ratio: 0.5\n" }, // two steps an epoch: a new half at steps 3 and 5
    { "ia3", "  type: ia3\n" },
    // The dense phase ends after step 2; the stop after step 3 is in the sparse phase.
    { "sparse", "  type: sparse\n  dense_steps: 2\n  density: 0.05\n" },
    { "prompt_tuning",
        "  type: prompt_tuning\n  num_virtual_tokens: 4\n  prompt_tuning_init: text\n  prompt_tuning_init_text: say "
        "something\n" },
    { "prefix_tuning",
        "  type: prefix_tuning\n  num_virtual_tokens: 4\n  prefix_projection: true\n  encoder_hidden_size: 16\n" },
    // @adapter-rows
};

} // namespace

class TestAdapterRuns : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    QString writeConfig(const std::string& adapter)
    {
        const QString path = m_dir.path() + "/" + QString::fromStdString(adapter) + ".yaml";
        const std::string yaml = "name: " + adapter + "-run\nmodel: " + m_model.string()
            + "\ndataset: " + m_data.string() + "\nobjective: sft\nadapter:\n" + kAdapterSections.at(adapter)
            + "training:\n  learning_rate: 1.0e-2\n  max_steps: 6\n  per_device_train_batch_size: 4\n"
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
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
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

    void everyAdapterHasARow()
    {
        for (const PluginInfo& p : m_plugins.plugins()) {
            if (p.kind == PluginKind::Adapter)
                QVERIFY2(kAdapterSections.count(p.name), ("no run configuration for adapter " + p.name).c_str());
        }
    }

    void trainsFromYamlAndResumesExactly_data()
    {
        QTest::addColumn<QString>("adapter");
        for (const auto& [name, section] : kAdapterSections) {
            if (m_plugins.find(PluginKind::Adapter, name))
                QTest::newRow(name.c_str()) << QString::fromStdString(name);
        }
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
        if (name == "prompt_tuning" || name == "prefix_tuning") {
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
