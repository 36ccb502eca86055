// The JSON header of a safetensors file, parsed and validated without LibTorch,
// so the parser can be fuzzed on its own (tests/fuzz/).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tunebench {

// Element types of the format. The order is the reference writer's alignment
// order: it writes tensors sorted by this enum descending, then by name.
enum class SafetensorsDtype { Bool, U8, I8, F8E5M2, F8E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

// Bytes per element.
std::size_t dtypeSize(SafetensorsDtype dtype);
// The header's spelling ("F32", "BF16", "F8_E4M3", ...).
std::string_view dtypeName(SafetensorsDtype dtype);
// nullopt for a name the format does not define.
std::optional<SafetensorsDtype> dtypeFromName(std::string_view name);

struct SafetensorsTensorInfo {
    std::string name;
    SafetensorsDtype dtype = SafetensorsDtype::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 0;
    // Byte range relative to the start of the data region (after the header).
    std::uint64_t begin = 0;
    std::uint64_t end = 0;
};

struct SafetensorsHeader {
    // The JSON's length in bytes (the 8-byte prefix's value).
    std::uint64_t headerLength = 0;
    // Bytes of tensor data after the header; every byte belongs to exactly one tensor.
    std::uint64_t dataSize = 0;
    std::map<std::string, std::string> metadata;
    // Sorted by begin offset (the order of the data in the file).
    std::vector<SafetensorsTensorInfo> tensors;

    // File offset of the data region.
    std::uint64_t dataOffset() const { return 8 + headerLength; }
    // nullptr when the file has no tensor of that name.
    const SafetensorsTensorInfo* find(std::string_view name) const;

    std::unordered_map<std::string, std::size_t> index; // name -> position in tensors
};

// The reference implementation's limit; a larger header is refused before it is read.
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;
// More dimensions than any real tensor has; a bound keeps hostile headers cheap.
constexpr std::size_t kMaxSafetensorsRank = 64;

// Reads the little-endian header length from the first 8 bytes of a file of
// fileSize bytes and checks it against the size limit and the file.
// Throws InputError naming fileLabel.
std::uint64_t readSafetensorsHeaderLength(
    std::span<const std::uint8_t> prefix, std::uint64_t fileSize, const std::string& fileLabel);

// Parses and validates a whole header. fileStart holds at least the first
// 8 + header-length bytes of a file that is fileSize bytes long. Checks, as the
// reference loader does and a little more: a JSON object of at most 3 levels
// without duplicate keys; `__metadata__` maps strings to strings; every tensor
// has a known dtype, a shape of non-negative integers whose element count and
// byte count do not overflow, and data_offsets [begin, end] with end - begin
// equal to that byte count; sorted by offset the tensors tile the data region
// exactly (no gap, no overlap, nothing after the last one).
// Throws InputError naming fileLabel and the tensor or field at fault; never
// anything else for any input (the fuzz target checks this).
SafetensorsHeader parseSafetensorsHeader(
    std::span<const std::uint8_t> fileStart, std::uint64_t fileSize, const std::string& fileLabel);

} // namespace tunebench
