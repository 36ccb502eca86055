// Memory of a training step with and without the memory savers: activation checkpointing
// (gradient_checkpointing) and SFT's chunked loss (loss_chunk_tokens), for full fine-tuning and
// LoRA. Each configuration is a real `tunebench-cli train` process (its peak RSS is its own) on
// a Llama with hidden 256, 4 layers, 8 heads (4 key/value heads), MLP 688 and a vocabulary of
// 32000, batch 4 x 512 tokens, two steps. Beside each peak it prints `tunebench-cli estimate`'s
// total plus the process's own baseline (the peak RSS of `tunebench-cli --version`: libraries
// and allocator), and their ratio. Asserts only that every run finished.
//
// Run: ctest -L bench -R bench_memory -V, or build/tests/bench_memory directly. Argument `long`:
// batch 8 x 1024 tokens.

#include "core/model/model_writer.h"
#include "core/runtime.h"
#include "model/model_test_support.h"
#include "support/child_process.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QCoreApplication>
#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <random>

using namespace tunebench;
using namespace tunebench::test_support;
using nlohmann::json;
namespace fs = std::filesystem;

class BenchMemory : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    int m_batch = 4;
    int m_tokens = 512;

private Q_SLOTS:
    void initTestCase()
    {
        if (QCoreApplication::arguments().contains(QStringLiteral("long"))) {
            m_batch = 8;
            m_tokens = 1024;
        }
        m_model = fs::path(m_dir.path().toStdString()) / "model";
        model_test::writeTinyTokenizer(m_model);
        RandomModelSpec spec;
        spec.architecture = Architecture::Llama;
        spec.vocabSize = 32000;
        spec.hiddenSize = 256;
        spec.numLayers = 4;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        spec.intermediateSize = 688;
        spec.maxPositions = 4096;
        spec.eosTokenIds = { model_test::kTinyTokenizerEos };
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), m_model);
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        std::mt19937 gen(7);
        for (int i = 0; i < 32; ++i) {
            std::string text;
            while (text.size() < static_cast<std::size_t>(m_tokens) * 3)
                text += std::string(1 + gen() % 7, static_cast<char>('a' + gen() % 26)) + " ";
            out << json({ { "text", text } }).dump() << "\n";
        }
        std::printf("model: llama hidden 256, 4 layers, MLP 688, vocabulary 32000 (19.3M parameters); batch %d x %d "
                    "tokens; %d threads; float32\n",
            m_batch, m_tokens, configureThreads());
    }

    void savers()
    {
        const ChildRun bare = runChild({ TUNEBENCH_CLI, "--version" });
        QCOMPARE(bare.exitCode, 0);
        const double baselineMb = static_cast<double>(bare.peakRssKb) / 1024.0;
        std::printf("process baseline (tunebench-cli --version): %.0f MB\n", baselineMb);
        const QString ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        struct Row {
            const char* name;
            const char* adapter;
            bool checkpointing;
            int chunk; // -1: the default (automatic); else loss_chunk_tokens
        };
        const Row rows[] = {
            { "full", "full", false, 1 << 30 },
            { "full + checkpointing", "full", true, 1 << 30 },
            { "full + chunked loss", "full", false, 256 },
            { "full + both", "full", true, 256 },
            { "lora", "lora", false, 1 << 30 },
            { "lora + both", "lora", true, 256 },
        };
        std::printf("%-24s %12s %14s %8s\n", "configuration", "peak RSS", "estimate+base", "ratio");
        for (const Row& row : rows) {
            const fs::path cfg = fs::path(m_dir.path().toStdString()) / (std::string(row.name) + ".yaml");
            std::ofstream(cfg) << "model: " << m_model.string() << "\ndataset: " << m_data.string()
                               << "\nadapter:\n  type: " << row.adapter
                               << (std::string(row.adapter) == "lora"
                                          ? "\n  r: 8\n  target_modules: [q_proj, v_proj]\n"
                                          : "\n")
                               << "objective:\n  type: sft\n  loss_chunk_tokens: " << row.chunk
                               << "\ntraining:\n  learning_rate: 1.0e-4\n  max_steps: 2\n  per_device_train_batch_size: "
                               << m_batch << "\n  cutoff_len: " << m_tokens
                               << "\n  train_on_prompt: true\n  save_total_limit: 1\n  gradient_checkpointing: "
                               << (row.checkpointing ? "true" : "false") << "\n";
            const ChildRun estimate = runChild({ TUNEBENCH_CLI, "estimate", cfg.string() });
            QVERIFY2(estimate.exitCode == 0, estimate.out.c_str());
            const double estimateMb = json::parse(estimate.out)["memory"]["total"].get<double>() / (1024.0 * 1024.0);
            const ChildRun r = runChild({ TUNEBENCH_CLI, "train", cfg.string(), "--workspace", ws.toStdString() });
            QVERIFY2(r.exitCode == 0,
                (std::string(row.name) + " failed: " + r.out.substr(r.out.size() > 500 ? r.out.size() - 500 : 0))
                    .c_str());
            const double peakMb = static_cast<double>(r.peakRssKb) / 1024.0;
            std::printf("%-24s %9.0f MB %11.0f MB %8.2f\n", row.name, peakMb, estimateMb + baselineMb,
                peakMb / (estimateMb + baselineMb));
            std::fflush(stdout);
        }
    }
};

QTEST_GUILESS_MAIN(BenchMemory)
#include "bench_memory.moc"
