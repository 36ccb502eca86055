// The reward_model objective: the Bradley-Terry loss against hand-computed values on fixed rewards; a short run on
// a synthetic preference set (the chosen response holds the pattern "zz", the rejected one does not) whose held-out
// accuracy passes 0.9; the head saved with the run and restored on resume, which repeats the straight run exactly.

#include "core/method/plugin_registry.h"
#include "core/model/safetensors.h"
#include "core/reward/reward_model_loss.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestRewardModel : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    json baseConfig() const
    {
        return { { "model", m_model.string() }, { "dataset", m_data.string() }, { "objective", "reward_model" },
            { "adapter", "full" }, { "learning_rate", 3e-3 }, { "per_device_train_batch_size", 8 },
            { "num_train_epochs", 4 }, { "val_size", 0.25 }, { "seed", 7 }, { "threads", 1 } };
    }

    struct Run {
        TrainResult result;
        std::vector<json> steps;
        std::vector<json> evals;
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
            if (e["event"] == "step") {
                run.steps.push_back(e);
                if (cancelAfterStep > 0 && e["step"].get<int>() == cancelAfterStep)
                    cancel = true;
            } else if (e["event"] == "eval") {
                run.evals.push_back(e);
            }
        };
        run.result = runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
        return run;
    }

    static at::Tensor head(const fs::path& runDir)
    {
        return SafetensorsFile::open(runDir / "objective.safetensors").tensor("score.weight");
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        // 160 pairs: a few random words each, the chosen response with "zz" among them at a random place.
        m_data = fs::path(m_dir.path().toStdString()) / "pairs.jsonl";
        std::ofstream out(m_data);
        const std::vector<std::string> words
            = { "cat", "dog", "sun", "tree", "bird", "fish", "rock", "leaf", "moon", "star", "rain", "sand" };
        std::mt19937 rng(11);
        auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
        auto sentence = [&](bool withPattern) {
            std::vector<std::string> w;
            const std::size_t n = 3 + pick(3);
            for (std::size_t i = 0; i < n; ++i)
                w.push_back(words[pick(words.size())]);
            if (withPattern)
                w.insert(w.begin() + static_cast<std::ptrdiff_t>(pick(n + 1)), "zz");
            std::string s;
            for (const std::string& x : w)
                s += " " + x;
            return s;
        };
        for (int i = 0; i < 160; ++i)
            out << json({ { "prompt", "say" + sentence(false) }, { "chosen", sentence(true) },
                            { "rejected", sentence(false) } })
                       .dump()
                << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY2(m_plugins.find(PluginKind::Objective, "reward_model"), "the reward_model plugin was not found");
    }

    void lossOnFixedRewards_data()
    {
        QTest::addColumn<std::vector<double>>("chosen");
        QTest::addColumn<std::vector<double>>("rejected");
        QTest::addColumn<double>("margin");
        QTest::addColumn<double>("center");
        QTest::addColumn<double>("loss");
        QTest::addColumn<double>("accuracy");
        // (-log sigma(1) - log sigma(0)) / 2 and the like, computed by hand (Python's math module).
        QTest::newRow("plain") << std::vector<double> { 1, 0 } << std::vector<double> { 0, 0 } << 0.0 << 0.0
                               << 0.503204434039084 << 0.5;
        QTest::newRow("margin") << std::vector<double> { 1, 0 } << std::vector<double> { 0, 0 } << 0.5 << 0.0
                                << 0.7240769841801067 << 0.5;
        QTest::newRow("centered") << std::vector<double> { 1, 0 } << std::vector<double> { 0, 0 } << 0.0 << 0.01
                                  << 0.508204434039084 << 0.5;
        QTest::newRow("wrong way") << std::vector<double> { -2 } << std::vector<double> { 1 } << 0.0 << 0.0
                                   << 3.048587351573742 << 0.0;
    }

    void lossOnFixedRewards()
    {
        QFETCH(std::vector<double>, chosen);
        QFETCH(std::vector<double>, rejected);
        QFETCH(double, margin);
        QFETCH(double, center);
        QFETCH(double, loss);
        QFETCH(double, accuracy);
        auto tensor = [](const std::vector<double>& v) {
            return at::tensor(at::ArrayRef<double>(v), at::kDouble).set_requires_grad(true);
        };
        const at::Tensor c = tensor(chosen);
        const at::Tensor r = tensor(rejected);
        const BradleyTerryLoss bt = bradleyTerryLoss(c, r, margin, center);
        QVERIFY2(std::abs(bt.loss.item<double>() - loss) < 1e-12, qPrintable(QString::number(bt.loss.item<double>())));
        QCOMPARE(bt.metrics.at("accuracy"), accuracy);
        double meanDiff = 0;
        for (std::size_t i = 0; i < chosen.size(); ++i)
            meanDiff += (chosen[i] - rejected[i]) / static_cast<double>(chosen.size());
        QVERIFY(std::abs(bt.metrics.at("margin") - meanDiff) < 1e-12);
        if (QByteArray(QTest::currentDataTag()) == "plain") {
            // d loss / d r_chosen[0] = -(1 - sigma(1)) / 2; the rejected reward's is its negative.
            bt.loss.backward();
            QVERIFY(std::abs(c.grad()[0].item<double>() + 0.13447071068499755) < 1e-12);
            QVERIFY(std::abs(r.grad()[0].item<double>() - 0.13447071068499755) < 1e-12);
        }
    }

    // Trained on 120 pairs, the model tells chosen from rejected on the 40 it never saw.
    void heldOutAccuracy()
    {
        const fs::path runDir = fs::path(m_dir.path().toStdString()) / "accuracy";
        const Run run = train(baseConfig(), runDir);
        QCOMPARE(run.result.status, TrainResult::Status::Finished);
        QVERIFY(!run.steps.empty() && run.steps.front().contains("accuracy") && run.steps.front().contains("margin"));
        QVERIFY(!run.evals.empty());
        const json& last = run.evals.back();
        qInfo() << "steps" << run.steps.size() << "first train accuracy" << run.steps.front()["accuracy"].get<double>()
                << "held-out accuracy" << last["eval_accuracy"].get<double>() << "margin"
                << last["eval_margin"].get<double>();
        QVERIFY2(last["eval_accuracy"].get<double>() > 0.9, last.dump().c_str());
        QVERIFY(last["eval_margin"].get<double>() > 0);
        // The head is written with the run: [1, hidden].
        QCOMPARE(head(runDir).sizes().vec(), (std::vector<std::int64_t> { 1, 32 }));
    }

    // Stopped after step 3 (checkpointed), resumed to step 6: the same losses and metrics as the straight run, and
    // the same head at the end; the checkpoint holds the head.
    void resumesExactly()
    {
        json config = baseConfig();
        config["adapter"] = "lora";
        config["target_modules"] = "all-linear";
        config["learning_rate"] = 1e-2;
        config["max_steps"] = 6;
        config["save_steps"] = 3;
        config["center_rewards_coefficient"] = 0.01;
        const fs::path straightDir = fs::path(m_dir.path().toStdString()) / "straight";
        const Run straight = train(config, straightDir);
        QCOMPARE(straight.steps.size(), std::size_t(6));

        const fs::path resumedDir = fs::path(m_dir.path().toStdString()) / "resumed";
        const Run first = train(config, resumedDir, false, 3);
        QCOMPARE(first.result.steps, 3);
        const auto optimizer = SafetensorsFile::open(resumedDir / "checkpoints" / "step-3" / "optimizer.safetensors");
        QVERIFY(optimizer.contains("objective.score.weight"));
        const Run second = train(config, resumedDir, true);
        QCOMPARE(second.result.steps, 6);
        std::vector<json> combined = first.steps;
        combined.insert(combined.end(), second.steps.begin(), second.steps.end());
        QCOMPARE(combined.size(), straight.steps.size());
        for (std::size_t i = 0; i < combined.size(); ++i)
            for (const char* key : { "loss", "accuracy", "margin", "rewards_chosen" })
                QVERIFY2(combined[i][key] == straight.steps[i][key],
                    qPrintable(QString("step %1 %2: %3 vs %4")
                                   .arg(i + 1)
                                   .arg(key)
                                   .arg(QString::fromStdString(combined[i][key].dump()))
                                   .arg(QString::fromStdString(straight.steps[i][key].dump()))));
        QVERIFY(at::equal(head(resumedDir), head(straightDir)));
        // The head moved from its initial values.
        QVERIFY(combined.front()["rewards_chosen"] != combined.back()["rewards_chosen"]);
    }
};

QTEST_GUILESS_MAIN(TestRewardModel)
#include "test_reward_model.moc"
