// Keys and values of past positions, per layer, for incremental decoding.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <utility>
#include <vector>

namespace tunebench {

// One cache serves one sequence batch through a run of forwards: the first
// forward fills it with the prompt, each later one appends its new positions.
// Storage grows by doubling, so appending one token copies only that token.
// Not thread-safe; a cache belongs to one generation at a time.
class KvCache {
public:
    explicit KvCache(std::int64_t numLayers);

    // Positions cached so far (the key length before the next forward).
    std::int64_t length() const { return m_lengths.empty() ? 0 : m_lengths[0]; }
    std::int64_t numLayers() const { return static_cast<std::int64_t>(m_keys.size()); }
    // How many of the leading cached positions are virtual tokens (prompt or
    // prefix tuning, see virtual_tokens.h), which callers' attention masks do
    // not cover. Set by the model when it starts a sequence in this cache.
    std::int64_t virtualLength() const { return m_virtualLength; }
    void setVirtualLength(std::int64_t length) { m_virtualLength = length; }

    // Appends k, v [B, Hkv, T, D] to layer's cache and returns everything
    // cached for the layer, [B, Hkv, S, D] with S = old length + T. The
    // returned tensors are views valid until the next append to this layer.
    // When gradients are being recorded the cache concatenates instead of
    // writing in place, so backward through cached keys stays correct.
    std::pair<at::Tensor, at::Tensor> append(std::int64_t layer, const at::Tensor& k, const at::Tensor& v);

    // Everything cached for the layer, [B, Hkv, length(), D] each (views valid
    // until the next append); undefined tensors while nothing is cached.
    std::pair<at::Tensor, at::Tensor> layer(std::int64_t layer) const;

    // Empties every layer (and forgets the virtual length).
    void clear();

private:
    std::vector<at::Tensor> m_keys; // [B, Hkv, capacity, D] per layer
    std::vector<at::Tensor> m_values;
    std::vector<std::int64_t> m_lengths;
    std::int64_t m_virtualLength = 0;
};

} // namespace tunebench
