#pragma once

#include "core/train/train_config.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace tunebench {

class Communicator;
class PluginRegistry;
class Workspace;

// Where a run's events go: one JSON object each ({"event": "start" | "step" |
// "eval" | "checkpoint" | "skipped" | "finished" | "failed", ...}). Called on
// the training thread.
using EventSink = std::function<void(const nlohmann::json& event)>;

struct TrainerOptions {
    std::filesystem::path runDir; // checkpoints/, adapter/ and logs go here
    Workspace* workspace = nullptr; // metrics and events go to its store (with runId); datasets by id
    std::optional<std::int64_t> runId;
    bool resume = false; // continue from the run's newest checkpoint
    const std::atomic<bool>* cancel = nullptr; // checked between steps
    EventSink events;
    // A data-parallel run's process group (core/distributed); null for one process. Every rank runs
    // runTraining; only rank 0 should be given a workspace run id (it alone writes the store, events
    // and checkpoints), and every rank the same runDir (read on resume).
    Communicator* communicator = nullptr;
};

struct TrainResult {
    enum class Status { Finished, Cancelled, EarlyStopped };
    Status status = Status::Finished;
    std::int64_t steps = 0;
    double lastLoss = 0;
    std::optional<double> bestEvalLoss;
    std::int64_t trainableParameters = 0;
    std::int64_t totalParameters = 0;
};

// Runs a training run to its end, to cancellation or to early stopping, on
// the calling thread. Writes checkpoints (and the final adapter state in
// runDir/adapter/adapter.safetensors). Throws InputError for a configuration,
// model or dataset that does not fit, and TrainingError (below) when training
// itself fails (a NaN loss under nan_policy stop); a checkpoint of the last
// good state is written first in that case.
TrainResult runTraining(const TrainConfig& config, const PluginRegistry& plugins, const TrainerOptions& options);

class TrainingError : public Error {
public:
    using Error::Error;
};

} // namespace tunebench
