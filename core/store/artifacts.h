#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;

// A file or folder a run produced: a checkpoint, an adapter, a merged model, a report.
struct ArtifactRecord {
    std::int64_t id = 0;
    std::optional<std::int64_t> runId; // none for workspace-level exports (e.g. a comparison report)
    std::string kind; // checkpoint, adapter, merged, report, ...
    std::string path; // relative to the workspace root where it lies inside it
    std::string metaJson = "{}";
    double createdAt = 0;
};

// A generated text stored for diversity measures and for reading over training.
struct SampleRecord {
    std::int64_t id = 0;
    std::int64_t runId = 0;
    std::int64_t step = 0;
    int promptIndex = 0;
    int sampleIndex = 0;
    std::string prompt;
    std::string text;
    std::optional<std::int64_t> seed;
    double time = 0;
};

class ArtifactStore {
public:
    explicit ArtifactStore(Database& db);

    std::int64_t add(const ArtifactRecord& artifact);
    // Every artifact, or those of one run, newest last.
    std::vector<ArtifactRecord> list(std::optional<std::int64_t> runId = std::nullopt) const;
    bool remove(std::int64_t id);

    // Samples of a run; with step, only that step's.
    std::vector<SampleRecord> samples(std::int64_t runId, std::optional<std::int64_t> step = std::nullopt) const;
    // Samples of a run recorded after the one with id afterId (in the order they were recorded), for a view
    // that follows a run: reading them all on every commit would cost more the longer the run.
    std::vector<SampleRecord> samplesAfter(std::int64_t runId, std::int64_t afterId) const;

private:
    Database& m_db;
};

} // namespace tunebench
