#pragma once

// Model FLOPs and the device's peak, for the model FLOPs utilisation (MFU) every run reports.
//
// Model FLOPs count what the model needs, not what the run does: per token, 2 FLOPs per weight of every
// matrix product (attention and MLP projections and the output head; the embedding lookup is no product) and
// 4 * layers * heads * head_dim * T for the attention scores and their weighted sum over the T tokens of its
// sequence (PaLM's accounting, appendix B), times 3 for a training step (forward, then backward at twice the
// forward) or 2 for MeZO's two forward passes. Recomputation (gradient checkpointing), adapters' own products
// and generation are not counted, so MFU is comparable between methods on one model.

#include "core/model/config.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace at {
class Tensor;
}

namespace tunebench {

struct TokenBatch;

// Weights taking part in matrix products per token (attention, MLP, output head; tied or not).
double matmulWeights(const ModelConfig& config);

// The token count and the sum over tokens of the length of the sequence each attends in (with packing: its
// segment), of the non-padding tokens of a batch.
struct AttentionWork {
    std::int64_t tokens = 0;
    std::int64_t contextSum = 0;
    AttentionWork& operator+=(const AttentionWork& o)
    {
        tokens += o.tokens;
        contextSum += o.contextSum;
        return *this;
    }
};
AttentionWork attentionWork(const TokenBatch& batch);

// Model FLOPs of `passes` forward-pass equivalents (3: a training step; 2: MeZO) over that work.
double modelFlops(const ModelConfig& config, const AttentionWork& work, int passes);

// The device's peak rate in FLOP/s for the precision a run computes in, and where it comes from.
struct PeakFlops {
    double flopsPerSecond = 0;
    std::string source; // "table: NVIDIA H100 80GB HBM3 (bf16)", "probe: float32 matrix product, 2 threads"
};

// Dense peak of a known GPU by its name (as CUDA reports it), for 16-bit (bf16/fp16) or float32 products;
// nothing for a device not in the table.
std::optional<double> knownDevicePeak(std::string_view deviceName, bool sixteenBit);

// The table's figure for a CUDA device in the table; otherwise (the CPU, an unknown GPU) the best rate of a
// square matrix product measured once on the device with the current thread count (cached per device,
// precision and thread count), which is what a well-fed kernel reaches there rather than a data-sheet figure.
PeakFlops devicePeakFlops(const c10::Device& device, bool sixteenBit);

} // namespace tunebench
