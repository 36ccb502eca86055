#pragma once

#include "core/pipeline/forgetting_matrix.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;

struct PipelineRecord {
    std::int64_t id = 0;
    std::string name;
    std::string file; // the pipeline file it was read from
    std::string configJson; // PipelineSpec::canonicalJson()
    std::string configHash; // SHA-256 of configJson
    double createdAt = 0;
    std::string status; // created, running, stopped, finished or failed
};

struct PipelineStageRecord {
    std::int64_t index = 0; // from 0
    std::string name;
    std::optional<std::int64_t> runId; // none before the stage's run is made (or after it was deleted)
    std::optional<std::int64_t> parentRunId; // the run whose result it started from
    std::string modelPath; // the model folder its run trains
    std::string status; // pending, running, finished or failed
};

// The pipelines of a workspace (schema step 4). Synchronous; throws StoreError on database failures.
class PipelineStore {
public:
    explicit PipelineStore(Database& db);

    // Records a pipeline with its stages (pending, no runs); returns its id. Opens no transaction.
    std::int64_t create(const std::string& name, const std::string& file, const std::string& configJson,
        const std::vector<std::string>& stageNames);
    std::optional<PipelineRecord> find(std::int64_t id) const;
    // The newest pipeline recorded with this canonical configuration.
    std::optional<PipelineRecord> findByConfig(const std::string& configJson) const;
    std::vector<PipelineRecord> list() const;
    std::vector<PipelineStageRecord> stages(std::int64_t pipelineId) const;
    // The pipeline and stage index a run is the run of.
    std::optional<std::pair<std::int64_t, std::int64_t>> stageOf(std::int64_t runId) const;

    void setStatus(std::int64_t pipelineId, const std::string& status);
    void setStageRun(std::int64_t pipelineId, std::int64_t stage, std::optional<std::int64_t> runId,
        std::optional<std::int64_t> parentRunId, const std::string& modelPath);
    void setStageStatus(std::int64_t pipelineId, std::int64_t stage, const std::string& status);

    // Row `afterStage` of the matrix (0: the base model), replacing what was there. Opens no transaction.
    void saveRow(std::int64_t pipelineId, std::int64_t afterStage, const std::vector<MatrixColumn>& columns,
        const std::vector<double>& values);
    // Which rows are recorded.
    std::vector<std::int64_t> rows(std::int64_t pipelineId) const;
    // The matrix as recorded: columns from the rows (in column order), rows 0 .. stages, NaN where missing.
    ForgettingMatrix matrix(std::int64_t pipelineId) const;

    static std::string configHash(const std::string& configJson);

private:
    Database& m_db;
};

} // namespace tunebench
