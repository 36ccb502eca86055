// The trainer end to end on a tiny random model: learning, exact resume,
// checkpoints, NaN handling, configuration errors, and the CLI.

#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/checkpoint.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestTrainer : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    json baseConfig() const
    {
        return { { "model", m_model.string() }, { "dataset", m_data.string() }, { "learning_rate", 1e-2 },
            { "per_device_train_batch_size", 4 }, { "num_train_epochs", 2 }, { "seed", 7 }, { "threads", 1 } };
    }

    struct Run {
        TrainResult result;
        std::vector<json> events;
        std::vector<double> losses;
    };

    Run train(const json& config, const fs::path& runDir, bool resume = false, int cancelAfterStep = 0)
    {
        Run run;
        std::atomic<bool> cancel { false };
        TrainerOptions o;
        o.runDir = runDir;
        o.resume = resume;
        o.cancel = &cancel;
        o.events = [&](const json& e) {
            run.events.push_back(e);
            if (e["event"] == "step") {
                run.losses.push_back(e["loss"].get<double>());
                if (cancelAfterStep > 0 && e["step"].get<int>() == cancelAfterStep)
                    cancel = true;
            }
        };
        run.result = runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
        return run;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
            "the sun rose over the hill" };
        for (int i = 0; i < 32; ++i)
            out << json({ { "text", lines[i % 4] } }).dump() << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY2(m_plugins.find(PluginKind::Adapter, "lora"), "the built-in plugins were not found");
    }

    void fullFineTuningLearns()
    {
        const Run run = train(baseConfig(), fs::path(m_dir.path().toStdString()) / "full");
        QCOMPARE(run.result.status, TrainResult::Status::Finished);
        QCOMPARE(run.result.steps, 16); // 32 examples / 4 per batch * 2 epochs
        QCOMPARE(run.result.trainableParameters, run.result.totalParameters);
        QVERIFY2(run.losses.back() < 0.6 * run.losses.front(),
            qPrintable(QString("%1 -> %2").arg(run.losses.front()).arg(run.losses.back())));
        QCOMPARE(run.events.front()["event"].get<std::string>(), std::string("start"));
        QCOMPARE(run.events.back()["event"].get<std::string>(), std::string("finished"));
        for (const auto& e : run.events) {
            if (e["event"] == "step") {
                QVERIFY(
                    e.contains("lr") && e.contains("grad_norm") && e.contains("tokens_per_s") && e.contains("epoch"));
                QVERIFY(e["tokens_per_s"].get<double>() > 0);
            }
        }
    }

    void loraTrainsOnlyItsTensorsAndResumesExactly()
    {
        json config = baseConfig();
        config["adapter"] = "lora";
        config["lora_dropout"] = 0.1; // dropout draws random numbers: resume must restore the generator
        config["target_modules"] = "all-linear";
        config["max_steps"] = 8;
        config["save_steps"] = 4;
        const fs::path straightDir = fs::path(m_dir.path().toStdString()) / "lora-straight";
        const Run straight = train(config, straightDir);
        QCOMPARE(straight.losses.size(), 8u);
        QVERIFY(straight.result.trainableParameters < straight.result.totalParameters / 4);

        const fs::path resumedDir = fs::path(m_dir.path().toStdString()) / "lora-resumed";
        const Run first = train(config, resumedDir, false, 4);
        QCOMPARE(first.result.status, TrainResult::Status::Cancelled);
        QCOMPARE(first.result.steps, 4);
        QVERIFY(fs::exists(resumedDir / "checkpoints/step-4/trainer_state.json"));
        const Run second = train(config, resumedDir, true);
        QCOMPARE(second.result.steps, 8);
        std::vector<double> combined = first.losses;
        combined.insert(combined.end(), second.losses.begin(), second.losses.end());
        QCOMPARE(combined.size(), straight.losses.size());
        for (std::size_t i = 0; i < combined.size(); ++i)
            QVERIFY2(combined[i] == straight.losses[i],
                qPrintable(QString("step %1: %2 vs %3")
                               .arg(i + 1)
                               .arg(combined[i], 0, 'g', 17)
                               .arg(straight.losses[i], 0, 'g', 17)));

        // The adapter state holds LoRA tensors only, named as PEFT names them.
        const auto saved = SafetensorsFile::open(straightDir / "adapter/adapter.safetensors").names();
        QVERIFY(!saved.empty());
        for (const auto& name : saved)
            QVERIFY2(name.rfind("base_model.model.model.layers.", 0) == 0
                    && (name.find(".lora_A.weight") != std::string::npos
                        || name.find(".lora_B.weight") != std::string::npos),
                name.c_str());
    }

    // gradient_checkpointing reruns each decoder layer in backward: the run is the same run
    // (LoRA's dropout included, whose masks the rerun must draw again), step for step.
    void gradientCheckpointingTrainsTheSameRun_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::newRow("full") << "full";
        QTest::newRow("lora with dropout") << "lora";
    }

    void gradientCheckpointingTrainsTheSameRun()
    {
        QFETCH(QString, adapter);
        json config = baseConfig();
        config["adapter"] = adapter.toStdString();
        if (adapter == "lora") {
            config["lora_dropout"] = 0.2;
            config["target_modules"] = "all-linear";
        }
        config["max_steps"] = 5;
        const fs::path root = fs::path(m_dir.path().toStdString()) / ("checkpointing-" + adapter.toStdString());
        const Run plain = train(config, root / "plain");
        config["gradient_checkpointing"] = true;
        const Run checkpointed = train(config, root / "checkpointed");
        QCOMPARE(checkpointed.losses.size(), plain.losses.size());
        for (std::size_t i = 0; i < plain.losses.size(); ++i)
            QVERIFY2(std::abs(checkpointed.losses[i] - plain.losses[i]) <= 1e-5 * std::abs(plain.losses[i]),
                qPrintable(QString("step %1: %2 vs %3")
                               .arg(i + 1)
                               .arg(checkpointed.losses[i], 0, 'g', 17)
                               .arg(plain.losses[i], 0, 'g', 17)));
        QVERIFY(plain.losses.back() < plain.losses.front());
    }

    // SFT's chunked loss (loss_chunk_tokens) makes the logits a few tokens at a time with their
    // gradients: the same run as the loss over all logits at once, within float32 rounding.
    void chunkedLossTrainsTheSameRun_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<double>("smoothing");
        QTest::newRow("full (tied head trains)") << "full" << 0.0;
        QTest::newRow("lora, label smoothing") << "lora" << 0.1;
        QTest::newRow("prompt tuning (virtual first token)") << "prompt_tuning" << 0.0;
    }

    void chunkedLossTrainsTheSameRun()
    {
        QFETCH(QString, adapter);
        QFETCH(double, smoothing);
        json config = baseConfig();
        config["adapter"] = adapter.toStdString();
        if (adapter == "prompt_tuning")
            config["num_virtual_tokens"] = 3;
        config["label_smoothing"] = smoothing;
        config["max_steps"] = 5;
        const fs::path root = fs::path(m_dir.path().toStdString()) / ("chunked-" + adapter.toStdString());
        const Run plain = train(config, root / "plain");
        config["loss_chunk_tokens"] = 5;
        const Run chunked = train(config, root / "chunked");
        QCOMPARE(chunked.losses.size(), plain.losses.size());
        for (std::size_t i = 0; i < plain.losses.size(); ++i)
            QVERIFY2(std::abs(chunked.losses[i] - plain.losses[i]) <= 1e-5 * std::abs(plain.losses[i]),
                qPrintable(QString("step %1: %2 vs %3")
                               .arg(i + 1)
                               .arg(chunked.losses[i], 0, 'g', 17)
                               .arg(plain.losses[i], 0, 'g', 17)));
        QVERIFY(plain.losses.back() < plain.losses.front());
    }

    // Chain of LoRA changes its tensors between steps (afterStep) and keeps the
    // finished links and the link index in its state: a run stopped between two
    // folds and resumed from its checkpoint gives the same losses.
    void chainOfLoraResumesExactlyAcrossLinks()
    {
        json config = baseConfig();
        config["adapter"] = "chain_of_lora";
        config["chain_links"] = 3;
        config["chain_link_steps"] = 3;
        config["lora_dropout"] = 0.1;
        config["max_steps"] = 8;
        config["save_steps"] = 4;
        const Run straight = train(config, fs::path(m_dir.path().toStdString()) / "chain-straight");
        QCOMPARE(straight.losses.size(), 8u);

        const fs::path resumedDir = fs::path(m_dir.path().toStdString()) / "chain-resumed";
        const Run first = train(config, resumedDir, false, 4); // link 1, started at step 3
        QCOMPARE(first.result.steps, 4);
        const Run second = train(config, resumedDir, true); // link 2 starts at step 6
        std::vector<double> combined = first.losses;
        combined.insert(combined.end(), second.losses.begin(), second.losses.end());
        QCOMPARE(combined.size(), straight.losses.size());
        for (std::size_t i = 0; i < combined.size(); ++i)
            QVERIFY2(combined[i] == straight.losses[i],
                qPrintable(QString("step %1: %2 vs %3")
                               .arg(i + 1)
                               .arg(combined[i], 0, 'g', 17)
                               .arg(straight.losses[i], 0, 'g', 17)));
        const auto saved = SafetensorsFile::open(resumedDir / "adapter/adapter.safetensors").tensors();
        bool linkFound = false;
        for (const auto& [name, tensor] : saved) {
            if (name == "chain_of_lora.link") {
                QCOMPARE(tensor.item<std::int64_t>(), std::int64_t { 2 });
                linkFound = true;
            }
        }
        QVERIFY(linkFound);
    }

    void promptTuningStartsFromTheTokenizedText()
    {
        json config = baseConfig();
        config["adapter"] = "prompt_tuning";
        config["num_virtual_tokens"] = 5;
        config["prompt_tuning_init"] = "text";
        config["prompt_tuning_init_text"] = "the"; // fewer tokens than 5: repeated
        config["learning_rate"] = 0.0; // the saved embeddings are the initial ones
        config["max_steps"] = 1;
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "prompt-text";
        const Run run = train(config, dir);
        QCOMPARE(run.result.trainableParameters, std::int64_t(5 * 32));
        std::vector<std::int64_t> ids;
        for (const std::int32_t id : Tokenizer::fromFolder(m_model).encode("the", true))
            ids.push_back(id);
        QVERIFY(!ids.empty() && ids.size() < 5);
        std::vector<std::int64_t> repeated;
        for (std::size_t i = 0; i < 5; ++i)
            repeated.push_back(ids[i % ids.size()]);
        const at::Tensor expected
            = loadCausalLM(m_model)->parameter("model.embed_tokens.weight").index_select(0, at::tensor(repeated));
        const at::Tensor saved = SafetensorsFile::open(dir / "adapter/adapter.safetensors").tensor("prompt_embeddings");
        QVERIFY(at::equal(saved, expected));
    }

    void prefixTuningWithProjectionResumesExactly()
    {
        json config = baseConfig();
        config["adapter"] = "prefix_tuning";
        config["num_virtual_tokens"] = 3;
        config["prefix_projection"] = true;
        config["max_steps"] = 6;
        config["save_steps"] = 3;
        const fs::path straightDir = fs::path(m_dir.path().toStdString()) / "prefix-straight";
        const Run straight = train(config, straightDir);
        QCOMPARE(straight.losses.size(), 6u);
        const fs::path resumedDir = fs::path(m_dir.path().toStdString()) / "prefix-resumed";
        const Run first = train(config, resumedDir, false, 3);
        QCOMPARE(first.result.status, TrainResult::Status::Cancelled);
        const Run second = train(config, resumedDir, true);
        std::vector<double> combined = first.losses;
        combined.insert(combined.end(), second.losses.begin(), second.losses.end());
        QCOMPARE(combined, straight.losses);
        // The export holds the projected prefix under PEFT's name, and the MLP to resume from.
        const auto saved = SafetensorsFile::open(straightDir / "adapter/adapter.safetensors");
        QCOMPARE(saved.tensor("prompt_embeddings").sizes(), at::IntArrayRef({ 3, 2 * 2 * 2 * 8 }));
        QVERIFY(saved.contains("prompt_encoder.transform.2.weight"));
    }

    void checkpointsKeepTheLastK()
    {
        json config = baseConfig();
        config["max_steps"] = 6;
        config["save_steps"] = 1;
        config["save_total_limit"] = 2;
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "keep";
        train(config, dir);
        std::vector<std::string> names;
        for (const auto& e : fs::directory_iterator(dir / "checkpoints"))
            names.push_back(e.path().filename().string());
        std::sort(names.begin(), names.end());
        QCOMPARE(names, (std::vector<std::string> { "step-5", "step-6" }));
    }

    void evaluationAndEarlyStopping()
    {
        json config = baseConfig();
        config["val_size"] = 0.25;
        config["eval_steps"] = 2;
        config["num_train_epochs"] = 20;
        config["learning_rate"] = 0.5; // too high on purpose: eval loss soon stops improving
        config["optim"] = "sgd";
        config["early_stopping_patience"] = 2;
        config["nan_policy"] = "skip";
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "early";
        const Run run = train(config, dir);
        int evals = 0;
        for (const auto& e : run.events)
            evals += e["event"] == "eval" ? 1 : 0;
        QVERIFY(evals >= 3);
        QCOMPARE(run.result.status, TrainResult::Status::EarlyStopped);
        QVERIFY(run.result.bestEvalLoss.has_value());
        QVERIFY(fs::exists(dir / "checkpoints/best/trainer_state.json"));
    }

    void nanStopsWithACheckpoint()
    {
        // A model with a NaN weight: the first loss is NaN.
        const fs::path broken = fs::path(m_dir.path().toStdString()) / "nan-model";
        model_test::writeTinyTokenizer(broken);
        auto model = loadCausalLM(m_model);
        model->setParameter("model.norm.weight", at::full({ 32 }, NAN));
        saveModelFolder(*model, broken);
        json config = baseConfig();
        config["model"] = broken.string();
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "nan";
        try {
            train(config, dir);
            QFAIL("a run with a NaN loss finished");
        } catch (const TrainingError& e) {
            QVERIFY2(QString(e.what()).contains("the loss is not finite at step 1"), e.what());
            QVERIFY2(QString(e.what()).contains("nan_policy"), e.what());
        }
        QVERIFY(CheckpointStore(dir, 2).latest().has_value());

        // nan_policy: skip goes on, skipping every such step.
        config["nan_policy"] = "skip";
        config["max_steps"] = 3;
        const Run run = train(config, fs::path(m_dir.path().toStdString()) / "nan-skip");
        int skipped = 0;
        for (const auto& e : run.events)
            skipped += e["event"] == "skipped" ? 1 : 0;
        QCOMPARE(skipped, 3);
        QCOMPARE(run.events.back()["skipped_steps"].get<int>(), 3);
    }

    void configurationErrors_data()
    {
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("value");
        QTest::addColumn<QString>("message");
        QTest::newRow("typo") << "lerning_rate"
                              << "0.1"
                              << "unknown key 'lerning_rate' (did you mean 'learning_rate'?)";
        QTest::newRow("type") << "per_device_train_batch_size"
                              << "\"eight\""
                              << "field 'per_device_train_batch_size': expected a whole number";
        QTest::newRow("range") << "warmup_ratio"
                               << "2"
                               << "field 'warmup_ratio': expected a value between 0 and 1";
        QTest::newRow("adapter") << "adapter"
                                 << "\"lorax\""
                                 // The list grows with every adapter plugin; its start is enough here.
                                 << "no adapter named 'lorax' (available: ";
        QTest::newRow("adapter key without adapter") << "lora_r"
                                                     << "8"
                                                     << "unknown key 'lora_r'";
        QTest::newRow("typo in a section") << "training"
                                           << "{\"lerning_rate\": 0.1}"
                                           << "unknown key 'training.lerning_rate' (did you mean 'learning_rate'?)";
        QTest::newRow("key twice") << "training"
                                   << "{\"seed\": 3}"
                                   << "key 'seed' is given twice (as 'seed' and as 'training.seed')";
        QTest::newRow("adapter section without type") << "adapter"
                                                      << "{\"r\": 8}"
                                                      << "section 'adapter' needs 'type'";
        QTest::newRow("adapter section range") << "adapter"
                                               << "{\"type\": \"lora\", \"r\": 0}"
                                               << "field 'r': expected";
        QTest::newRow("schedule") << "lr_scheduler_type"
                                  << "\"poly\""
                                  << "expected one of constant";
    }

    void configurationErrors()
    {
        QFETCH(QString, key);
        QFETCH(QString, value);
        QFETCH(QString, message);
        json config = baseConfig();
        config[key.toStdString()] = json::parse(value.toStdString());
        try {
            TrainConfig::fromJson(config, m_plugins, "run.yaml");
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("run.yaml") && QString(e.what()).contains(message), e.what());
        }
    }

    void cliTrainRecordsTheRun()
    {
        const QString ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const QString cfg = m_dir.path() + "/run.yaml";
        // The shape users write: sections for the adapter and the training arguments, the file as CONFIG.
        QVERIFY(writeTextFile(cfg,
            QString("name: tiny-lora\nmodel: %1\ndataset: %2\nobjective: sft\n"
                    "adapter:\n  type: lora\n  r: 4\n  lora_alpha: 8\n  target_modules: [q_proj, v_proj]\n"
                    "training:\n  learning_rate: 2.0e-4\n  max_steps: 3\n  per_device_train_batch_size: 2\n"
                    "  gradient_accumulation_steps: 1\n  lr_scheduler_type: cosine\n  warmup_ratio: 0.1\n"
                    "  seed: 42\n  cutoff_len: 64\n  save_steps: 1\n  threads: 1\n")
                .arg(QString::fromStdString(m_model.string()), QString::fromStdString(m_data.string()))
                .toUtf8()));
        CliResult r = runCli({ "train", cfg, "--workspace", ws });
        QCOMPARE(r.code, 0);
        const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        QVERIFY(lines.size() >= 5);
        for (const QString& line : lines)
            QVERIFY2(QJsonDocument::fromJson(line.toUtf8()).isObject(), qPrintable(line));
        QCOMPARE(
            QJsonDocument::fromJson(lines.back().toUtf8()).object()["event"].toString(), QStringLiteral("finished"));
        r = runCli({ "runs", "show", "1", "--workspace", ws });
        const QJsonObject run = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(run["status"].toString(), QStringLiteral("finished"));
        QCOMPARE(run["adapter"].toString(), QStringLiteral("lora"));
        QCOMPARE(run["metrics"].toObject()["loss"].toObject()["count"].toInt(), 3);
        QCOMPARE(run["config"].toObject()["r"].toInt(), 4);
        QCOMPARE(run["config"].toObject()["lr_scheduler_type"].toString(), QStringLiteral("cosine"));

        // --resume RUN_ID continues from the newest checkpoint (here the last step: nothing left to do).
        r = runCli({ "train", "--resume", "1", "--workspace", ws });
        QCOMPARE(r.code, 0);
        QCOMPARE(
            QJsonDocument::fromJson(r.out.split('\n', Qt::SkipEmptyParts).first().toUtf8()).object()["step"].toInt(),
            3);
        QCOMPARE(runCli({ "train", cfg, "--resume", "1", "--workspace", ws }).code, 2);
        QCOMPARE(runCli({ "train", "--resume", "7", "--workspace", ws }).code, 1);

        // A bad configuration fails before a run is recorded; training errors mark the run failed.
        QVERIFY(writeTextFile(cfg, "model: /nonexistent\ndataset: /nonexistent.jsonl\nlearning_rat: 1\n"));
        r = runCli({ "train", "--workspace", ws, "--config", cfg });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("did you mean 'learning_rate'"), qPrintable(r.err));
        QCOMPARE(runCli({ "runs", "list", "--workspace", ws }).out.count('\n'), 1);
    }
};

QTEST_GUILESS_MAIN(TestTrainer)
#include "test_trainer.moc"
