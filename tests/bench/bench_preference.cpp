// DPO throughput on the CPU, the same run four ways: plain (chosen and
// rejected as two sequences, the reference run every step), with prefix
// sharing, with the reference log-probs precomputed and cached, and with both.
// The model: Llama hidden 256, 4 layers, vocabulary 32000 (19.3M parameters),
// LoRA r 8 on every linear layer (the reference is the adapter switched off);
// 160-token prompts, 32-token responses, 4 pairs a step. Each run is its own
// `tunebench-cli train` process. Prints tokens/s (pair tokens: prompt and
// response of chosen and rejected, as if unshared), step time and peak RSS.
// Asserts only that every run finished.
//
// Run: ctest -L bench -R bench_preference -V, or build/tests/bench_preference directly.

#include "core/model/model_writer.h"
#include "core/runtime.h"
#include "model/model_test_support.h"
#include "support/child_process.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <fstream>
#include <random>

using namespace tunebench;
using namespace tunebench::test_support;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 6;

std::string words(std::mt19937& gen, std::size_t chars)
{
    std::string text;
    while (text.size() < chars)
        text += std::string(1 + gen() % 6, static_cast<char>('a' + gen() % 26)) + " ";
    return text;
}

} // namespace

class BenchPreference : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void dpo()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyTokenizer(root / "model");
        RandomModelSpec spec;
        spec.architecture = Architecture::Llama;
        spec.vocabSize = 32000;
        spec.hiddenSize = 256;
        spec.numLayers = 4;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        spec.intermediateSize = 688;
        spec.eosTokenIds = { model_test::kTinyTokenizerEos };
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), root / "model");
        // The tiny tokenizer is byte-level: about one token a character.
        std::mt19937 gen(5);
        std::ofstream data(root / "pairs.jsonl");
        for (int i = 0; i < 32; ++i)
            data << json(
                { { "prompt", words(gen, 160) }, { "chosen", words(gen, 31) }, { "rejected", words(gen, 31) } })
                        .dump()
                 << "\n";
        data.close();
        std::printf("DPO, LoRA r 8 all-linear on llama hidden 256, 4 layers, vocabulary 32000; 4 pairs a step of "
                    "160-token prompts and 32-token responses; %d threads\n",
            configureThreads());
        std::printf("%-32s %10s %10s %10s\n", "variant", "tokens/s", "ms/step", "peak RSS");
        const QString ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        double baseline = 0;
        for (const auto& [label, share, cached] : { std::tuple { "two sequences", false, false },
                 std::tuple { "prefix sharing", true, false }, std::tuple { "cached reference", false, true },
                 std::tuple { "prefix sharing + cached", true, true } }) {
            const fs::path cfg = root / "dpo.yaml";
            std::ofstream(cfg) << "model: " << (root / "model").string()
                               << "\ndataset: " << (root / "pairs.jsonl").string()
                               << "\nobjective:\n  type: dpo\n  prefix_sharing: " << (share ? "true" : "false")
                               << "\nadapter:\n  type: lora\n  r: 8\n  target_modules: all-linear\n"
                                  "training:\n  learning_rate: 1.0e-4\n  max_steps: "
                               << kSteps << "\n  per_device_train_batch_size: 4\n  cutoff_len: 256\n"
                               << "  precompute_ref_log_probs: " << (cached ? "true" : "false") << "\n";
            const ChildRun r = runChild({ TUNEBENCH_CLI, "train", cfg.string(), "--workspace", ws.toStdString() });
            std::vector<double> tps, seconds;
            for (const QString& line : QString::fromStdString(r.out).split('\n', Qt::SkipEmptyParts)) {
                const json e = json::parse(line.toStdString());
                if (e["event"] == "step" && e["step"].get<int>() > 2) {
                    tps.push_back(e["tokens_per_s"]);
                    seconds.push_back(e["step_seconds"]);
                }
            }
            QVERIFY2(r.exitCode == 0, r.out.c_str());
            std::sort(tps.begin(), tps.end());
            std::sort(seconds.begin(), seconds.end());
            const double t = tps[tps.size() / 2];
            if (baseline == 0)
                baseline = t;
            std::printf("%-32s %10.0f %10.0f %7.0f MB   x%.2f\n", label, t, seconds[seconds.size() / 2] * 1e3,
                static_cast<double>(r.peakRssKb) / 1024.0, t / baseline);
            std::fflush(stdout);
        }
    }
};

QTEST_GUILESS_MAIN(BenchPreference)
#include "bench_preference.moc"
