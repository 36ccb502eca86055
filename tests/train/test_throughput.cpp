// Throughput and MFU (core/train/throughput.h): the weights of matrix products counted from every
// architecture's config against its model's own 2-D weights; attention work of padded and packed batches by
// hand; model FLOPs by hand; the data-sheet table by CUDA's device names; the CPU probe; and a training run whose
// step events carry samples_per_s and mfu that agree with the batch and the hand-counted FLOPs.

#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/train/throughput.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestThroughput : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void matmulWeightsMatchTheModel_data()
    {
        QTest::addColumn<int>("index");
        const auto configs = model_test::architectureConfigs();
        for (std::size_t i = 0; i < configs.size(); ++i)
            QTest::newRow(configs[i].first.c_str()) << static_cast<int>(i);
    }

    void matmulWeightsMatchTheModel()
    {
        QFETCH(int, index);
        const ModelConfig config = model_test::architectureConfigs()[static_cast<std::size_t>(index)].second;
        const auto model = createRandomCausalLM(config, 5);
        // Every 2-D weight but the embedding tables (a lookup, no product); a tied head reuses the embedding.
        double counted = 0;
        for (const auto& [name, tensor] : model->namedParameters()) {
            if (tensor.dim() != 2)
                continue;
            if (name.find("embed_tokens") != std::string::npos || name.find("wte") != std::string::npos
                || name.find("wpe") != std::string::npos)
                continue;
            counted += static_cast<double>(tensor.numel());
        }
        if (config.tieWordEmbeddings)
            counted += static_cast<double>(config.vocabSize * config.hiddenSize);
        QCOMPARE(matmulWeights(config), counted);
    }

    void attentionWorkByHand()
    {
        TokenBatch padded;
        padded.attentionMask = at::tensor({ 1, 1, 1, 0, 1, 1, 0, 0 }, at::kLong).reshape({ 2, 4 });
        AttentionWork w = attentionWork(padded);
        QCOMPARE(w.tokens, std::int64_t(5));
        QCOMPARE(w.contextSum, std::int64_t(3 * 3 + 2 * 2));

        TokenBatch packed; // one row: segments of 2, 3 and 1 tokens, then 2 of padding
        packed.attentionMask = at::tensor({ 1, 1, 1, 1, 1, 1, 0, 0 }, at::kLong).reshape({ 1, 8 });
        packed.segmentIds = at::tensor({ 0, 0, 1, 1, 1, 2, 0, 0 }, at::kLong).reshape({ 1, 8 });
        w = attentionWork(packed);
        QCOMPARE(w.tokens, std::int64_t(6));
        QCOMPARE(w.contextSum, std::int64_t(4 + 9 + 1));

        QCOMPARE(attentionWork(TokenBatch {}).tokens, std::int64_t(0));
    }

    void modelFlopsByHand()
    {
        ModelConfig c;
        c.architecture = Architecture::Llama;
        c.vocabSize = 100;
        c.hiddenSize = 8;
        c.intermediateSize = 16;
        c.numLayers = 2;
        c.numHeads = 2;
        c.numKvHeads = 1;
        c.headDim = 4;
        // Per layer: q 8x8, k and v 8x4 each, o 8x8, MLP 3 x 8x16; head 8x100.
        const double n = 2 * (64 + 32 + 32 + 64 + 3 * 128) + 800;
        QCOMPARE(matmulWeights(c), n);
        const AttentionWork work { 10, 50 };
        const double attention = 4.0 * 2 * 2 * 4;
        QCOMPARE(modelFlops(c, work, 3), 3 * (2 * n * 10 + attention * 50));
        QCOMPARE(modelFlops(c, work, 2), 2 * (2 * n * 10 + attention * 50));
    }

    void knownDevices_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<bool>("sixteenBit");
        QTest::addColumn<double>("teraflops"); // 0: not in the table
        QTest::newRow("H100 SXM bf16") << "NVIDIA H100 80GB HBM3" << true << 989.4;
        QTest::newRow("H100 SXM fp32") << "NVIDIA H100 80GB HBM3" << false << 66.9;
        QTest::newRow("H100 PCIe") << "NVIDIA H100 PCIe" << true << 756.5;
        QTest::newRow("H200") << "NVIDIA H200" << true << 989.4;
        QTest::newRow("A100") << "NVIDIA A100-SXM4-80GB" << true << 312.0;
        QTest::newRow("L40S, not L40 or L4") << "NVIDIA L40S" << true << 362.1;
        QTest::newRow("L4") << "NVIDIA L4" << false << 30.3;
        QTest::newRow("unknown") << "Some Accelerator 9000" << true << 0.0;
    }

    void knownDevices()
    {
        QFETCH(QString, name);
        QFETCH(bool, sixteenBit);
        QFETCH(double, teraflops);
        const auto peak = knownDevicePeak(name.toStdString(), sixteenBit);
        if (teraflops == 0) {
            QVERIFY(!peak);
            return;
        }
        QVERIFY(peak);
        QCOMPARE(*peak, teraflops * 1e12);
    }

    void cpuProbe()
    {
        at::manual_seed(9); // the probe must leave the random generator alone
        const at::Tensor expected = at::rand({ 4 });
        at::manual_seed(9);
        const PeakFlops peak = devicePeakFlops(c10::Device(at::kCPU), false);
        QVERIFY(at::equal(at::rand({ 4 }), expected));
        QVERIFY2(peak.flopsPerSecond > 1e8, qPrintable(QString::number(peak.flopsPerSecond)));
        QVERIFY2(QString::fromStdString(peak.source).startsWith("probe: float32 matrix product on cpu"),
            peak.source.c_str());
        qInfo("CPU float32 product probe: %.2f GFLOP/s (%s)", peak.flopsPerSecond / 1e9, peak.source.c_str());
        QCOMPARE(devicePeakFlops(c10::Device(at::kCPU), false).flopsPerSecond, peak.flopsPerSecond); // measured once
    }

    void stepEventsCarrySamplesAndMfu_data()
    {
        QTest::addColumn<QString>("optim");
        QTest::addColumn<int>("passes");
        QTest::newRow("adamw") << "adamw" << 3;
        QTest::newRow("mezo") << "mezo" << 2;
    }

    void stepEventsCarrySamplesAndMfu()
    {
        QFETCH(QString, optim);
        QFETCH(int, passes);
        QTemporaryDir dir;
        const fs::path root = dir.path().toStdString();
        model_test::writeTinyModelFolder(root / "model", 3);
        {
            std::ofstream out(root / "data.jsonl");
            const char* lines[] = { "the cat sat on the mat", "a dog", "the bird sang in the old tree today" };
            for (int i = 0; i < 12; ++i)
                out << json({ { "text", lines[i % 3] } }).dump() << "\n";
        }
        PluginRegistry plugins;
        plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        const json config = { { "model", (root / "model").string() }, { "dataset", (root / "data.jsonl").string() },
            { "adapter", "full" }, { "optim", optim.toStdString() }, { "per_device_train_batch_size", 2 },
            { "gradient_accumulation_steps", 2 }, { "max_steps", 3 }, { "seed", 3 }, { "threads", 1 },
            { "learning_rate", 1e-4 } };
        std::vector<json> steps;
        std::optional<json> reference;
        TrainerOptions o;
        o.runDir = root / "run";
        o.events = [&](const json& e) {
            if (e["event"] == "step")
                steps.push_back(e);
            if (e["event"] == "throughput_reference")
                reference = e;
        };
        runTraining(TrainConfig::fromJson(config, plugins, "test config"), plugins, o);
        QCOMPARE(steps.size(), std::size_t(3));
        QVERIFY(reference);
        const double peak = (*reference)["peak_flops"].get<double>();
        QVERIFY(peak > 0);
        const ModelConfig model = readModelConfig(root / "model" / "config.json");
        QCOMPARE((*reference)["matmul_weights"].get<double>(), matmulWeights(model));
        for (const json& e : steps) {
            const double seconds = e["step_seconds"].get<double>();
            // 2 examples x 2 micro-batches a step.
            QVERIFY(std::abs(e["samples_per_s"].get<double>() * seconds - 4.0) < 1e-9);
            // The step's FLOPs over its tokens lie between those of the shortest and the longest sequence.
            const double flops = e["model_flops_per_s"].get<double>() * seconds;
            const double tokens = e["tokens_per_s"].get<double>() * seconds;
            const double perTokenLow = passes * (2 * matmulWeights(model));
            QVERIFY2(flops / tokens > perTokenLow, e.dump().c_str());
            QVERIFY2(flops / tokens < perTokenLow + passes * 4.0 * 2 * 4 * 8 * 64, e.dump().c_str());
            const double mfu = e["mfu"].get<double>();
            QVERIFY(std::abs(mfu - e["model_flops_per_s"].get<double>() / peak) <= 1e-12 * std::max(1.0, mfu));
            QVERIFY2(mfu > 0 && mfu < 5, e.dump().c_str()); // a probe is not a hard ceiling, but not far below
        }
    }
};

QTEST_GUILESS_MAIN(TestThroughput)
#include "test_throughput.moc"
