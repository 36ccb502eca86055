#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;
class RunStore;
struct SweepPoint;
struct SweepRunConfig;
struct SweepSpec;

struct SweepRecord {
    std::int64_t id = 0;
    std::string name;
    std::string file; // the sweep file it was read from
    std::string configJson; // SweepSpec::canonicalJson()
    std::string configHash; // SHA-256 of configJson: the same sweep recorded again is this one
    double createdAt = 0;
    std::string status; // created, running, stopped, finished or failed
};

struct SweepPointRecord {
    std::int64_t index = 0;
    std::string paramsJson;
};

struct SweepRunLink {
    std::int64_t runId = 0;
    std::int64_t pointIndex = 0;
    std::int64_t seedIndex = 0;
    std::optional<std::int64_t> seed;
    bool stoppedEarly = false; // stopped by the sweep's early-stopping rule: done, not failed
};

// The sweeps of a workspace (schema step 3). Synchronous; throws StoreError on database failures.
class SweepStore {
public:
    explicit SweepStore(Database& db);

    // Records a sweep with its points; returns its id. Opens no transaction: the caller's makes it one
    // change (recordSweep).
    std::int64_t create(const std::string& name, const std::string& file, const std::string& configJson,
        const std::vector<SweepPoint>& points);
    std::optional<SweepRecord> find(std::int64_t id) const;
    // The newest sweep recorded with this canonical configuration.
    std::optional<SweepRecord> findByConfig(const std::string& configJson) const;
    std::vector<SweepRecord> list() const;
    std::vector<SweepPointRecord> points(std::int64_t sweepId) const;
    // The sweep's runs by point, then seed.
    std::vector<SweepRunLink> runs(std::int64_t sweepId) const;
    // The sweep a run belongs to, with its link.
    std::optional<std::pair<std::int64_t, SweepRunLink>> sweepOf(std::int64_t runId) const;

    void link(std::int64_t sweepId, std::int64_t runId, std::int64_t pointIndex, std::int64_t seedIndex,
        std::optional<std::int64_t> seed);
    void setStatus(std::int64_t sweepId, const std::string& status);
    void markStoppedEarly(std::int64_t runId);

    static std::string configHash(const std::string& configJson);

private:
    Database& m_db;
};

// Records one (point, seed) of a sweep as a queued run named "SWEEP #POINT seed SEED"; returns its id (not
// linked: see SweepStore::link).
std::int64_t createSweepRun(RunStore& runs, const SweepRunConfig& config, const std::string& sweepName);

// Whether a run folder holds a checkpoint `train --resume` continues from (a checkpoints/step-N folder with its
// trainer_state.json, as CheckpointStore::latest() finds them).
bool hasResumableCheckpoint(const std::filesystem::path& runDir);

// A run of a sweep that ended without a checkpoint is trained again as a new queued run with the same
// configuration in its place (same point and seed), so its half-written metrics do not mix with the new ones.
// The old run's row goes (its folder is the caller's). Returns the new run's id.
std::int64_t replaceSweepRun(Database& db, std::int64_t oldRunId);

struct RecordedSweep {
    std::int64_t id = 0;
    bool resumed = false; // recorded before with the same canonical JSON
};

// Finds the sweep recorded with the spec's canonical JSON, or records it with its points, and gives every
// (point, seed) without a run a queued run, in one transaction. What `tunebench-cli sweep` and the Sweep page
// both start from.
RecordedSweep recordSweep(Database& db, const SweepSpec& spec, const std::vector<SweepRunConfig>& runs);

} // namespace tunebench
