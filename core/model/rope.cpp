#include "core/model/rope.h"

#include <cmath>

namespace tunebench {

namespace {

// Python's `scalar / tensor` is tensor.reciprocal() * scalar, which rounds
// differently from a true division; mirrored to match transformers bit for bit.
at::Tensor rdiv(double numerator, const at::Tensor& t)
{
    return t.reciprocal() * numerator;
}

// 1 / base^(2i / dim), evaluated in float32 with the operations transformers uses.
at::Tensor defaultInverseFrequencies(double base, std::int64_t dim)
{
    const at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / static_cast<double>(dim);
    return rdiv(1.0, at::pow(base, exponent));
}

// Llama 3.1: long wavelengths are slowed by `factor`, short ones kept, and the
// band between interpolated smoothly.
at::Tensor llama3InverseFrequencies(const at::Tensor& invFreq, const RopeScaling& s)
{
    const double oldContext = static_cast<double>(s.originalMaxPositionEmbeddings);
    const double lowFreqWavelen = oldContext / s.lowFreqFactor;
    const double highFreqWavelen = oldContext / s.highFreqFactor;
    const at::Tensor wavelen = rdiv(2 * M_PI, invFreq);
    at::Tensor scaled = at::where(wavelen > lowFreqWavelen, invFreq / s.factor, invFreq);
    const at::Tensor smooth = (rdiv(oldContext, wavelen) - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    const at::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
    const at::Tensor isMedium = (wavelen >= highFreqWavelen).logical_and(wavelen <= lowFreqWavelen);
    return at::where(isMedium, smoothed, scaled);
}

} // namespace

at::Tensor ropeInverseFrequencies(const ModelConfig& config, std::int64_t seqLen)
{
    const std::int64_t dim = config.headDim;
    const RopeScaling& s = config.ropeScaling;
    switch (s.type) {
    case RopeScaling::Type::None:
        return defaultInverseFrequencies(config.ropeTheta, dim);
    case RopeScaling::Type::Linear:
        return defaultInverseFrequencies(config.ropeTheta, dim) / s.factor;
    case RopeScaling::Type::Llama3:
        return llama3InverseFrequencies(defaultInverseFrequencies(config.ropeTheta, dim), s);
    case RopeScaling::Type::Dynamic: {
        const auto maxPos = static_cast<double>(config.maxPositionEmbeddings);
        const double len = seqLen > config.maxPositionEmbeddings ? static_cast<double>(seqLen) : maxPos;
        const double d = static_cast<double>(dim);
        const double base = config.ropeTheta * std::pow((s.factor * len / maxPos) - (s.factor - 1.0), d / (d - 2.0));
        return defaultInverseFrequencies(base, dim);
    }
    }
    return defaultInverseFrequencies(config.ropeTheta, dim);
}

RotaryEmbedding::RotaryEmbedding(const ModelConfig& config)
    : m_config(config)
    , m_invFreq(ropeInverseFrequencies(config))
{ }

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cosSin(const at::Tensor& positionIds, at::ScalarType dtype) const
{
    at::Tensor invFreq = m_invFreq;
    if (m_config.ropeScaling.type == RopeScaling::Type::Dynamic) {
        const std::int64_t seqLen = positionIds.numel() ? positionIds.max().item<std::int64_t>() + 1 : 0;
        invFreq = ropeInverseFrequencies(m_config, seqLen);
    }
    invFreq = invFreq.to(positionIds.device());
    // [B, T, 1] * [D/2] -> [B, T, D/2]: the outer product transformers forms with a matmul.
    const at::Tensor freqs = positionIds.to(at::kFloat).unsqueeze(-1) * invFreq;
    const at::Tensor emb = at::cat({ freqs, freqs }, -1); // [B, T, D]
    return { emb.cos().to(dtype), emb.sin().to(dtype) };
}

at::Tensor applyRotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin)
{
    const std::int64_t half = x.size(-1) / 2;
    const at::Tensor x1 = x.narrow(-1, 0, half);
    const at::Tensor x2 = x.narrow(-1, half, x.size(-1) - half);
    const at::Tensor rotated = at::cat({ -x2, x1 }, -1);
    const at::Tensor c = cos.unsqueeze(1); // [B, 1, T, D]
    const at::Tensor s = sin.unsqueeze(1);
    return x * c + rotated * s;
}

} // namespace tunebench
