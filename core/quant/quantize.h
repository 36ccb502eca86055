// Weight quantisation for QLoRA: 4-bit NormalFloat (NF4) in blocks of 64 with
// double-quantised scales, as Dettmers et al. (QLoRA, 2023) define it and
// bitsandbytes stores it, and 8-bit integers with one absmax scale per row.
// CPU and CUDA alike through LibTorch ops; nothing here tracks gradients.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench::quant {

enum class Scheme { None, Nf4, Int8 };

// "none", "nf4", "int8"; anything else throws InputError naming field.
Scheme schemeFromString(const std::string& text, const std::string& field);
const char* schemeName(Scheme scheme);

// Weights per NF4 block (one absmax scale each), and scales per block of the
// second quantisation, as in the paper and bitsandbytes' defaults.
constexpr std::int64_t kNf4BlockSize = 64;
constexpr std::int64_t kScaleBlockSize = 256;

// The 16 NF4 values, ascending, float32: quantiles of N(0, 1), 8 on the
// positive side and 7 on the negative side plus an exact zero (asymmetric so
// that zero is representable), normalised to [-1, 1].
at::Tensor nf4CodeBook();
// bitsandbytes' signed dynamic 8-bit map (Dettmers 2015's dynamic tree), the
// "8-bit float" the scales are double-quantised with: 256 values ascending in
// [-1, 1], 0 and 1 included.
at::Tensor dynamicCodeBook();

// Index of the nearest code for each element of x (float), as uint8; codeBook ascending.
at::Tensor nearestCode(const at::Tensor& x, const at::Tensor& codeBook);

// Blockwise quantisation of a 1-D float tensor of n elements: each block of
// blockSize (the last one may be shorter) divided by its absmax, then coded to
// the nearest code-book value. codes uint8 [n], absmax float32 [ceil(n / blockSize)].
struct BlockwiseCodes {
    at::Tensor codes;
    at::Tensor absmax;
};
BlockwiseCodes quantizeBlockwise(const at::Tensor& flat, const at::Tensor& codeBook, std::int64_t blockSize);
// float32 [n]: codeBook[codes] times their block's absmax.
at::Tensor dequantizeBlockwise(
    const at::Tensor& codes, const at::Tensor& absmax, const at::Tensor& codeBook, std::int64_t blockSize);

// Two 4-bit codes per byte, the first in the high nibble (as bitsandbytes
// packs them): uint8 [n] (values < 16) -> uint8 [ceil(n / 2)]; an odd n is
// padded with the code `padding` in the last low nibble (NF4 pads with its
// zero, as bitsandbytes does). unpackNibbles takes back the first n codes.
at::Tensor packNibbles(const at::Tensor& codes, std::uint8_t padding = 0);
at::Tensor unpackNibbles(const at::Tensor& packed, std::int64_t n);

// A quantised tensor. Any shape and size (no multiple of 64 needed: NF4 pads
// the last block with zeros, which leaves its absmax unchanged).
struct QuantizedTensor {
    Scheme scheme = Scheme::None;
    std::vector<std::int64_t> shape;
    // nf4: uint8 [ceil(n / 2)], packed codes of the flattened tensor.
    // int8: int8 [rows, n / rows], rows = shape[0] (1 for a scalar).
    at::Tensor data;
    // nf4: uint8 [blocks], each block's absmax minus scaleOffset, coded with
    // dynamicCodeBook() in blocks of kScaleBlockSize. int8: float32 [rows], absmax / 127.
    at::Tensor scales;
    at::Tensor scaleAbsmax; // nf4: float32 [ceil(blocks / kScaleBlockSize)]
    double scaleOffset = 0; // nf4: the mean of the absmax values, subtracted before coding them

    std::int64_t numel() const;
    // What the quantised form holds in memory (its tensors and the offset).
    std::int64_t bytes() const;
    at::Device device() const { return data.device(); }
};

// Quantises w (any floating dtype, any device; the result stays there). Throws
// InputError for Scheme::None or a tensor that is not floating point or has a
// non-finite value.
QuantizedTensor quantize(const at::Tensor& w, Scheme scheme);
// The tensor back, float32, in its shape, on the quantised tensor's device.
at::Tensor dequantize(const QuantizedTensor& q);
// NF4's per-block absmax after the double quantisation, float32 [blocks].
at::Tensor nf4BlockScales(const QuantizedTensor& q);

} // namespace tunebench::quant
