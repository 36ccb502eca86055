#include "core/train/throughput.h"

#include "core/method/objective.h"
#include "core/tunebench_config.h"

#include <ATen/Functions.h>
#include <ATen/Parallel.h>

#if TUNEBENCH_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>
#include <vector>

namespace tunebench {

double matmulWeights(const ModelConfig& c)
{
    const double d = static_cast<double>(c.hiddenSize);
    const double headDim
        = static_cast<double>(c.headDim > 0 ? c.headDim : c.hiddenSize / std::max<std::int64_t>(1, c.numHeads));
    const double q = static_cast<double>(c.numHeads) * headDim;
    const double kv = static_cast<double>(c.numKvHeads > 0 ? c.numKvHeads : c.numHeads) * headDim;
    const double attention = d * q + 2 * d * kv + q * d;
    // Llama's gated MLP has three products; GPT-2's two.
    const double mlp = (c.architecture == Architecture::Gpt2 ? 2.0 : 3.0) * d * static_cast<double>(c.intermediateSize);
    return static_cast<double>(c.numLayers) * (attention + mlp) + d * static_cast<double>(c.vocabSize);
}

AttentionWork attentionWork(const TokenBatch& batch)
{
    AttentionWork w;
    if (!batch.attentionMask.defined())
        return w;
    const at::Tensor mask = batch.attentionMask.to(at::kCPU, at::kLong).contiguous();
    const at::Tensor segments
        = batch.segmentIds.defined() ? batch.segmentIds.to(at::kCPU, at::kLong).contiguous() : at::Tensor();
    const std::int64_t rows = mask.size(0);
    const std::int64_t cols = mask.size(1);
    const std::int64_t* m = mask.data_ptr<std::int64_t>();
    const std::int64_t* s = segments.defined() ? segments.data_ptr<std::int64_t>() : nullptr;
    for (std::int64_t r = 0; r < rows; ++r) {
        // Lengths of the runs of equal segment ids among the row's real tokens (one run without packing).
        std::int64_t run = 0;
        std::int64_t current = -1;
        auto close = [&] {
            w.contextSum += run * run;
            run = 0;
        };
        for (std::int64_t t = 0; t < cols; ++t) {
            if (m[r * cols + t] == 0)
                continue;
            ++w.tokens;
            const std::int64_t id = s ? s[r * cols + t] : 0;
            if (run > 0 && id != current)
                close();
            current = id;
            ++run;
        }
        close();
    }
    return w;
}

double modelFlops(const ModelConfig& c, const AttentionWork& work, int passes)
{
    const double headDim
        = static_cast<double>(c.headDim > 0 ? c.headDim : c.hiddenSize / std::max<std::int64_t>(1, c.numHeads));
    const double attention = 4.0 * static_cast<double>(c.numLayers) * static_cast<double>(c.numHeads) * headDim;
    return passes
        * (2.0 * matmulWeights(c) * static_cast<double>(work.tokens)
            + attention * static_cast<double>(work.contextSum));
}

std::optional<double> knownDevicePeak(std::string_view name, bool sixteenBit)
{
    // Dense (no structured sparsity) tensor-core figures from the vendors' data sheets, in TFLOP/s: 16-bit
    // products with float32 accumulation, and float32 without TF32. More specific names first.
    struct Entry {
        const char* contains;
        double bf16;
        double fp32;
    };
    static const Entry table[] = {
        { "GH200", 989.4, 66.9 },
        { "H200", 989.4, 66.9 },
        { "H100 PCIe", 756.5, 51.2 },
        { "H100 NVL", 835.5, 60.0 },
        { "H100", 989.4, 66.9 },
        { "B200", 2250.0, 80.0 },
        { "A100", 312.0, 19.5 },
        { "L40S", 362.1, 91.6 },
        { "L40", 181.0, 90.5 },
        { "L4", 121.0, 30.3 },
        { "RTX 4090", 165.2, 82.6 },
        { "V100", 125.0, 15.7 },
    };
    for (const Entry& e : table) {
        if (name.find(e.contains) != std::string_view::npos)
            return (sixteenBit ? e.bf16 : e.fp32) * 1e12;
    }
    return std::nullopt;
}

namespace {

std::string deviceName(const c10::Device& device)
{
#if TUNEBENCH_WITH_CUDA
    if (device.is_cuda()) {
        cudaDeviceProp properties {};
        if (cudaGetDeviceProperties(&properties, device.has_index() ? device.index() : 0) == cudaSuccess)
            return properties.name;
    }
#endif
    return device.str();
}

// The best of three timings of a few square products, after one to warm up. Constant operands: the probe must not
// draw from the run's random generator (a resumed run would draw differently).
double probe(const c10::Device& device, at::ScalarType dtype)
{
    const std::int64_t n = device.is_cpu() ? 512 : 4096;
    const int reps = device.is_cpu() ? 2 : 10;
    const auto options = at::TensorOptions().device(device).dtype(dtype);
    const at::Tensor a = at::full({ n, n }, 0.5, options);
    const at::Tensor b = at::full({ n, n }, 0.25, options);
    auto once = [&] {
        at::Tensor c;
        for (int i = 0; i < reps; ++i)
            c = at::mm(a, b);
        (void)c.select(0, 0).select(0, 0).item<double>(); // waits for the device
    };
    once();
    double best = 0;
    for (int k = 0; k < 3; ++k) {
        const auto start = std::chrono::steady_clock::now();
        once();
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        if (seconds > 0)
            best = std::max(best, 2.0 * static_cast<double>(n * n) * static_cast<double>(n) * reps / seconds);
    }
    return best;
}

} // namespace

PeakFlops devicePeakFlops(const c10::Device& device, bool sixteenBit)
{
    const std::string name = deviceName(device);
    const char* precision = sixteenBit ? "bf16" : "float32";
    if (device.is_cuda()) {
        if (const auto peak = knownDevicePeak(name, sixteenBit))
            return { *peak, "table: " + name + " (" + precision + ")" };
    }
    static std::mutex mutex;
    static std::map<std::tuple<std::string, bool, int>, double> cache;
    const int threads = at::get_num_threads();
    const std::lock_guard lock(mutex);
    auto key = std::make_tuple(name, sixteenBit, threads);
    auto it = cache.find(key);
    if (it == cache.end())
        it = cache.emplace(key, probe(device, sixteenBit ? at::kBFloat16 : at::kFloat)).first;
    std::string source = std::string("probe: ") + precision + " matrix product on " + name;
    if (device.is_cpu())
        source += ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
    return { it->second, source };
}

} // namespace tunebench
