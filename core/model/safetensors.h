// Reading and writing safetensors files as LibTorch tensors.
#pragma once

#include "core/model/safetensors_header.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class MappedFile;

using NamedTensors = std::vector<std::pair<std::string, at::Tensor>>;

// One safetensors file, memory-mapped and validated on open. Cheap to copy
// (shares the mapping); safe to read from several threads at once.
class SafetensorsFile {
public:
    // Maps and validates the file (see parseSafetensorsHeader). Throws
    // InputError naming the file and the tensor or field at fault.
    static SafetensorsFile open(const std::filesystem::path& path);

    const std::filesystem::path& path() const { return m_path; }
    const SafetensorsHeader& header() const { return *m_header; }
    const std::map<std::string, std::string>& metadata() const { return m_header->metadata; }
    // Names in the order of their data in the file.
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const { return m_header->find(name) != nullptr; }

    // The tensor as stored: its dtype and shape, on the CPU. Zero-copy where
    // possible: the tensor's storage is the mapped file itself and holds the
    // mapping alive after this object is gone, so loading a model costs no
    // second copy of its weights and untouched pages are never read. The
    // mapping is private copy-on-write, so in-place updates are safe and never
    // reach the file. Bytes that are not aligned for their element type (a file
    // from a writer that does not align) are copied instead, as are BOOL
    // tensors, whose bytes are checked to be 0 or 1 (anything else would be
    // undefined behaviour once read as bool).
    // Throws InputError for an unknown name, a dtype this LibTorch has no type
    // for (U16, U32, U64, F8_*), or a BOOL byte other than 0/1.
    at::Tensor tensor(const std::string& name) const;

    // Every tensor, in file order.
    NamedTensors tensors() const;

private:
    std::filesystem::path m_path;
    std::shared_ptr<MappedFile> m_file;
    std::shared_ptr<const SafetensorsHeader> m_header;
};

// The file's dtype for a LibTorch scalar type; throws InputError naming `what`
// for a type the format cannot store.
SafetensorsDtype safetensorsDtypeOf(at::ScalarType type, const std::string& what);

// Serialises tensors exactly as the Python library does: an 8-byte length, a
// JSON header with `__metadata__` first (when given) and then the tensors in
// data order, padded with spaces to a multiple of 8 bytes; data ordered by
// dtype alignment (largest first) then by name, so every tensor is aligned
// for its type. Tensors may be on any device, strided or not. Throws InputError
// for duplicate names or unsupported dtypes.
std::string serializeSafetensors(const NamedTensors& tensors, const std::map<std::string, std::string>& metadata = {});

// Writes serializeSafetensors' bytes to path, one tensor at a time, through a
// temporary file renamed into place (a reader never sees half a file).
// Throws Error when the file cannot be written.
void writeSafetensors(const std::filesystem::path& path, const NamedTensors& tensors,
    const std::map<std::string, std::string>& metadata = {});

} // namespace tunebench
