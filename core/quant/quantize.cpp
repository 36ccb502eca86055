#include "core/quant/quantize.h"

#include "core/util/error.h"

#include <ATen/core/grad_mode.h>

#include <cfloat>
#include <cmath>

namespace tunebench::quant {

namespace {

// The normal quantile function through erfinv: ppf(p) = sqrt(2) erfinv(2p - 1).
at::Tensor normalQuantile(const at::Tensor& p)
{
    return at::erfinv(p * 2 - 1) * std::sqrt(2.0);
}

// n points evenly from first to last (both included), in double.
at::Tensor evenly(double first, double last, std::int64_t n)
{
    return at::linspace(first, last, n, at::TensorOptions().dtype(at::kDouble));
}

std::int64_t ceilDiv(std::int64_t a, std::int64_t b)
{
    return (a + b - 1) / b;
}

} // namespace

Scheme schemeFromString(const std::string& text, const std::string& field)
{
    if (text == "none")
        return Scheme::None;
    if (text == "nf4")
        return Scheme::Nf4;
    if (text == "int8")
        return Scheme::Int8;
    throw InputError(field + ": '" + text + "' is not a quantisation scheme (none, nf4 or int8)");
}

const char* schemeName(Scheme scheme)
{
    switch (scheme) {
    case Scheme::Nf4:
        return "nf4";
    case Scheme::Int8:
        return "int8";
    case Scheme::None:
        break;
    }
    return "none";
}

namespace {

at::Tensor computeNf4CodeBook()
{
    // QLoRA's offset: the outermost quantile is the middle of the two choices 1 - 1/(2*15) and 1 - 1/(2*16), so the
    // extreme codes are neither infinite nor wasted on the tails (bitsandbytes' 0.9677083).
    const double offset = 0.9677083;
    // 2^(k-1) = 8 quantiles on the positive side and 7 on the negative side, each from offset down to (not
    // including) the median, plus zero: 16 values with an exact zero.
    const at::Tensor positive = normalQuantile(evenly(offset, 0.5, 9).narrow(0, 0, 8));
    const at::Tensor negative = -normalQuantile(evenly(offset, 0.5, 8).narrow(0, 0, 7));
    at::Tensor values = at::cat({ negative, at::zeros({ 1 }, positive.options()), positive });
    values = std::get<0>(at::sort(values));
    return (values / values.abs().max()).to(at::kFloat);
}

at::Tensor computeDynamicCodeBook()
{
    // One sign bit and seven others: for exponent e = 0..6 (a decade 10^(e-6)), 2^e linear steps between 0.1 and 1
    // (the midpoints of 2^e + 1 even boundaries), on both sides; then 0 and 1. 2 * 127 + 2 = 256 values.
    std::vector<at::Tensor> parts;
    for (std::int64_t e = 0; e < 7; ++e) {
        const at::Tensor bounds = evenly(0.1, 1.0, (std::int64_t { 1 } << e) + 1);
        const std::int64_t m = bounds.size(0) - 1;
        const at::Tensor means = (bounds.narrow(0, 0, m) + bounds.narrow(0, 1, m)) / 2 * std::pow(10.0, double(e - 6));
        parts.push_back(means);
        parts.push_back(-means);
    }
    parts.push_back(at::tensor({ 0.0, 1.0 }, at::TensorOptions().dtype(at::kDouble)));
    return std::get<0>(at::sort(at::cat(parts))).to(at::kFloat);
}

} // namespace

// Computed once: dequantising runs them on every forward of every quantised layer. Never freed, so no tensor
// outlives LibTorch's allocator at exit.
at::Tensor nf4CodeBook()
{
    static const at::Tensor* const book = new at::Tensor(computeNf4CodeBook());
    return *book;
}

at::Tensor dynamicCodeBook()
{
    static const at::Tensor* const book = new at::Tensor(computeDynamicCodeBook());
    return *book;
}

at::Tensor nearestCode(const at::Tensor& x, const at::Tensor& codeBook)
{
    const std::int64_t k = codeBook.size(0);
    const at::Tensor book = codeBook.to(x.device(), at::kFloat);
    const at::Tensor midpoints = (book.narrow(0, 0, k - 1) + book.narrow(0, 1, k - 1)) / 2;
    return at::bucketize(x.to(at::kFloat), midpoints).to(at::kByte);
}

BlockwiseCodes quantizeBlockwise(const at::Tensor& flat, const at::Tensor& codeBook, std::int64_t blockSize)
{
    const std::int64_t n = flat.numel();
    const std::int64_t blocks = ceilDiv(n, blockSize);
    // Zeros pad the last block: they leave its absmax as it is and are cut off again.
    const at::Tensor padded = at::constant_pad_nd(flat.to(at::kFloat).reshape({ n }), { 0, blocks * blockSize - n }, 0)
                                  .view({ blocks, blockSize });
    BlockwiseCodes out;
    out.absmax = std::get<0>(padded.abs().max(1));
    const at::Tensor normalised = (padded / out.absmax.clamp_min(FLT_MIN).unsqueeze(1)).clamp(-1, 1);
    out.codes = nearestCode(normalised.reshape({ blocks * blockSize }).narrow(0, 0, n), codeBook);
    return out;
}

at::Tensor dequantizeBlockwise(
    const at::Tensor& codes, const at::Tensor& absmax, const at::Tensor& codeBook, std::int64_t blockSize)
{
    const std::int64_t n = codes.numel();
    const std::int64_t blocks = absmax.size(0);
    const at::Tensor values = codeBook.to(codes.device(), at::kFloat).index_select(0, codes.to(at::kLong));
    return (
        at::constant_pad_nd(values, { 0, blocks * blockSize - n }, 0).view({ blocks, blockSize }) * absmax.unsqueeze(1))
        .reshape({ blocks * blockSize })
        .narrow(0, 0, n);
}

at::Tensor packNibbles(const at::Tensor& codes, std::uint8_t padding)
{
    const std::int64_t n = codes.numel();
    const at::Tensor pairs
        = at::constant_pad_nd(codes.to(at::kByte).reshape({ n }), { 0, n % 2 }, padding).view({ -1, 2 });
    return pairs.select(1, 0) * 16 + pairs.select(1, 1);
}

at::Tensor unpackNibbles(const at::Tensor& packed, std::int64_t n)
{
    const at::Tensor high = at::div(packed, 16, "floor");
    const at::Tensor low = at::remainder(packed, 16);
    return at::stack({ high, low }, 1).reshape({ packed.numel() * 2 }).narrow(0, 0, n);
}

std::int64_t QuantizedTensor::numel() const
{
    std::int64_t n = 1;
    for (std::int64_t s : shape)
        n *= s;
    return n;
}

std::int64_t QuantizedTensor::bytes() const
{
    std::int64_t b = 0;
    for (const at::Tensor* t : { &data, &scales, &scaleAbsmax })
        b += t->defined() ? static_cast<std::int64_t>(t->nbytes()) : 0;
    return b + (scheme == Scheme::Nf4 ? static_cast<std::int64_t>(sizeof(float)) : 0);
}

QuantizedTensor quantize(const at::Tensor& w, Scheme scheme)
{
    if (scheme == Scheme::None)
        throw InputError("quantize: no scheme given (nf4 or int8)");
    if (!at::isFloatingType(w.scalar_type()))
        throw InputError(std::string("quantize: a ") + c10::toString(w.scalar_type())
            + " tensor is not floating point; only weights are quantised");
    if (w.numel() == 0)
        throw InputError("quantize: the tensor is empty");
    at::NoGradGuard noGrad;
    const at::Tensor flat = w.detach().to(at::kFloat).reshape({ w.numel() });
    if (!at::isfinite(flat).all().item<bool>())
        throw InputError("quantize: the tensor has a NaN or infinite value");
    QuantizedTensor q;
    q.scheme = scheme;
    q.shape = w.sizes().vec();
    if (scheme == Scheme::Int8) {
        const std::int64_t rows = w.dim() == 0 ? 1 : w.size(0);
        const at::Tensor m = flat.view({ rows, -1 });
        q.scales = std::get<0>(m.abs().max(1)) / 127;
        q.data = at::round(m / q.scales.clamp_min(FLT_MIN).unsqueeze(1)).clamp(-127, 127).to(at::kChar);
        return q;
    }
    const BlockwiseCodes codes = quantizeBlockwise(flat, nf4CodeBook(), kNf4BlockSize);
    // An odd count pads with the code of 0 (index 7), which decodes to nothing, as bitsandbytes pads.
    const auto zero = nearestCode(at::zeros({ 1 }), nf4CodeBook()).item<std::uint8_t>();
    q.data = packNibbles(codes.codes, zero);
    // Double quantisation: the scales, centred on their mean (they are all positive, so centring doubles the
    // resolution the signed 8-bit code book gives them), coded in blocks of 256 with a float32 absmax each.
    const at::Tensor mean = codes.absmax.mean();
    q.scaleOffset = mean.item<double>();
    const BlockwiseCodes second = quantizeBlockwise(codes.absmax - mean, dynamicCodeBook(), kScaleBlockSize);
    q.scales = second.codes;
    q.scaleAbsmax = second.absmax;
    return q;
}

at::Tensor nf4BlockScales(const QuantizedTensor& q)
{
    return dequantizeBlockwise(q.scales, q.scaleAbsmax, dynamicCodeBook(), kScaleBlockSize)
        + static_cast<float>(q.scaleOffset);
}

at::Tensor dequantize(const QuantizedTensor& q)
{
    at::NoGradGuard noGrad;
    switch (q.scheme) {
    case Scheme::Int8:
        return (q.data.to(at::kFloat) * q.scales.unsqueeze(1)).reshape(q.shape);
    case Scheme::Nf4:
        return dequantizeBlockwise(unpackNibbles(q.data, q.numel()), nf4BlockScales(q), nf4CodeBook(), kNf4BlockSize)
            .reshape(q.shape);
    case Scheme::None:
        break;
    }
    throw InputError("dequantize: the tensor is not quantised");
}

} // namespace tunebench::quant
