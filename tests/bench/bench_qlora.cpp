// QLoRA's memory and speed on the CPU: the base weights of every adapted
// linear layer (all-linear) in float32, NF4 with double-quantised scales and
// int8 per row, in bytes and as a share of float32 (NF4 about 1/7.75: 4.127
// bits a weight), then the training step time of LoRA and of QLoRA (nf4,
// int8) on the same model: Llama hidden 256, 4 layers, 8 heads (4 kv), MLP
// 688, vocabulary 32000, r 8 on every linear layer, batch 4 x 128 tokens,
// AdamW; median of the steps after one warm-up. QLoRA pays a dequantisation
// per layer in forward and again in backward. Asserts only that the losses
// are finite.
//
// Run: ctest -L bench -R bench_qlora -V, or build/tests/bench_qlora directly.
// TUNEBENCH_BENCH_SHORT=1 (bench_qlora_short, run with the integration tests): a tiny model and two steps.

#include "core/method/adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_writer.h"
#include "core/quant/quantize.h"
#include "core/train/optimizer.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cstdio>

using namespace tunebench;
using nlohmann::json;

namespace {

bool shortMode()
{
    return qEnvironmentVariable("TUNEBENCH_BENCH_SHORT") == "1";
}

std::unique_ptr<CausalLM> benchModel()
{
    RandomModelSpec spec;
    spec.architecture = Architecture::Llama;
    spec.vocabSize = shortMode() ? 512 : 32000;
    spec.hiddenSize = shortMode() ? 64 : 256;
    spec.numLayers = shortMode() ? 2 : 4;
    spec.numHeads = 8;
    spec.numKvHeads = 4;
    spec.intermediateSize = shortMode() ? 128 : 688;
    return createRandomCausalLM(randomModelConfig(spec), 7);
}

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

class BenchQlora : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void baseWeightMemory()
    {
        const auto model = benchModel();
        std::int64_t full = 0, nf4 = 0, int8 = 0, layers = 0;
        for (const Linear* layer : model->linears()) {
            if (layer->name() == "lm_head") // all-linear leaves the output head alone
                continue;
            const at::Tensor w = layer->weightOutIn().to(at::kFloat);
            full += static_cast<std::int64_t>(w.nbytes());
            nf4 += quant::quantize(w, quant::Scheme::Nf4).bytes();
            int8 += quant::quantize(w, quant::Scheme::Int8).bytes();
            ++layers;
        }
        std::printf("base weights of %lld adapted layers (all-linear):\n", static_cast<long long>(layers));
        std::printf("  float32 %10lld bytes  1.000\n", static_cast<long long>(full));
        std::printf("  nf4     %10lld bytes  %.4f (1/%.2f)\n", static_cast<long long>(nf4), double(nf4) / double(full),
            double(full) / double(nf4));
        std::printf("  int8    %10lld bytes  %.4f (1/%.2f)\n", static_cast<long long>(int8),
            double(int8) / double(full), double(full) / double(int8));
        QVERIFY(nf4 > 0 && int8 > 0);
    }

    void stepTime_data()
    {
        QTest::addColumn<QString>("scheme");
        QTest::newRow("lora") << "none";
        QTest::newRow("qlora nf4") << "nf4";
        QTest::newRow("qlora int8") << "int8";
    }
    void stepTime()
    {
        QFETCH(QString, scheme);
        PluginRegistry plugins;
        plugins.load({ std::filesystem::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        auto model = benchModel();
        json params = { { "r", 8 }, { "lora_alpha", 16 }, { "target_modules", "all-linear" },
            { "quantize_base", scheme.toStdString() } };
        const json resolved = plugins.require(PluginKind::Adapter, "lora").schema.resolve(params, "bench");
        auto adapter = plugins.createAdapter("lora");
        model->setRequiresGrad(false);
        adapter->attach({ *model, resolved, 3 });
        auto optimizer = makeAdamW(adapter->parameterGroups(0.0));
        at::Generator gen = at::detail::createCPUGenerator(5);
        const std::int64_t tokens = shortMode() ? 16 : 128;
        const at::Tensor ids
            = at::randint(0, model->config().vocabSize, { 4, tokens }, gen, at::TensorOptions().dtype(at::kLong));
        const int steps = shortMode() ? 2 : 6;
        std::vector<double> ms;
        double loss = 0;
        for (int step = 0; step < steps; ++step) {
            const auto start = std::chrono::steady_clock::now();
            optimizer->zeroGrad();
            ForwardInput in;
            in.inputIds = ids;
            const at::Tensor logits = model->forward(in).logits;
            at::Tensor l = at::cross_entropy_loss(logits.narrow(1, 0, tokens - 1).reshape({ -1, logits.size(-1) }),
                ids.narrow(1, 1, tokens - 1).reshape({ -1 }));
            l.backward();
            optimizer->step(1e-3);
            loss = l.item<double>();
            if (step > 0)
                ms.push_back(
                    std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        std::printf("%-12s %8.1f ms/step  (loss %.4f)\n", qPrintable(QTest::currentDataTag()), median(ms), loss);
        QVERIFY(std::isfinite(loss));
    }
};

QTEST_GUILESS_MAIN(BenchQlora)
#include "bench_qlora.moc"
