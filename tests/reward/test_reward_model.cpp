// The reward_model objective: the Bradley-Terry loss against hand-computed values on fixed rewards; a short run on
// a synthetic preference set (the chosen response holds the pattern "zz", the rejected one does not) whose held-out
// accuracy passes 0.9; the head saved with the run and restored on resume, which repeats the straight run exactly.
// That trained run then serves as reward `reward_model` (by run id): it tells held-out chosen from rejected texts,
// scores a batch as it scores each alone, and rewards a GRPO run that records rewards/reward_model; configuration
// errors of the reward name the key.

#include "core/export/sequence_classifier.h"
#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/model/safetensors.h"
#include "core/reward/reward_model_loss.h"
#include "core/reward/reward_set.h"
#include "core/store/workspace.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>
#include <optional>
#include <random>
#include <set>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestRewardModel : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;
    std::optional<Workspace> m_workspace; // the accuracy run is its run 1, which the reward reads

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
        std::vector<json> completions;
    };

    // A sentence of the preference set's words, with "zz" at a random place when asked.
    std::string sentence(std::mt19937& rng, bool withPattern) const
    {
        const std::vector<std::string> words
            = { "cat", "dog", "sun", "tree", "bird", "fish", "rock", "leaf", "moon", "star", "rain", "sand" };
        auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
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
    }

    RewardContext rewardContext() const
    {
        RewardContext c;
        c.policyModel = m_model;
        c.workspace = m_workspace->root();
        return c;
    }

    fs::path trainedRun() const { return m_workspace->runDir(1); }

    Run train(const json& config, const fs::path& runDir, bool resume = false, int cancelAfterStep = 0,
        Workspace* workspace = nullptr)
    {
        Run run;
        std::atomic<bool> cancel { false };
        TrainerOptions o;
        o.workspace = workspace;
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
            } else if (e["event"] == "completions") {
                run.completions.push_back(e);
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
        std::mt19937 rng(11);
        for (int i = 0; i < 160; ++i) {
            const std::string prompt = "say" + sentence(rng, false);
            const std::string chosen = sentence(rng, true);
            out << json({ { "prompt", prompt }, { "chosen", chosen }, { "rejected", sentence(rng, false) } }).dump()
                << "\n";
        }
        out.close();
        m_workspace.emplace(Workspace::create(fs::path(m_dir.path().toStdString()) / "ws"));
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
        const fs::path runDir = trainedRun();
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

    // The run trained in heldOutAccuracy, as a reward by its id: fresh pairs (the prompt as the policy would see
    // it, each response as a completion) are told apart, and the batch gives each completion's own score.
    void rewardFromTheTrainedRun()
    {
        QVERIFY2(fs::exists(trainedRun() / "objective.safetensors"), "needs heldOutAccuracy's run");
        const RewardContext context = rewardContext();
        RewardSet rewards(parseRewards(json::parse(R"([{"type": "reward_model", "model": "1", "batch_size": 3}])"),
                              m_plugins, "test", &context),
            m_plugins, context);
        std::mt19937 rng(99);
        std::vector<std::string> prompts, completions;
        for (int i = 0; i < 20; ++i) {
            const std::string prompt = "say" + sentence(rng, false);
            for (bool pattern : { true, false }) {
                prompts.push_back(prompt);
                completions.push_back(sentence(rng, pattern));
            }
        }
        const json fields = json::object();
        const std::vector<const json*> fieldList(prompts.size(), &fields);
        const auto scores = rewards.scoreBatch(prompts, completions, fieldList);
        int right = 0;
        for (std::size_t i = 0; i < scores.size(); i += 2)
            right += scores[i][0] > scores[i + 1][0] ? 1 : 0;
        // The objective trained on prompt + response + EOS (no chat template); the reward scores prompt + completion
        // without EOS, as TRL's GRPOTrainer does, so it tells the pairs apart less surely than held-out evaluation
        // (15 of 20 here; 14 or more happens by chance with probability 0.06).
        qInfo() << "reward_model reward: chosen above rejected in" << right << "of 20 fresh pairs";
        QVERIFY2(right >= 14, qPrintable(QString::number(right)));
        // In a batch of 3 with padding as alone.
        for (std::size_t i : { std::size_t(0), std::size_t(7), std::size_t(39) }) {
            const double alone = rewards.score(prompts[i], completions[i], fields)[0];
            QVERIFY2(std::abs(alone - scores[i][0]) <= 1e-5 * std::max(1.0, std::abs(alone)),
                qPrintable(QString("%1 alone, %2 in the batch").arg(alone).arg(scores[i][0])));
        }
    }

    // A tiny GRPO run rewarded by the trained reward model runs to its end and records its reward and the groups'
    // diversity.
    void grpoWithTheRewardModel()
    {
        QVERIFY2(fs::exists(trainedRun() / "objective.safetensors"), "needs heldOutAccuracy's run");
        const fs::path prompts = fs::path(m_dir.path().toStdString()) / "prompts.jsonl";
        {
            std::ofstream out(prompts);
            for (const char* p : { "say cat dog", "say sun tree", "say bird fish", "say moon star" })
                out << json({ { "prompt", p } }).dump() << "\n";
        }
        const json config = { { "model", m_model.string() }, { "dataset", prompts.string() }, { "objective", "grpo" },
            { "adapter", "lora" }, { "target_modules", "all-linear" }, { "learning_rate", 1e-2 },
            { "per_device_train_batch_size", 2 }, { "max_steps", 3 }, { "seed", 3 }, { "threads", 1 },
            { "num_generations", 4 }, { "max_completion_length", 4 },
            { "rewards", json::parse(R"([{"type": "reward_model", "model": "1", "weight": 1.0}])") } };
        const Run run = train(config, m_workspace->runDir(2), false, 0, &*m_workspace);
        QCOMPARE(run.result.status, TrainResult::Status::Finished);
        QCOMPARE(run.steps.size(), std::size_t(3));
        for (const json& step : run.steps) {
            for (const char* key : { "rewards/reward_model", "reward_mean", "self_bleu", "embedding_diversity" })
                QVERIFY2(step.contains(key) && std::isfinite(step[key].get<double>()), key);
            QCOMPARE(step["rewards/reward_model"].get<double>(), step["reward_mean"].get<double>()); // weight 1
        }
        // The completions' rewards are the model's scores: not all alike.
        std::set<double> seen;
        for (const json& c : run.completions.front()["completions"])
            seen.insert(c["rewards"]["reward_model"].get<double>());
        QVERIFY(seen.size() > 1);
    }

    void rewardRefusals_data()
    {
        QTest::addColumn<QString>("model"); // the reward's `model` value; {dir} is the test folder
        QTest::addColumn<QString>("message");
        QTest::newRow("no model") << ""
                                  << "test: rewards[0].model: required";
        QTest::newRow("missing run") << "99"
                                     << "rewards[0].model: no run 99 in workspace";
        QTest::newRow("run without head") << "3"
                                          << "rewards[0].model: run 3 was not trained with objective reward_model";
        QTest::newRow("missing folder") << "{dir}/nowhere"
                                        << "rewards[0].model: {dir}/nowhere is not a folder";
        QTest::newRow("causal LM folder") << "{dir}/model"
                                          << "architectures is 'LlamaForCausalLM', not a sequence-classification";
        QTest::newRow("two labels") << "{dir}/two_labels"
                                    << "rewards[0].model: {dir}/two_labels/config.json: "
                                       "num_labels is 2";
        QTest::newRow("other tokenizer") << "{dir}/other_tokenizer"
                                         << "rewards[0].model: the reward model's tokenizer ({dir}/other_tokenizer) "
                                            "differs from the policy's ({dir}/model)";
    }

    void rewardRefusals()
    {
        QFETCH(QString, model);
        QFETCH(QString, message);
        QVERIFY2(fs::exists(trainedRun() / "objective.safetensors"), "needs heldOutAccuracy's run");
        const QString dir = m_dir.path();
        const fs::path root = dir.toStdString();
        if (!fs::exists(root / "two_labels")) {
            // A run with an adapter but no head; folders exported from the trained run, then spoiled.
            fs::create_directories(m_workspace->runDir(3));
            fs::copy(trainedRun() / "adapter", m_workspace->runDir(3) / "adapter");
            for (const char* name : { "two_labels", "other_tokenizer" })
                exportSequenceClassifier(m_model, trainedRun(), root / name, m_plugins);
            json config = json::parse(std::ifstream(root / "two_labels" / "config.json"));
            config["id2label"] = { { "0", "A" }, { "1", "B" } };
            config.erase("num_labels");
            std::ofstream(root / "two_labels" / "config.json") << config.dump();
            // The special token renamed, in the tokenizer and its configuration.
            for (const char* file : { "tokenizer.json", "tokenizer_config.json" }) {
                std::ifstream in(root / "other_tokenizer" / file);
                std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
                in.close();
                for (auto at = text.find("<|endoftext|>"); at != std::string::npos; at = text.find("<|endoftext|>"))
                    text.replace(at, 13, "<|end|>");
                std::ofstream(root / "other_tokenizer" / file) << text;
            }
        }
        const RewardContext context = rewardContext();
        json entry = { { "type", "reward_model" } };
        if (!model.isEmpty())
            entry["model"] = QString(model).replace("{dir}", dir).toStdString();
        try {
            parseRewards(json::array({ entry }), m_plugins, "test", &context);
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(QString(message).replace("{dir}", dir)), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestRewardModel)
#include "test_reward_model.moc"
