#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

class Database;

enum class RunStatus { Queued, Running, Finished, Failed, Cancelled };

std::string_view toString(RunStatus status);
// Throws InputError naming the accepted values.
RunStatus runStatusFromString(std::string_view text);

struct NewRun {
    std::string name;
    std::string configJson = "{}"; // the full run configuration, as JSON text
    std::string adapter;
    std::string objective;
    std::string modelPath;
    std::optional<std::int64_t> datasetId;
    std::optional<std::int64_t> parentRunId; // e.g. the run a resumed or merged run came from
    std::string lineageJson = "{}";
};

struct RunRecord {
    std::int64_t id = 0;
    std::string name;
    RunStatus status = RunStatus::Queued;
    std::string configJson;
    std::string adapter;
    std::string objective;
    std::string modelPath;
    std::optional<std::int64_t> datasetId;
    std::optional<std::int64_t> parentRunId;
    std::string lineageJson;
    double createdAt = 0;
    std::optional<double> startedAt;
    std::optional<double> finishedAt;
    std::optional<std::int64_t> workerPid;
    // Where the worker runs (see run_workers.h): host name, the host's boot id and the
    // worker's start time in clock ticks since boot; empty/nullopt for runs recorded
    // before these were kept.
    std::string workerHost;
    std::string workerBootId;
    std::optional<std::int64_t> workerStart;
    std::string error;
};

struct EventRecord {
    std::int64_t id = 0;
    std::int64_t runId = 0;
    double time = 0;
    std::string kind;
    std::string payloadJson;
};

// Runs and their events. All calls are synchronous on the caller's thread and
// throw StoreError on database failures.
class RunStore {
public:
    explicit RunStore(Database& db);

    std::int64_t create(const NewRun& run);
    std::vector<RunRecord> list() const;
    std::optional<RunRecord> find(std::int64_t id) const;
    // Marks the run's status; Running stamps started_at and the worker pid with this
    // host's name and boot id and the pid's start time (run_workers.h),
    // Finished/Failed/Cancelled stamp finished_at. Throws InputError for an unknown run.
    void setStatus(std::int64_t id, RunStatus status, std::string_view error = {},
        std::optional<std::int64_t> workerPid = std::nullopt);
    // Deletes the run with its metrics, samples, events and artifact rows
    // (files on disk are the caller's). Returns false when there was no such run.
    bool remove(std::int64_t id);

    std::int64_t addEvent(std::int64_t runId, std::string_view kind, std::string_view payloadJson);
    // Events of a run with id > afterId, oldest first (to follow a run incrementally).
    std::vector<EventRecord> events(std::int64_t runId, std::int64_t afterId = 0) const;

private:
    Database& m_db;
};

} // namespace tunebench
