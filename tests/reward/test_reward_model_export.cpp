// A reward_model run exported as a Hugging Face sequence-classification folder: transformers loads it with
// AutoModelForSequenceClassification (tests/reference/seqcls_scores.py, one Python process) with no missing or
// unexpected tensor and gives the scores Tunebench gives from the run (base model, LoRA adapter and head); reward
// `reward_model` reading the exported folder gives them too.

#include "core/export/sequence_classifier.h"
#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/reward/reward_model_scorer.h"
#include "core/reward/reward_set.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"
#include "support/reference.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestRewardModelExport : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_root;
    fs::path m_model;
    PluginRegistry m_plugins;

    // Worst |a - b| / max(|b|, 1e-3) over the pairs, printed with where it is.
    static double worstRelative(const std::vector<double>& a, const std::vector<double>& b, const char* what)
    {
        double worst = 0;
        std::size_t at = 0;
        for (std::size_t i = 0; i < a.size(); ++i) {
            const double d = std::abs(a[i] - b[i]) / std::max(std::abs(b[i]), 1e-3);
            if (d > worst) {
                worst = d;
                at = i;
            }
        }
        qInfo().nospace() << what << ": worst relative difference " << worst << " (sequence " << at << ": " << a[at]
                          << " vs " << b[at] << ")";
        return worst;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_root = m_dir.path().toStdString();
        m_model = m_root / "model";
        model_test::writeTinyModelFolder(m_model, 5);
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY2(m_plugins.find(PluginKind::Reward, "reward_model"), "the reward_model reward plugin was not found");
    }

    void exportedFolderScoresAsTunebench()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        // A few steps of a LoRA reward model (the adapter is merged by the export) on a small preference set.
        const fs::path data = m_root / "pairs.jsonl";
        {
            std::ofstream out(data);
            for (int i = 0; i < 16; ++i)
                out << json({ { "prompt", "pick " + std::to_string(i) }, { "chosen", " the answer is zz" },
                                { "rejected", " no idea " + std::to_string(i * 7) } })
                           .dump()
                    << "\n";
        }
        const fs::path workspace = m_root / "ws";
        const fs::path runDir = workspace / "runs" / "1";
        const json config
            = { { "model", m_model.string() }, { "dataset", data.string() }, { "objective", "reward_model" },
                  { "adapter", "lora" }, { "target_modules", "all-linear" }, { "learning_rate", 2e-2 },
                  { "per_device_train_batch_size", 4 }, { "max_steps", 4 }, { "seed", 2 }, { "threads", 1 } };
        TrainerOptions o;
        o.runDir = runDir;
        const TrainResult trained = runTraining(TrainConfig::fromJson(config, m_plugins, "test config"), m_plugins, o);
        QCOMPARE(trained.status, TrainResult::Status::Finished);

        const fs::path folder = m_root / "exported";
        const SequenceClassifierExport exported = exportSequenceClassifier(m_model, runDir, folder, m_plugins);
        QCOMPARE(exported.architecture, std::string("LlamaForSequenceClassification"));
        QCOMPARE(exported.adapter, std::string("lora"));

        // Prompt + completion pairs of several lengths, encoded as the reward encodes them.
        const std::vector<std::pair<std::string, std::string>> pairs
            = { { "pick 3", " the answer is zz" }, { "pick 12", " no idea 84" }, { "what is the weather", " rain" },
                  { "say something longer than the others here", " then the river ran past the old mill at dawn" },
                  { "a", " b" }, { "pick 5", " zz zz zz" } };
        const Tokenizer tokenizer = Tokenizer::fromFolder(m_model);
        std::vector<std::vector<std::int32_t>> sequences;
        std::vector<std::string> prompts, completions;
        json request = { { "folder", folder.string() }, { "sequences", json::array() } };
        for (const auto& [prompt, completion] : pairs) {
            std::vector<std::int32_t> ids = tokenizer.encode(prompt, true);
            const std::vector<std::int32_t> tail = tokenizer.encode(completion);
            ids.insert(ids.end(), tail.begin(), tail.end());
            sequences.push_back(ids);
            request["sequences"].push_back(ids);
            prompts.push_back(prompt);
            completions.push_back(completion);
        }

        // Tunebench from the run: base model, adapter and head as trained (batches of 4: padding in play).
        RewardModelScorer fromRun(resolveRewardModel("1", workspace, "model"), &m_plugins, {});
        const std::vector<double> runScores = fromRun.score(sequences, 4);
        // The reward reading the exported folder.
        RewardContext context;
        context.policyModel = m_model;
        const json rewardsJson = { { { "type", "reward_model" }, { "model", folder.string() }, { "batch_size", 4 } } };
        RewardSet rewards(parseRewards(rewardsJson, m_plugins, "test", &context), m_plugins, context);
        const json fields = json::object();
        const auto batch = rewards.scoreBatch(prompts, completions, std::vector<const json*>(prompts.size(), &fields));
        std::vector<double> folderScores;
        for (const auto& row : batch)
            folderScores.push_back(row[0]);

        const reference::Result r = reference::run("seqcls_scores.py", {}, QByteArray::fromStdString(request.dump()));
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json reply = json::parse(r.out.toStdString());
        QCOMPARE(reply["architecture"].get<std::string>(), std::string("LlamaForSequenceClassification"));
        QCOMPARE(reply["num_labels"].get<int>(), 1);
        QCOMPARE(reply["pad_token_id"].get<std::int64_t>(), exported.padTokenId);
        QVERIFY2(reply["missing_keys"].empty() && reply["unexpected_keys"].empty(), reply.dump().c_str());
        const std::vector<double> transformers = reply["scores"].get<std::vector<double>>();
        QCOMPARE(transformers.size(), sequences.size());
        // The scores differ from sequence to sequence, so agreeing says something.
        QVERIFY(std::abs(transformers[0] - transformers[1]) > 1e-3);
        QVERIFY(worstRelative(runScores, transformers, "Tunebench (run) vs transformers (exported folder)") < 1e-4);
        QVERIFY(worstRelative(folderScores, transformers, "reward_model (exported folder) vs transformers") < 1e-4);
    }
};

QTEST_GUILESS_MAIN(TestRewardModelExport)
#include "test_reward_model_export.moc"
