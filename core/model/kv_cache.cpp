#include "core/model/kv_cache.h"

#include "core/util/error.h"

#include <ATen/core/grad_mode.h>

#include <algorithm>

namespace tunebench {

namespace {

// Writes src [B, H, T, D] at position `length` of buffer, growing it first
// when needed; returns the (possibly new) buffer.
at::Tensor appendInPlace(at::Tensor buffer, std::int64_t length, const at::Tensor& src)
{
    const std::int64_t needed = length + src.size(2);
    if (!buffer.defined() || buffer.size(2) < needed) {
        const std::int64_t capacity = std::max<std::int64_t>(needed, buffer.defined() ? 2 * buffer.size(2) : needed);
        at::Tensor grown = at::empty({ src.size(0), src.size(1), capacity, src.size(3) }, src.options());
        if (length > 0)
            grown.narrow(2, 0, length).copy_(buffer.narrow(2, 0, length));
        buffer = grown;
    }
    buffer.narrow(2, length, src.size(2)).copy_(src);
    return buffer;
}

} // namespace

KvCache::KvCache(std::int64_t numLayers)
    : m_keys(static_cast<std::size_t>(numLayers))
    , m_values(static_cast<std::size_t>(numLayers))
    , m_lengths(static_cast<std::size_t>(numLayers), 0)
{ }

std::pair<at::Tensor, at::Tensor> KvCache::append(std::int64_t layer, const at::Tensor& k, const at::Tensor& v)
{
    if (layer < 0 || layer >= numLayers())
        throw Error("KvCache: layer " + std::to_string(layer) + " out of range (the cache has "
            + std::to_string(numLayers()) + ")");
    const auto i = static_cast<std::size_t>(layer);
    std::int64_t& length = m_lengths[i];
    if (length > 0 && (m_keys[i].size(0) != k.size(0) || m_keys[i].size(1) != k.size(1)))
        throw Error("KvCache: appended keys have batch " + std::to_string(k.size(0)) + ", the cache holds "
            + std::to_string(m_keys[i].size(0)));
    // What is cached may need gradients too (a trainable attention prefix), even when k and v do not.
    const bool recordGrad = at::GradMode::is_enabled()
        && (k.requires_grad() || v.requires_grad()
            || (length > 0 && (m_keys[i].requires_grad() || m_values[i].requires_grad())));
    if (recordGrad) {
        m_keys[i] = length > 0 ? at::cat({ m_keys[i].narrow(2, 0, length), k }, 2) : k;
        m_values[i] = length > 0 ? at::cat({ m_values[i].narrow(2, 0, length), v }, 2) : v;
    } else {
        m_keys[i] = appendInPlace(m_keys[i], length, k);
        m_values[i] = appendInPlace(m_values[i], length, v);
    }
    length += k.size(2);
    return { m_keys[i].narrow(2, 0, length), m_values[i].narrow(2, 0, length) };
}

std::pair<at::Tensor, at::Tensor> KvCache::layer(std::int64_t layer) const
{
    if (layer < 0 || layer >= numLayers())
        throw Error("KvCache: layer " + std::to_string(layer) + " out of range (the cache has "
            + std::to_string(numLayers()) + ")");
    const auto i = static_cast<std::size_t>(layer);
    if (m_lengths[i] == 0)
        return {};
    return { m_keys[i].narrow(2, 0, m_lengths[i]), m_values[i].narrow(2, 0, m_lengths[i]) };
}

void KvCache::clear()
{
    m_virtualLength = 0;
    std::fill(m_keys.begin(), m_keys.end(), at::Tensor());
    std::fill(m_values.begin(), m_values.end(), at::Tensor());
    std::fill(m_lengths.begin(), m_lengths.end(), 0);
}

} // namespace tunebench
