// GRPO's time per step split into sampling (generation), rewards and the update (the rest of the step: the
// policy's forward and backward, and the reference's where beta > 0), and completions sampled per second, on a
// small random Llama in this process. Short by default (CI: the tiny test model, 6 steps); with the argument
// `long`, a model of hidden 256 and 4 layers, 8 prompts x 8 completions of up to 64 tokens, 10 steps. Prints the
// medians; asserts only that the run finished.
//
// Run: ctest -L bench -R bench_grpo -V, or build/tests/bench_grpo [long].

#include "core/method/plugin_registry.h"
#include "core/model/model_writer.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

bool longMode = false;

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

class BenchGrpo : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void timePerStep()
    {
        QTemporaryDir dir;
        const fs::path root = dir.path().toStdString();
        const fs::path model = root / "model";
        if (longMode) {
            model_test::writeTinyTokenizer(model);
            RandomModelSpec spec = model_test::tinyFolderSpec(4);
            spec.hiddenSize = 256;
            spec.numHeads = 8;
            spec.numKvHeads = 4;
            spec.intermediateSize = 688;
            saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), model);
        } else {
            model_test::writeTinyModelFolder(model, 3);
        }
        const fs::path data = root / "prompts.jsonl";
        {
            std::ofstream out(data);
            for (int i = 0; i < 64; ++i)
                out << json({ { "prompt", std::to_string(i % 9) + "+" + std::to_string(i % 7) + "=" },
                                { "answer", std::to_string(i % 9 + i % 7) } })
                           .dump()
                    << "\n";
        }
        PluginRegistry plugins;
        plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        const json config = { { "model", model.string() }, { "dataset", data.string() }, { "objective", "grpo" },
            { "adapter", "lora" }, { "target_modules", "all-linear" }, { "learning_rate", 1e-3 },
            { "per_device_train_batch_size", longMode ? 8 : 4 }, { "max_steps", longMode ? 10 : 6 }, { "seed", 1 },
            { "threads", 1 }, { "num_generations", 8 }, { "max_completion_length", longMode ? 64 : 8 },
            { "beta", 0.04 },
            { "rewards",
                json::parse(R"([{"type": "numeric"}, {"type": "regex", "pattern": "^\\d+$", "weight": 0.2}])") } };
        std::vector<double> step, generation, reward, rate;
        TrainerOptions o;
        o.runDir = root / "run";
        o.events = [&](const json& e) {
            if (e["event"] != "step" || !e.contains("time/generation_s"))
                return;
            step.push_back(e["step_seconds"]);
            generation.push_back(e["time/generation_s"]);
            reward.push_back(e["time/reward_s"]);
            rate.push_back(e["completions_per_s"]);
        };
        const TrainResult result = runTraining(TrainConfig::fromJson(config, plugins, "bench"), plugins, o);
        QCOMPARE(result.status, TrainResult::Status::Finished);
        std::vector<double> update;
        for (std::size_t i = 0; i < step.size(); ++i)
            update.push_back(step[i] - generation[i] - reward[i]);
        qInfo().noquote() << QString("GRPO (%1): step %2 s = generation %3 s + rewards %4 s + update %5 s "
                                     "(medians of %6 steps); %7 completions/s")
                                 .arg(longMode ? "hidden 256, 4 layers, 8x8 completions <= 64 tokens"
                                               : "tiny model, 4x8 completions <= 8 tokens")
                                 .arg(median(step), 0, 'f', 4)
                                 .arg(median(generation), 0, 'f', 4)
                                 .arg(median(reward), 0, 'f', 5)
                                 .arg(median(update), 0, 'f', 4)
                                 .arg(step.size())
                                 .arg(median(rate), 0, 'f', 1);
    }
};

int main(int argc, char** argv)
{
    std::vector<char*> args(argv, argv + argc);
    const auto it = std::find_if(args.begin(), args.end(), [](const char* a) { return std::string(a) == "long"; });
    if (it != args.end()) {
        longMode = true;
        args.erase(it);
    }
    int qtArgc = static_cast<int>(args.size());
    QCoreApplication app(qtArgc, args.data());
    BenchGrpo bench;
    return QTest::qExec(&bench, static_cast<int>(args.size()), args.data());
}

#include "bench_grpo.moc"
