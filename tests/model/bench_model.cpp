// Model runtime throughput on the CPU: forward tokens/s of a small Llama
// (hidden 256, 4 layers, batch 4 x 128 tokens), forward+backward, and
// generation tokens/s with and without the KV cache. Prints figures only.

#include "core/model/generate.h"
#include "core/model/model_writer.h"
#include "core/runtime.h"

#include "model_test_support.h"

#include <QtTest>

#include <c10/core/InferenceMode.h>

#include <chrono>

using namespace tunebench;

namespace {

double secondsOf(const std::function<void()>& f)
{
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best of `repeats` after one warm-up: the least disturbed run on a shared machine.
double bestSeconds(int repeats, const std::function<void()>& f)
{
    f();
    double best = 1e30;
    for (int i = 0; i < repeats; ++i)
        best = std::min(best, secondsOf(f));
    return best;
}

} // namespace

class BenchModel : public QObject {
    Q_OBJECT

    std::unique_ptr<CausalLM> m_model;

private Q_SLOTS:
    void initTestCase()
    {
        const int threads = configureThreads();
        RandomModelSpec spec;
        spec.architecture = Architecture::Llama;
        spec.vocabSize = 32000;
        spec.hiddenSize = 256;
        spec.numLayers = 4;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        spec.intermediateSize = 688;
        m_model = createRandomCausalLM(randomModelConfig(spec), 1);
        std::printf("model: llama hidden 256, 4 layers, 8 heads (4 kv), MLP 688, vocabulary 32000: %.1fM parameters; "
                    "%d threads, LibTorch CPU float32\n",
            static_cast<double>(m_model->parameterCount()) / 1e6, threads);
    }

    void forward()
    {
        const at::Tensor ids = model_test::randomIds(4, 128, 1, 32000);
        ForwardInput in;
        in.inputIds = ids;
        const double inference = bestSeconds(5, [&] {
            c10::InferenceMode guard;
            m_model->forward(in);
        });
        std::printf(
            "forward, batch 4 x 128 tokens: %.0f tokens/s (%.1f ms per batch)\n", 512 / inference, inference * 1e3);
        m_model->setRequiresGrad(true);
        const double training = bestSeconds(3, [&] {
            const at::Tensor logits = m_model->forward(in).logits;
            at::cross_entropy_loss(logits.reshape({ -1, 32000 }), ids.reshape({ -1 })).backward();
        });
        m_model->setRequiresGrad(false);
        std::printf("forward + backward, batch 4 x 128 tokens: %.0f tokens/s (%.1f ms per batch)\n", 512 / training,
            training * 1e3);
    }

    void generation()
    {
        GenerationOptions o;
        o.maxNewTokens = 64;
        for (std::int64_t batch : { 1, 4 }) {
            std::vector<std::vector<std::int32_t>> prompts;
            for (std::int64_t b = 0; b < batch; ++b) {
                const at::Tensor ids = model_test::randomIds(1, 16, 10 + static_cast<std::uint64_t>(b), 32000);
                prompts.emplace_back(ids.data_ptr<std::int64_t>(), ids.data_ptr<std::int64_t>() + 16);
            }
            const double s = bestSeconds(3, [&] { generate(*m_model, prompts, o); });
            std::printf("generate with KV cache, batch %lld, 16-token prompts, 64 new tokens: %.0f tokens/s "
                        "(%.2f ms per step)\n",
                static_cast<long long>(batch), static_cast<double>(batch * 64) / s, s / 64 * 1e3);
        }
        // The same without a cache: every step recomputes the whole sequence.
        const at::Tensor prompt = model_test::randomIds(1, 16, 10, 32000);
        const double uncached = bestSeconds(2, [&] {
            c10::InferenceMode guard;
            at::Tensor sequence = prompt;
            for (int step = 0; step < 64; ++step) {
                ForwardInput in;
                in.inputIds = sequence;
                in.lastPositionOnly = true;
                const at::Tensor next = m_model->forward(in).logits.select(1, 0).argmax(-1, true);
                sequence = at::cat({ sequence, next }, 1);
            }
        });
        std::printf(
            "generate without cache (full recomputation), batch 1, 64 new tokens: %.0f tokens/s\n", 64 / uncached);
    }
};

QTEST_GUILESS_MAIN(BenchModel)
#include "bench_model.moc"
