#include "core/train/checkpoint.h"

#include "core/model/safetensors.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

constexpr const char* kStepPrefix = "step-";

bool isStepFolder(const fs::path& p)
{
    const std::string name = p.filename().string();
    return name.rfind(kStepPrefix, 0) == 0 && name.size() > 5 && std::all_of(name.begin() + 5, name.end(), [](char c) {
        return std::isdigit(static_cast<unsigned char>(c));
    });
}

std::vector<fs::path> stepFolders(const fs::path& dir)
{
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        if (e.is_directory() && isStepFolder(e.path()) && fs::exists(e.path() / "trainer_state.json"))
            out.push_back(e.path());
    }
    std::sort(out.begin(), out.end(),
        [](const fs::path& a, const fs::path& b) { return CheckpointStore::stepOf(a) < CheckpointStore::stepOf(b); });
    return out;
}

} // namespace

CheckpointStore::CheckpointStore(fs::path runDir, std::int64_t keepLast)
    : m_dir(std::move(runDir) / "checkpoints")
    , m_keepLast(std::max<std::int64_t>(1, keepLast))
{
    std::error_code ec;
    fs::create_directories(m_dir, ec);
    if (ec)
        throw Error("cannot create " + m_dir.string() + ": " + ec.message());
}

std::int64_t CheckpointStore::stepOf(const fs::path& dir)
{
    const std::string name = dir.filename().string();
    if (name.rfind(kStepPrefix, 0) == 0)
        return std::stoll(name.substr(5));
    std::ifstream in(dir / "trainer_state.json");
    const auto state = nlohmann::json::parse(in, nullptr, false);
    return state.is_object() ? state.value("step", std::int64_t { 0 }) : 0;
}

void CheckpointStore::write(const fs::path& target, std::int64_t step, const CheckpointData& data)
{
    const fs::path tmp = m_dir / (".tmp-" + target.filename().string());
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp, ec);
    if (ec)
        throw Error("cannot write checkpoint " + target.string() + ": cannot create " + tmp.string() + ": "
            + writeFailureText(ec.value()));
    try {
        writeSafetensors(tmp / "adapter.safetensors", data.adapter, { { "format", "pt" } });
        NamedTensors opt(data.optimizer.begin(), data.optimizer.end());
        writeSafetensors(tmp / "optimizer.safetensors", opt);
        nlohmann::json trainer = data.trainer;
        trainer["step"] = step;
        writeFileAtomically(tmp / "trainer_state.json", trainer.dump(2) + "\n");
        syncToDisk(tmp);
    } catch (const Error& e) {
        // A half-written checkpoint is never left behind (it would only take space); the older ones are untouched.
        fs::remove_all(tmp, ec);
        throw Error(
            "cannot write checkpoint " + target.string() + " (the previous checkpoints are intact): " + e.what());
    }
    // Replace an existing folder of the same name (the best checkpoint) in two renames.
    const fs::path old = m_dir / (".old-" + target.filename().string());
    fs::remove_all(old, ec);
    if (fs::exists(target)) {
        fs::rename(target, old, ec);
        if (ec) {
            fs::remove_all(tmp, ec);
            throw Error("cannot replace checkpoint " + target.string() + ": " + ec.message());
        }
    }
    fs::rename(tmp, target, ec);
    if (ec) {
        const std::string reason = ec.message();
        if (fs::exists(old))
            fs::rename(old, target, ec);
        fs::remove_all(tmp, ec);
        throw Error("cannot move the checkpoint into " + target.string() + ": " + reason);
    }
    syncToDisk(m_dir);
    fs::remove_all(old, ec);
}

fs::path CheckpointStore::save(std::int64_t step, const CheckpointData& data)
{
    const fs::path target = m_dir / (kStepPrefix + std::to_string(step));
    write(target, step, data);
    prune();
    return target;
}

fs::path CheckpointStore::saveBest(std::int64_t step, const CheckpointData& data)
{
    const fs::path target = m_dir / "best";
    write(target, step, data);
    return target;
}

void CheckpointStore::prune()
{
    auto folders = stepFolders(m_dir);
    while (static_cast<std::int64_t>(folders.size()) > m_keepLast) {
        std::error_code ec;
        fs::remove_all(folders.front(), ec);
        folders.erase(folders.begin());
    }
}

std::optional<fs::path> CheckpointStore::latest() const
{
    auto folders = stepFolders(m_dir);
    if (folders.empty())
        return std::nullopt;
    return folders.back();
}

std::optional<fs::path> CheckpointStore::best() const
{
    if (fs::exists(m_dir / "best" / "trainer_state.json"))
        return m_dir / "best";
    return std::nullopt;
}

CheckpointData CheckpointStore::load(const fs::path& dir)
{
    CheckpointData data;
    const fs::path statePath = dir / "trainer_state.json";
    std::ifstream in(statePath, std::ios::binary);
    if (!in)
        throw InputError("checkpoint " + dir.string() + " is incomplete: no trainer_state.json");
    data.trainer = nlohmann::json::parse(in, nullptr, false);
    if (!data.trainer.is_object() || !data.trainer.contains("step"))
        throw InputError(statePath.string() + ": damaged (not a JSON object with a step)");
    data.adapter = SafetensorsFile::open(dir / "adapter.safetensors").tensors();
    for (auto& [name, tensor] : SafetensorsFile::open(dir / "optimizer.safetensors").tensors())
        data.optimizer[name] = tensor.clone(); // own the memory: the checkpoint may be replaced while training
    for (auto& [name, tensor] : data.adapter)
        tensor = tensor.clone();
    return data;
}

} // namespace tunebench
