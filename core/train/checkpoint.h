#pragma once

#include "core/method/adapter.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

namespace tunebench {

// What a checkpoint holds: the adapter's tensors, the optimiser's state and
// the trainer's own (step, RNG, early-stopping counters), enough to continue
// exactly. Stored as checkpoints/step-<N>/{adapter,optimizer}.safetensors and
// trainer_state.json (never pickle).
struct CheckpointData {
    AdapterState adapter;
    std::map<std::string, at::Tensor> optimizer;
    nlohmann::json trainer = nlohmann::json::object();
};

// The checkpoints of one run folder. Writes are atomic: a checkpoint is
// written into a temporary folder and renamed into place, so a crash leaves
// either the whole checkpoint or none. Keeps the last keepLast step
// checkpoints, and separately the best one (by eval loss) in checkpoints/best.
class CheckpointStore {
public:
    CheckpointStore(std::filesystem::path runDir, std::int64_t keepLast);

    // Returns the checkpoint's folder. Throws Error when it cannot be written.
    std::filesystem::path save(std::int64_t step, const CheckpointData& data);
    std::filesystem::path saveBest(std::int64_t step, const CheckpointData& data);

    // The newest complete step checkpoint, if any.
    std::optional<std::filesystem::path> latest() const;
    std::optional<std::filesystem::path> best() const;

    // Throws InputError naming the file when a checkpoint is incomplete or damaged.
    static CheckpointData load(const std::filesystem::path& dir);
    static std::int64_t stepOf(const std::filesystem::path& dir);

private:
    void write(const std::filesystem::path& target, std::int64_t step, const CheckpointData& data);
    void prune();

    std::filesystem::path m_dir;
    std::int64_t m_keepLast;
};

} // namespace tunebench
