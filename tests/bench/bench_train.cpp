// Training throughput per adapter on the CPU: for every adapter plugin, a real
// `tunebench-cli train` run (its own process, so each peak RSS is its own) on
// a fixed small Llama (hidden 256, 4 layers, 8 heads with 4 key/value heads,
// MLP 688, vocabulary 32000: 19.3M parameters), batch 4 x 128 tokens, AdamW,
// clipping at norm 1. Prints tokens/s and step time (median after two warm-up
// steps) and the child's peak RSS. When Debian's python3-torch is there,
// tests/bench/train_step_pytorch.py runs the same step in PyTorch eager and the
// ratio Tunebench / PyTorch is printed for the methods it implements.
// Asserts only that every run finished.
//
// Run: ctest -L bench -R bench_train -V, or build/tests/bench_train directly.

#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/runtime.h"
#include "model/model_test_support.h"
#include "support/child_process.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <fstream>
#include <map>
#include <random>

using namespace tunebench;
using namespace tunebench::test_support;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr int kSteps = 6;

// Adapter sections for the bench (the LoRA family at r 8 on q_proj and v_proj, as the PyTorch side).
const std::map<std::string, std::string> kSections = {
    { "freeze", "  type: freeze\n  trainable_layers: 1\n" },
    { "lora", "  type: lora\n  r: 8\n  lora_alpha: 16\n  target_modules: [q_proj, v_proj]\n" },
    // @bench-rows
};

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

} // namespace

class BenchTrain : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    std::map<std::string, double> m_pytorch; // method -> tokens/s

private Q_SLOTS:
    void initTestCase()
    {
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
        spec.eosTokenIds = { model_test::kTinyTokenizerEos };
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), m_model);
        // Plain text longer than the cutoff: every example is exactly 128 trained tokens.
        m_data = fs::path(m_dir.path().toStdString()) / "data.jsonl";
        std::ofstream out(m_data);
        std::mt19937 gen(7);
        for (int i = 0; i < 64; ++i) {
            std::string text;
            while (text.size() < 1200)
                text += std::string(1 + gen() % 7, static_cast<char>('a' + gen() % 26)) + " ";
            out << json({ { "text", text } }).dump() << "\n";
        }
        std::printf("model: llama hidden 256, 4 layers, 8 heads (4 kv), MLP 688, vocabulary 32000, 19.3M "
                    "parameters; batch 4 x 128 tokens; %d threads; LibTorch CPU float32\n",
            configureThreads());

        QProcess python;
        python.start("/usr/bin/python3",
            { QStringLiteral(TUNEBENCH_SOURCE_DIR "/tests/bench/train_step_pytorch.py"), "--steps",
                QString::number(kSteps) });
        if (python.waitForFinished(1200000) && python.exitCode() == 0) {
            for (const QByteArray& line : python.readAllStandardOutput().split('\n')) {
                if (line.trimmed().isEmpty())
                    continue;
                const json j = json::parse(line.toStdString());
                m_pytorch[j["method"]] = j["tokens_per_s"];
                std::printf("pytorch eager %-8s %8.0f tokens/s  %7.0f ms/step\n",
                    j["method"].get<std::string>().c_str(), j["tokens_per_s"].get<double>(),
                    j["step_ms"].get<double>());
            }
        } else {
            std::printf("PyTorch eager comparison skipped: /usr/bin/python3 with torch (Debian's python3-torch) "
                        "did not run: %s\n",
                python.readAllStandardError().left(300).constData());
        }
    }

    void adapters()
    {
        const QString ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const CliResult list = runCli({ "plugins", "list" }); // kind, name, version, file; tab-separated
        std::vector<std::string> adapters;
        for (const QString& line : list.out.split('\n', Qt::SkipEmptyParts)) {
            const QStringList fields = line.split('\t');
            if (fields.size() >= 2 && fields[0] == "adapter")
                adapters.push_back(fields[1].toStdString());
        }
        QVERIFY(!adapters.empty());
        std::printf("%-14s %10s %10s %10s %12s %10s\n", "adapter", "tokens/s", "ms/step", "peak RSS", "trainable",
            "vs PyTorch");
        for (const std::string& adapter : adapters) {
            const fs::path cfg = fs::path(m_dir.path().toStdString()) / (adapter + ".yaml");
            std::ofstream(cfg) << "model: " << m_model.string() << "\ndataset: " << m_data.string() << "\nadapter:\n"
                               << (kSections.count(adapter) ? kSections.at(adapter) : "  type: " + adapter + "\n")
                               << "training:\n  learning_rate: 1.0e-4\n  max_steps: " << kSteps
                               << "\n  per_device_train_batch_size: 4\n  cutoff_len: 128\n  weight_decay: 0.01\n"
                                  "  train_on_prompt: true\n  save_total_limit: 1\n";
            const ChildRun r = runChild({ TUNEBENCH_CLI, "train", cfg.string(), "--workspace", ws.toStdString() });
            std::vector<double> tps;
            std::int64_t trainable = 0;
            for (const QString& line : QString::fromStdString(r.out).split('\n', Qt::SkipEmptyParts)) {
                const json e = json::parse(line.toStdString());
                if (e["event"] == "start")
                    trainable = e["trainable_parameters"];
                if (e["event"] == "step" && e["step"].get<int>() > 2)
                    tps.push_back(e["tokens_per_s"]);
            }
            QVERIFY2(r.exitCode == 0,
                (adapter + " failed: " + r.out.substr(r.out.size() > 500 ? r.out.size() - 500 : 0)).c_str());
            const double t = median(tps);
            std::string ratio = "";
            if (m_pytorch.count(adapter))
                ratio = QString::number(t / m_pytorch.at(adapter), 'f', 2).toStdString();
            std::printf("%-14s %10.0f %10.0f %8.0f MB %12lld %10s\n", adapter.c_str(), t, t > 0 ? 512.0 / t * 1e3 : 0.0,
                static_cast<double>(r.peakRssKb) / 1024.0, static_cast<long long>(trainable), ratio.c_str());
            std::fflush(stdout);
        }
    }
};

QTEST_GUILESS_MAIN(BenchTrain)
#include "bench_train.moc"
