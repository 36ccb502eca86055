// GGUF files (the format of llama.cpp and Ollama), version 3: the types, and reading a file's header,
// metadata and tensor table. No LibTorch here (the fuzz target reads files with it alone); gguf.h adds
// the writer and the tensor data. The layout is described in gguf.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace at {
class Tensor;
}

namespace tunebench::gguf {

// GGUF metadata value types.
enum class ValueType : std::uint32_t {
    Uint8 = 0,
    Int8 = 1,
    Uint16 = 2,
    Int16 = 3,
    Uint32 = 4,
    Int32 = 5,
    Float32 = 6,
    Bool = 7,
    String = 8,
    Array = 9,
    Uint64 = 10,
    Int64 = 11,
    Float64 = 12,
};

// The ggml tensor types this writer produces.
enum class TensorType : std::uint32_t { F32 = 0, F16 = 1, Q8_0 = 8, BF16 = 30 };

std::string tensorTypeName(TensorType type); // "F32", "F16", "Q8_0", "BF16"

constexpr std::int64_t kQ8BlockSize = 32; // values per Q8_0 block: an fp16 scale and 32 int8
constexpr std::int64_t kQ8BlockBytes = 34;
constexpr std::uint32_t kAlignment = 32;

// Bytes of a tensor of `count` values stored as `type` (Q8_0: count must be a multiple of 32).
std::uint64_t tensorBytes(TensorType type, std::int64_t count);

// One metadata value: scalars, a string, or an array of one type.
struct Value {
    ValueType type = ValueType::Uint32;
    ValueType itemType = ValueType::Uint32; // arrays
    std::variant<std::uint64_t, std::int64_t, double, bool, std::string> scalar;
    std::vector<std::variant<std::uint64_t, std::int64_t, double, bool, std::string>> items;

    std::string asString() const;
    std::int64_t asInt() const;
    double asFloat() const;
    bool asBool() const;
};

struct TensorInfo {
    std::string name;
    std::vector<std::int64_t> ggmlShape; // ne[0], ne[1], ... (fastest first)
    TensorType type = TensorType::F32;
    std::uint64_t offset = 0; // from the start of the data section
    std::vector<std::int64_t> torchShape() const; // reversed
    std::int64_t count() const;
};

// A GGUF file read back: header, metadata in file order and the tensor table. Throws InputError naming the
// file and what is wrong (magic, version, a truncated entry, an unknown type, a misaligned offset).
struct File {
    std::uint32_t version = 0;
    std::vector<std::pair<std::string, Value>> metadata;
    std::vector<TensorInfo> tensors;
    std::uint64_t dataOffset = 0; // where the data section starts in the file
    std::filesystem::path path;

    static File read(const std::filesystem::path& path);
    const Value* find(const std::string& key) const;
    const TensorInfo* tensor(const std::string& name) const;
    // The tensor's values as float32 with its LibTorch shape.
    at::Tensor load(const std::string& name) const;
};

} // namespace tunebench::gguf
