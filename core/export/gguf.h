// GGUF files (the format of llama.cpp and Ollama), version 3: writing, and reading back for checks.
//
// Layout (little-endian): "GGUF", version u32, tensor count u64, metadata count u64; each metadata entry
// as key (u64 length + UTF-8 bytes), value type u32 and value (arrays: item type u32, count u64, items);
// each tensor as name, dimension count u32, dimensions u64 in ggml order (the fastest-varying first, i.e. a
// LibTorch shape reversed), ggml type u32 and offset u64 from the start of the data section; then padding
// to general.alignment (32 here) and the data, each tensor starting at a multiple of the alignment.
#pragma once

#include "core/export/gguf_file.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace tunebench::gguf {

// Values as `type`, in ggml's byte layout. F16 and BF16 round to nearest even (as LibTorch and gguf-py do);
// Q8_0 takes d = max|x| / 127 per block of 32, stores d as fp16 and round(x / d) (0 for an all-zero block).
// values: any float tensor; read as float32, row-major.
std::string encodeTensor(const at::Tensor& values, TensorType type);
// The inverse: float32 values of the given count from ggml bytes.
at::Tensor decodeTensor(const std::string& bytes, TensorType type, std::int64_t count);

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

} // namespace tunebench::gguf
