#include "core/model/model_weights.h"

#include "core/util/error.h"
#include "core/util/json_file.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace tunebench {

namespace {

const char* const kSingleFile = "model.safetensors";
const char* const kIndexFile = "model.safetensors.index.json";

bool isPickleName(const std::string& name)
{
    auto endsWith = [&](std::string_view suffix) {
        return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    return endsWith(".bin") || endsWith(".pt") || endsWith(".pth") || endsWith(".ckpt") || endsWith(".pkl")
        || name == "pytorch_model.bin.index.json";
}

// A shard named by the index must be a plain file name in the folder: the
// index is untrusted input and must not reach "../../elsewhere".
bool isPlainFileName(const std::string& name)
{
    return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos
        && name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

} // namespace

void refusePickledWeights(const std::filesystem::path& dir)
{
    std::error_code ec;
    std::vector<std::string> pickles;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (isPickleName(name))
            pickles.push_back(name);
    }
    if (pickles.empty())
        return;
    std::sort(pickles.begin(), pickles.end());
    std::string list;
    for (const auto& p : pickles)
        list += (list.empty() ? "" : ", ") + p;
    const std::string d = dir.string();
    throw InputError(d + ": the folder has only pickled PyTorch weights (" + list
        + ") and no model.safetensors. Tunebench never loads pickle files: unpickling runs whatever code the "
          "file carries, so a model downloaded from anywhere could take over the machine. Convert the folder "
          "to safetensors once, with Python and transformers, e.g.\n"
          "  python -c \"from transformers import AutoModelForCausalLM; "
          "AutoModelForCausalLM.from_pretrained('"
        + d + "').save_pretrained('" + d + "-safetensors', safe_serialization=True)\"\n"
        + "and copy the tokenizer files next to it (or save them with AutoTokenizer the same way).");
}

ModelWeights ModelWeights::open(const std::filesystem::path& dir)
{
    ModelWeights w;
    const std::filesystem::path single = dir / kSingleFile;
    const std::filesystem::path index = dir / kIndexFile;
    if (std::filesystem::is_regular_file(single)) {
        w.m_files.push_back(SafetensorsFile::open(single));
        for (const auto& name : w.m_files[0].names())
            w.m_where[name] = 0;
        return w;
    }
    if (!std::filesystem::is_regular_file(index)) {
        if (!std::filesystem::is_directory(dir))
            throw InputError(dir.string() + ": not a folder");
        refusePickledWeights(dir);
        throw InputError(dir.string() + ": no model weights: expected " + kSingleFile + " or " + kIndexFile);
    }

    const nlohmann::json j = readJsonFile(index);
    const std::string where = index.string();
    if (!j.is_object() || !j.contains("weight_map"))
        throw InputError(where + ": expected an object with a 'weight_map' field");
    const nlohmann::json& map = j["weight_map"];
    if (!map.is_object())
        throw InputError(where + ": 'weight_map' must be an object of tensor name -> file name");
    std::map<std::string, std::size_t> fileIndex;
    for (const auto& [name, file] : map.items()) {
        if (!file.is_string())
            throw InputError(where + ": weight_map['" + name + "'] must be a file name string, got " + file.dump());
        const std::string fileName = file.get<std::string>();
        if (!isPlainFileName(fileName))
            throw InputError(where + ": weight_map['" + name + "'] names '" + fileName
                + "', which is not a plain file name in the model folder");
        auto [it, added] = fileIndex.emplace(fileName, w.m_files.size());
        if (added) {
            const std::filesystem::path shard = dir / fileName;
            if (!std::filesystem::is_regular_file(shard))
                throw InputError(
                    where + ": the shard '" + fileName + "' it lists (for '" + name + "') is missing from the folder");
            w.m_files.push_back(SafetensorsFile::open(shard));
        }
        if (!w.m_files[it->second].contains(name))
            throw InputError(
                where + ": weight_map says '" + name + "' is in '" + fileName + "', but that file has no such tensor");
        w.m_where[name] = it->second;
    }
    // Tensors a shard holds beyond the index are loaded too, as transformers
    // does; the same name in two shards would make the result depend on order.
    for (std::size_t f = 0; f < w.m_files.size(); ++f) {
        for (const auto& name : w.m_files[f].names()) {
            auto [it, added] = w.m_where.emplace(name, f);
            if (!added && it->second != f && !map.contains(name))
                throw InputError(where + ": tensor '" + name + "' is in both '"
                    + w.m_files[it->second].path().filename().string() + "' and '"
                    + w.m_files[f].path().filename().string() + "'");
        }
    }
    return w;
}

std::vector<std::string> ModelWeights::names() const
{
    std::vector<std::string> out;
    out.reserve(m_where.size());
    for (const auto& [name, _] : m_where)
        out.push_back(name);
    return out;
}

at::Tensor ModelWeights::tensor(const std::string& name) const
{
    auto it = m_where.find(name);
    if (it == m_where.end())
        throw InputError("model weights: no tensor named '" + name + "'");
    return m_files[it->second].tensor(name);
}

const std::filesystem::path& ModelWeights::fileOf(const std::string& name) const
{
    auto it = m_where.find(name);
    if (it == m_where.end())
        throw InputError("model weights: no tensor named '" + name + "'");
    return m_files[it->second].path();
}

std::vector<std::filesystem::path> ModelWeights::files() const
{
    std::vector<std::filesystem::path> out;
    for (const auto& f : m_files)
        out.push_back(f.path());
    return out;
}

} // namespace tunebench
