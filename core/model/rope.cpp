#include "core/model/rope.h"

#include <algorithm>
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

// YaRN ("NTK-by-parts"): each dimension pair turns 2 pi / inv_freq positions per rotation; over the original
// context, pairs that turn more than betaFast times keep their frequency (extrapolate), pairs that turn
// fewer than betaSlow times are divided by factor (interpolate), and the pairs between blend linearly.
at::Tensor yarnInverseFrequencies(double base, std::int64_t dim, const RopeScaling& s)
{
    const double d = static_cast<double>(dim);
    const auto original = static_cast<double>(s.originalMaxPositionEmbeddings);
    // The dimension (fractional) at which a pair makes `rotations` turns over the original context.
    auto dimensionFor = [&](double rotations) {
        return (d * std::log(original / (rotations * 2 * M_PI))) / (2 * std::log(base));
    };
    double low = dimensionFor(s.betaFast);
    double high = dimensionFor(s.betaSlow);
    if (s.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, d - 1);
    if (low == high)
        high += 0.001; // a ramp of zero width would divide by zero

    const at::Tensor exponent = at::arange(0, dim, 2, at::kLong).to(at::kFloat) / d;
    const at::Tensor powers = at::pow(base, exponent);
    const at::Tensor extrapolated = rdiv(1.0, powers);
    const at::Tensor interpolated = rdiv(1.0, powers * s.factor);
    const at::Tensor ramp = ((at::arange(dim / 2, at::kFloat) - low) / (high - low)).clamp(0, 1);
    const at::Tensor keep = 1 - ramp; // 1: extrapolate, 0: interpolate
    return interpolated * (1 - keep) + extrapolated * keep;
}

double mscaleOf(double scale, double k)
{
    return scale <= 1 ? 1.0 : 0.1 * k * std::log(scale) + 1.0;
}

} // namespace

double ropeAttentionScaling(const RopeScaling& s)
{
    if (s.type != RopeScaling::Type::Yarn)
        return 1.0;
    if (s.attentionFactor)
        return *s.attentionFactor;
    if (s.mscale && s.mscaleAllDim && *s.mscale != 0.0 && *s.mscaleAllDim != 0.0)
        return mscaleOf(s.factor, *s.mscale) / mscaleOf(s.factor, *s.mscaleAllDim);
    return mscaleOf(s.factor, 1.0);
}

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
    case RopeScaling::Type::Yarn:
        return yarnInverseFrequencies(config.ropeTheta, dim, s);
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
    , m_attentionScaling(ropeAttentionScaling(config.ropeScaling))
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
    if (m_attentionScaling != 1.0) // YaRN: scaled in float32, before the cast
        return { (emb.cos() * m_attentionScaling).to(dtype), (emb.sin() * m_attentionScaling).to(dtype) };
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
