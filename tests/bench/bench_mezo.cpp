// MeZO against AdamW on the same budget: a real `tunebench-cli train` run each (its own process, so each peak
// RSS is its own), full fine-tuning of a small Llama (hidden 256, 4 layers, vocabulary 264) on short text.
// AdamW runs N steps (a forward and a backward each, about three forwards of compute); MeZO runs N steps and,
// on the same compute, 3N/2 steps (two forwards each). Prints both learning curves (the loss every few steps)
// and each run's peak RSS (and the device's peak memory where the trainer reports one). Asserts only that
// every run finished. TUNEBENCH_BENCH_STEPS sets N (default 24: short, for CI).
//
// Run: ctest -L bench -R bench_mezo -V, or build/tests/bench_mezo directly.

#include "core/model/model_writer.h"
#include "model/model_test_support.h"
#include "support/child_process.h"
#include "support/cli_runner.h"

#include <nlohmann/json.hpp>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <map>

using namespace tunebench;
using namespace tunebench::test_support;
using nlohmann::json;
namespace fs = std::filesystem;

class BenchMezo : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

    struct Curve {
        std::vector<double> losses;
        double peakRssMb = 0;
        double devicePeakMb = -1;
    };

    Curve run(const std::string& name, const std::string& optimiser, int steps, double lr)
    {
        const fs::path root = m_dir.path().toStdString();
        const fs::path cfg = root / (name + ".yaml");
        std::ofstream(cfg) << "model: " << (root / "model").string() << "\ndataset: " << (root / "data.jsonl").string()
                           << "\nadapter: full\ntraining:\n  optim: " << optimiser << "\n  learning_rate: " << lr
                           << "\n  max_steps: " << steps
                           << "\n  per_device_train_batch_size: 8\n  cutoff_len: 64\n  lr_scheduler_type: constant\n"
                              "  save_total_limit: 1\n  seed: 3\n";
        const ChildRun r = runChild({ TUNEBENCH_CLI, "train", cfg.string(), "--workspace", (root / "ws").string() });
        Curve c;
        c.peakRssMb = static_cast<double>(r.peakRssKb) / 1024.0;
        for (const QString& line : QString::fromStdString(r.out).split('\n', Qt::SkipEmptyParts)) {
            const json e = json::parse(line.toStdString(), nullptr, false);
            if (e.is_object() && e.value("event", "") == "step") {
                c.losses.push_back(e["loss"]);
                if (e.contains("device_peak_memory_mb"))
                    c.devicePeakMb = e["device_peak_memory_mb"];
            }
        }
        if (r.exitCode != 0 || static_cast<int>(c.losses.size()) != steps)
            qWarning("%s: exit %d, %zu steps: %s", name.c_str(), r.exitCode, c.losses.size(),
                r.out.substr(r.out.size() > 400 ? r.out.size() - 400 : 0).c_str());
        return c;
    }

private Q_SLOTS:
    void mezoAgainstAdamW()
    {
        const fs::path root = m_dir.path().toStdString();
        model_test::writeTinyTokenizer(root / "model");
        RandomModelSpec spec = model_test::tinyFolderSpec(4);
        spec.hiddenSize = 256;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        spec.intermediateSize = 688;
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), root / "model");
        std::ofstream data(root / "data.jsonl");
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park", "a bird sang on the tree",
            "the sun rose over the hill" };
        for (int i = 0; i < 64; ++i)
            data << json({ { "text", lines[i % 4] } }).dump() << "\n";
        data.close();
        QCOMPARE(runCli({ "workspace", "init", QString::fromStdString((root / "ws").string()) }).code, 0);

        const int n = qEnvironmentVariableIsSet("TUNEBENCH_BENCH_STEPS")
            ? qEnvironmentVariableIntValue("TUNEBENCH_BENCH_STEPS")
            : 24;
        const Curve adamw = run("adamw", "adamw_torch", n, 1e-3);
        const Curve mezo = run("mezo", "mezo", n * 3 / 2, 1e-4);
        QCOMPARE(static_cast<int>(adamw.losses.size()), n);
        QCOMPARE(static_cast<int>(mezo.losses.size()), n * 3 / 2);

        std::printf("model: llama hidden 256, 4 layers, 8 heads (4 kv), MLP 688, vocabulary 264; full fine-tuning, "
                    "batch 8; AdamW lr 1e-3, MeZO lr 1e-4 eps 1e-3 (constant)\n");
        std::printf("%6s %12s %12s %14s\n", "step", "adamw loss", "mezo loss", "forwards a/m");
        const int every = std::max(1, n / 8);
        for (int s = 1; s <= n * 3 / 2; ++s) {
            if (s % every != 0 && s != 1 && s != n && s != n * 3 / 2)
                continue;
            const std::string a = s <= n ? QString::number(adamw.losses[s - 1], 'f', 4).toStdString() : "";
            std::printf("%6d %12s %12.4f %7d/%d\n", s, a.c_str(), mezo.losses[static_cast<std::size_t>(s - 1)],
                s <= n ? 3 * s : 3 * n, 2 * s);
        }
        std::printf("same compute (3 forwards per AdamW step, 2 per MeZO step): adamw %.4f after %d steps, mezo "
                    "%.4f after %d\n",
            adamw.losses.back(), n, mezo.losses.back(), n * 3 / 2);
        std::printf("peak RSS: adamw %.0f MB, mezo %.0f MB", adamw.peakRssMb, mezo.peakRssMb);
        if (adamw.devicePeakMb >= 0)
            std::printf("; device peak: adamw %.0f MB, mezo %.0f MB", adamw.devicePeakMb, mezo.devicePeakMb);
        std::printf("\n");
        std::fflush(stdout);
    }
};

QTEST_GUILESS_MAIN(BenchMezo)
#include "bench_mezo.moc"
