// GRPO end to end on a tiny random model: the mean reward of a verifiable reward rises; a run stopped between the
// iterations on one generation batch (num_iterations 2) resumes exactly (same completions, losses and rewards);
// configuration errors name their key.

#include "core/method/plugin_registry.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestGrpoRun : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    json baseConfig() const
    {
        // The reward: the completion starts with a lowercase letter (about one token in eight at first).
        return { { "model", m_model.string() }, { "dataset", m_data.string() }, { "objective", "grpo" },
            { "learning_rate", 1e-2 }, { "per_device_train_batch_size", 4 }, { "max_steps", 16 }, { "seed", 5 },
            { "threads", 1 }, { "num_generations", 8 }, { "max_completion_length", 3 },
            { "rewards", json::parse(R"([{"type": "regex", "pattern": "^[a-z]", "weight": 1.0},
                {"type": "numeric", "weight": 0.5}])") } };
    }

    struct Run {
        TrainResult result;
        std::vector<json> steps;
        std::vector<json> completions;
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
            } else if (e["event"] == "completions") {
                run.completions.push_back(e);
            }
        };
        run.result = runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
        return run;
    }

    static double meanOf(const std::vector<json>& steps, std::size_t first, std::size_t end, const char* key)
    {
        double s = 0;
        for (std::size_t i = first; i < end; ++i)
            s += steps[i].at(key).get<double>();
        return s / static_cast<double>(end - first);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyModelFolder(m_model, 3);
        m_data = fs::path(m_dir.path().toStdString()) / "prompts.jsonl";
        std::ofstream out(m_data);
        const char* prompts[] = { "the cat sat", "one and two", "a bird sang", "the sun rose" };
        for (int i = 0; i < 16; ++i)
            out << json({ { "prompt", prompts[i % 4] }, { "answer", std::to_string(i % 3) }, { "topic", "x" } }).dump()
                << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY2(m_plugins.find(PluginKind::Objective, "grpo"), "the grpo plugin was not found");
    }

    void meanRewardRises()
    {
        const Run run = train(baseConfig(), fs::path(m_dir.path().toStdString()) / "rises");
        QCOMPARE(run.result.status, TrainResult::Status::Finished);
        QCOMPARE(run.steps.size(), std::size_t(16));
        for (const char* key : { "reward_mean", "reward_std", "rewards/regex", "rewards/numeric", "clip_ratio",
                 "entropy", "completion_length", "completion_length/min", "completion_length/max",
                 "frac_reward_zero_std", "distinct_1", "distinct_2", "self_bleu", "embedding_diversity" })
            QVERIFY2(run.steps.front().contains(key), key);
        // Both diversity measures of the groups stay in their ranges.
        for (const json& step : run.steps) {
            QVERIFY(step["self_bleu"].get<double>() >= 0 && step["self_bleu"].get<double>() <= 1);
            QVERIFY(step["embedding_diversity"].get<double>() >= 0 && step["embedding_diversity"].get<double>() <= 2);
        }
        QVERIFY(!run.steps.front().contains("kl")); // beta 0: no reference
        const double before = meanOf(run.steps, 0, 3, "rewards/regex");
        const double after = meanOf(run.steps, 13, 16, "rewards/regex");
        qInfo() << "rewards/regex, first three steps" << before << "last three" << after;
        QVERIFY2(after > before + 0.3, qPrintable(QString("%1 -> %2").arg(before).arg(after)));
        // Every step's 4 prompts x 8 completions, with their rewards.
        QCOMPARE(run.completions.size(), std::size_t(16));
        QCOMPARE(run.completions.front()["completions"].size(), std::size_t(32));
        QVERIFY(run.completions.front()["completions"][0]["rewards"].contains("regex"));
    }

    // Stopped after step 3, between the two iterations on the completions sampled at step 3 (num_iterations 2),
    // with a KL to the reference (LoRA switched off): the resumed run repeats the straight one exactly.
    void resumesInsideAGenerationBatch()
    {
        json config = baseConfig();
        config["adapter"] = "lora";
        config["target_modules"] = "all-linear";
        config["num_iterations"] = 2;
        config["beta"] = 0.04;
        config["loss_type"] = "dapo";
        config["epsilon_high"] = 0.28;
        config["max_steps"] = 6;
        config["save_steps"] = 3;
        const fs::path straightDir = fs::path(m_dir.path().toStdString()) / "straight";
        const Run straight = train(config, straightDir);
        QCOMPARE(straight.steps.size(), std::size_t(6));
        QCOMPARE(straight.completions.size(), std::size_t(3)); // sampled at steps 1, 3 and 5
        QVERIFY(straight.steps.front().contains("kl"));

        const fs::path resumedDir = fs::path(m_dir.path().toStdString()) / "resumed";
        const Run first = train(config, resumedDir, false, 3);
        QCOMPARE(first.result.steps, 3);
        const Run second = train(config, resumedDir, true);
        QCOMPARE(second.result.steps, 6);
        std::vector<json> combined = first.steps;
        combined.insert(combined.end(), second.steps.begin(), second.steps.end());
        QCOMPARE(combined.size(), straight.steps.size());
        for (std::size_t i = 0; i < combined.size(); ++i) {
            for (const char* key : { "loss", "reward_mean", "kl", "clip_ratio", "entropy" })
                QVERIFY2(combined[i][key] == straight.steps[i][key],
                    qPrintable(QString("step %1 %2: %3 vs %4")
                                   .arg(i + 1)
                                   .arg(key)
                                   .arg(QString::fromStdString(combined[i][key].dump()))
                                   .arg(QString::fromStdString(straight.steps[i][key].dump()))));
        }
        // The completions of step 5 are sampled again after the resume, the same ones.
        QCOMPARE(second.completions.size(), std::size_t(1));
        QCOMPARE(second.completions[0]["completions"], straight.completions[2]["completions"]);
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("change"); // merged into the base configuration
        QTest::addColumn<QString>("message");
        QTest::newRow("no rewards") << R"({"rewards": []})"
                                    << "rewards: objective 'grpo' needs at least one";
        QTest::newRow("rewards without grpo")
            << R"({"objective": "sft", "num_generations": null, "max_completion_length": null})"
            << "rewards: objective 'sft' does not";
        QTest::newRow("invalid regex") << R"({"rewards": [{"type": "regex", "pattern": "*ab"}]})"
                                       << "rewards[0].pattern";
        QTest::newRow("one generation") << R"({"num_generations": 1})"
                                        << "num_generations";
    }

    void refusals()
    {
        QFETCH(QString, change);
        QFETCH(QString, message);
        json config = baseConfig();
        config.merge_patch(json::parse(change.toStdString()));
        try {
            train(config, fs::path(m_dir.path().toStdString()) / "refused");
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestGrpoRun)
#include "test_grpo_run.moc"
