// GGUF files (the format of llama.cpp and Ollama), version 3: writing, and reading back for checks.
//
// Layout (little-endian): "GGUF", version u32, tensor count u64, metadata count u64; each metadata entry
// as key (u64 length + UTF-8 bytes), value type u32 and value (arrays: item type u32, count u64, items);
// each tensor as name, dimension count u32, dimensions u64 in ggml order (the fastest-varying first, i.e. a
// LibTorch shape reversed), ggml type u32 and offset u64 from the start of the data section; then padding
// to general.alignment (32 here) and the data, each tensor starting at a multiple of the alignment.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

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

// Values as `type`, in ggml's byte layout. F16 and BF16 round to nearest even (as LibTorch and gguf-py do);
// Q8_0 takes d = max|x| / 127 per block of 32, stores d as fp16 and round(x / d) (0 for an all-zero block).
// values: any float tensor; read as float32, row-major.
std::string encodeTensor(const at::Tensor& values, TensorType type);
// The inverse: float32 values of the given count from ggml bytes.
at::Tensor decodeTensor(const std::string& bytes, TensorType type, std::int64_t count);

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

class Writer {
public:
    void setUint32(const std::string& key, std::uint32_t v);
    void setInt32(const std::string& key, std::int32_t v);
    void setUint64(const std::string& key, std::uint64_t v);
    void setFloat32(const std::string& key, float v);
    void setBool(const std::string& key, bool v);
    void setString(const std::string& key, const std::string& v);
    void setStringArray(const std::string& key, const std::vector<std::string>& v);
    void setInt32Array(const std::string& key, const std::vector<std::int32_t>& v);
    void setFloat32Array(const std::string& key, const std::vector<float>& v);

    // A tensor under `name` with LibTorch shape (written reversed, as ggml orders dimensions), stored as `type`.
    // Throws InputError for a duplicate name, or Q8_0 with a first ggml dimension that is not a multiple of 32.
    void addTensor(const std::string& name, const at::Tensor& values, TensorType type);

    // Writes the file through a temporary file renamed into place. Throws Error when it cannot be written.
    void write(const std::filesystem::path& path) const;

private:
    struct Entry {
        std::string key;
        std::string bytes; // type and value, encoded
    };
    struct TensorEntry {
        std::string name;
        at::Tensor values;
        TensorType type;
    };
    void set(const std::string& key, std::string bytes);
    std::vector<Entry> m_entries;
    std::vector<TensorEntry> m_tensors;
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
