// The weight files of a Hugging Face model folder: model.safetensors, or the
// shards listed in model.safetensors.index.json. Pickle is refused.
#pragma once

#include "core/model/safetensors.h"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace tunebench {

class ModelWeights {
public:
    // Opens (maps and validates) every weight file of the folder. Throws
    // InputError when the folder has no safetensors weights, explaining how to
    // convert when it has only pickled ones (pytorch_model.bin, *.pt, ...);
    // when the index is malformed, names a file outside the folder or a file
    // that is missing, or says a tensor is in a shard that lacks it; when two
    // shards hold the same tensor.
    static ModelWeights open(const std::filesystem::path& dir);

    // Every tensor name, sorted.
    std::vector<std::string> names() const;
    bool contains(const std::string& name) const { return m_where.count(name) != 0; }
    // The tensor as stored (see SafetensorsFile::tensor: zero-copy, CPU).
    // Throws InputError for an unknown name.
    at::Tensor tensor(const std::string& name) const;
    // Where a tensor lives (for messages).
    const std::filesystem::path& fileOf(const std::string& name) const;
    // The folder's weight files, in load order.
    std::vector<std::filesystem::path> files() const;

private:
    std::vector<SafetensorsFile> m_files;
    std::map<std::string, std::size_t> m_where; // name -> index into m_files
};

// Throws the pickle refusal for dir when it holds pickled weights and no
// safetensors; returns otherwise. Exposed for the tests and the CLI.
void refusePickledWeights(const std::filesystem::path& dir);

} // namespace tunebench
