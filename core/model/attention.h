// Causal self-attention masks and the attention computation shared by every
// architecture: transformers' "eager" implementation in ATen ops on LibTorch 1.13,
// LibTorch's fused scaled_dot_product_attention on 2.5+ (core/torch_compat.h), with
// the same results.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <optional>

namespace tunebench {

// Which keys each query may attend to: [B, 1, T, S] bool, true = attend.
// The T queries are the last T of the S positions (the first S - T come from
// a KV cache). keyMask [B, S] marks real tokens with 1 and padding with 0;
// undefined means no padding. With a window w, the query at position i sees
// keys j with i - w < j <= i (w tokens, itself included), as transformers'
// sliding-window masks do; with a key mask, distances count unmasked keys only
// (the same for left or right padding, and for padding between virtual tokens
// and a left-padded prompt, which then sees the virtual tokens as alone).
at::Tensor causalAttentionMask(const at::Tensor& keyMask, std::int64_t batch, std::int64_t queries, std::int64_t keys,
    std::optional<std::int64_t> window, at::Device device);

// softmax(q k^T * scale, masked) v with grouped-query heads.
// q [B, H, T, D]; k, v [B, Hkv, S, D] with H a multiple of Hkv (query head h
// uses key/value head h / (H / Hkv), as transformers' repeat_kv);
// allowed [B, 1, T, S] bool. Returns [B, T, H * D].
// Scores are masked with the dtype's lowest value (not -inf) and the softmax
// runs in float32, so a query that sees nothing (a left-padding position)
// gets a uniform average instead of NaN.
at::Tensor groupedAttention(
    const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& allowed, double scale);

} // namespace tunebench
