#include "core/model/attention.h"

#include "core/torch_compat.h"

#include <limits>

namespace tunebench {

namespace {

// The most negative finite value of the scores' dtype: a masked score that
// stays finite (adding two of them is never needed: the mask is boolean).
double lowestValue(at::ScalarType type)
{
    switch (type) {
    case at::kDouble:
        return std::numeric_limits<double>::lowest();
    case at::kHalf:
        return -65504.0;
    case at::kBFloat16:
        return -3.3895313892515355e38;
    default:
        return std::numeric_limits<float>::lowest();
    }
}

} // namespace

at::Tensor causalAttentionMask(const at::Tensor& keyMask, std::int64_t batch, std::int64_t queries, std::int64_t keys,
    std::optional<std::int64_t> window, at::Device device)
{
    const auto longs = at::TensorOptions().dtype(at::kLong).device(device);
    const at::Tensor queryPos = at::arange(keys - queries, keys, longs).unsqueeze(1); // [T, 1]
    const at::Tensor keyPos = at::arange(0, keys, longs).unsqueeze(0); // [1, S]
    at::Tensor allowed = keyPos <= queryPos; // [T, S]
    if (window && !keyMask.defined())
        allowed = allowed.logical_and(keyPos > queryPos - *window);
    allowed = allowed.view({ 1, 1, queries, keys });
    if (keyMask.defined()) {
        const at::Tensor mask = keyMask.to(device).to(at::kLong);
        if (window) {
            // Distances count the unmasked keys only: padding between the
            // keys (left padding after virtual tokens) does not narrow the window.
            const at::Tensor counted = mask.cumsum(1); // [B, S]
            const at::Tensor queryCount = counted.narrow(1, keys - queries, queries).unsqueeze(2); // [B, T, 1]
            const at::Tensor inWindow = counted.unsqueeze(1) > queryCount - *window; // [B, T, S]
            allowed = allowed.logical_and(inWindow.unsqueeze(1));
        }
        allowed = allowed.logical_and(mask.to(at::kBool).view({ batch, 1, 1, keys }));
    }
    return allowed.expand({ batch, 1, queries, keys });
}

at::Tensor groupedAttention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, double scale)
{
    const std::int64_t batch = q.size(0);
    const std::int64_t heads = q.size(1);
    const std::int64_t queries = q.size(2);
    const std::int64_t headDim = q.size(3);
    const std::int64_t kvHeads = k.size(1);
    const std::int64_t group = heads / kvHeads;
    const std::int64_t keys = k.size(2);

    if constexpr (compat::kHasScaledDotProductAttention) {
        // A query row that may see no key (a left-padding position) gets the eager path's uniform
        // average over all keys: a zero query scores every key alike, and all keys are allowed.
        const at::Tensor seesSome = allowed.any(-1, /*keepdim=*/true); // [B, 1, T, 1]
        const at::Tensor mask = allowed.logical_or(seesSome.logical_not());
        const at::Tensor query = q.masked_fill(seesSome.logical_not(), 0);
        return compat::scaledDotProductAttention(query, k, v, mask, scale) // [B, H, T, D]
            .transpose(1, 2)
            .reshape({ batch, queries, heads * headDim });
    }

    // Broadcasting over the group instead of copying keys and values per head.
    const at::Tensor qg = q.reshape({ batch, kvHeads, group, queries, headDim }); // [B, Hkv, G, T, D]
    const at::Tensor kg = k.unsqueeze(2); // [B, Hkv, 1, S, D]
    const at::Tensor vg = v.unsqueeze(2); // [B, Hkv, 1, S, D]
    at::Tensor scores = at::matmul(qg, kg.transpose(-1, -2)) * scale; // [B, Hkv, G, T, S]
    const at::Tensor mask = allowed.view({ batch, 1, 1, queries, keys }).logical_not();
    scores = scores.masked_fill(mask, lowestValue(scores.scalar_type()));
    const at::Tensor probs = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
    const at::Tensor out = at::matmul(probs, vg); // [B, Hkv, G, T, D]
    return out.reshape({ batch, heads, queries, headDim }).transpose(1, 2).reshape({ batch, queries, heads * headDim });
}

} // namespace tunebench
