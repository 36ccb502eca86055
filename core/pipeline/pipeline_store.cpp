#include "core/pipeline/pipeline_store.h"

#include "core/store/database.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <cmath>

namespace tunebench {

namespace {

constexpr const char* kColumns = "SELECT id, name, file, config_json, config_hash, created_at, status FROM pipelines";

PipelineRecord readPipeline(const Statement& st)
{
    return { st.int64(0), st.text(1), st.text(2), st.text(3), st.text(4), st.real(5), st.text(6) };
}

} // namespace

PipelineStore::PipelineStore(Database& db)
    : m_db(db)
{ }

std::string PipelineStore::configHash(const std::string& configJson)
{
    return sha256Hex(configJson);
}

std::int64_t PipelineStore::create(const std::string& name, const std::string& file, const std::string& configJson,
    const std::vector<std::string>& stageNames)
{
    Statement st = m_db.prepare(
        "INSERT INTO pipelines (name, file, config_json, config_hash, created_at) VALUES (?, ?, ?, ?, ?)");
    st.bind(1, name).bind(2, file).bind(3, configJson).bind(4, configHash(configJson)).bind(5, nowSeconds());
    st.run();
    const std::int64_t id = m_db.lastInsertRowId();
    Statement s = m_db.prepare("INSERT INTO pipeline_stages (pipeline_id, stage_index, name) VALUES (?, ?, ?)");
    for (std::size_t i = 0; i < stageNames.size(); ++i) {
        s.reset();
        s.bind(1, id).bind(2, static_cast<std::int64_t>(i)).bind(3, stageNames[i]);
        s.run();
    }
    return id;
}

std::optional<PipelineRecord> PipelineStore::find(std::int64_t id) const
{
    Statement st = m_db.prepare(std::string(kColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step())
        return std::nullopt;
    return readPipeline(st);
}

std::optional<PipelineRecord> PipelineStore::findByConfig(const std::string& configJson) const
{
    Statement st
        = m_db.prepare(std::string(kColumns) + " WHERE config_hash = ? AND config_json = ? ORDER BY id DESC LIMIT 1");
    st.bind(1, configHash(configJson)).bind(2, configJson);
    if (!st.step())
        return std::nullopt;
    return readPipeline(st);
}

std::vector<PipelineRecord> PipelineStore::list() const
{
    Statement st = m_db.prepare(std::string(kColumns) + " ORDER BY id");
    std::vector<PipelineRecord> out;
    while (st.step())
        out.push_back(readPipeline(st));
    return out;
}

std::vector<PipelineStageRecord> PipelineStore::stages(std::int64_t pipelineId) const
{
    Statement st = m_db.prepare("SELECT stage_index, name, run_id, parent_run_id, model_path, status "
                                "FROM pipeline_stages WHERE pipeline_id = ? ORDER BY stage_index");
    st.bind(1, pipelineId);
    std::vector<PipelineStageRecord> out;
    while (st.step())
        out.push_back({ st.int64(0), st.text(1), st.optInt64(2), st.optInt64(3), st.text(4), st.text(5) });
    return out;
}

std::optional<std::pair<std::int64_t, std::int64_t>> PipelineStore::stageOf(std::int64_t runId) const
{
    Statement st = m_db.prepare("SELECT pipeline_id, stage_index FROM pipeline_stages WHERE run_id = ?");
    st.bind(1, runId);
    if (!st.step())
        return std::nullopt;
    return std::make_pair(st.int64(0), st.int64(1));
}

void PipelineStore::setStatus(std::int64_t pipelineId, const std::string& status)
{
    Statement st = m_db.prepare("UPDATE pipelines SET status = ? WHERE id = ?");
    st.bind(1, status).bind(2, pipelineId);
    st.run();
    if (m_db.changes() == 0)
        throw InputError("no pipeline with id " + std::to_string(pipelineId));
}

void PipelineStore::setStageRun(std::int64_t pipelineId, std::int64_t stage, std::optional<std::int64_t> runId,
    std::optional<std::int64_t> parentRunId, const std::string& modelPath)
{
    Statement st = m_db.prepare("UPDATE pipeline_stages SET run_id = ?, parent_run_id = ?, model_path = ? "
                                "WHERE pipeline_id = ? AND stage_index = ?");
    st.bind(1, runId).bind(2, parentRunId).bind(3, modelPath).bind(4, pipelineId).bind(5, stage);
    st.run();
    if (m_db.changes() == 0)
        throw InputError("pipeline " + std::to_string(pipelineId) + " has no stage " + std::to_string(stage));
}

void PipelineStore::setStageStatus(std::int64_t pipelineId, std::int64_t stage, const std::string& status)
{
    Statement st = m_db.prepare("UPDATE pipeline_stages SET status = ? WHERE pipeline_id = ? AND stage_index = ?");
    st.bind(1, status).bind(2, pipelineId).bind(3, stage);
    st.run();
    if (m_db.changes() == 0)
        throw InputError("pipeline " + std::to_string(pipelineId) + " has no stage " + std::to_string(stage));
}

void PipelineStore::saveRow(std::int64_t pipelineId, std::int64_t afterStage, const std::vector<MatrixColumn>& columns,
    const std::vector<double>& values)
{
    Statement del = m_db.prepare("DELETE FROM pipeline_results WHERE pipeline_id = ? AND after_stage = ?");
    del.bind(1, pipelineId).bind(2, afterStage);
    del.run();
    Statement st = m_db.prepare("INSERT INTO pipeline_results (pipeline_id, after_stage, column_index, column_name, "
                                "task_stage, metric, higher_is_better, value) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    for (std::size_t c = 0; c < columns.size(); ++c) {
        st.reset();
        st.bind(1, pipelineId).bind(2, afterStage).bind(3, static_cast<std::int64_t>(c)).bind(4, columns[c].name);
        st.bind(5, static_cast<std::int64_t>(columns[c].stage)).bind(6, columns[c].metric);
        st.bind(7, columns[c].higherIsBetter ? 1 : 0);
        if (c < values.size() && std::isfinite(values[c]))
            st.bind(8, values[c]);
        else
            st.bind(8, nullptr);
        st.run();
    }
}

std::vector<std::int64_t> PipelineStore::rows(std::int64_t pipelineId) const
{
    Statement st
        = m_db.prepare("SELECT DISTINCT after_stage FROM pipeline_results WHERE pipeline_id = ? ORDER BY after_stage");
    st.bind(1, pipelineId);
    std::vector<std::int64_t> out;
    while (st.step())
        out.push_back(st.int64(0));
    return out;
}

ForgettingMatrix PipelineStore::matrix(std::int64_t pipelineId) const
{
    ForgettingMatrix m;
    Statement st = m_db.prepare("SELECT after_stage, column_index, column_name, task_stage, metric, higher_is_better, "
                                "value FROM pipeline_results WHERE pipeline_id = ? ORDER BY after_stage, column_index");
    st.bind(1, pipelineId);
    const std::size_t stageCount = stages(pipelineId).size();
    m.rows.assign(stageCount + 1, {});
    while (st.step()) {
        const auto row = static_cast<std::size_t>(st.int64(0));
        const auto c = static_cast<std::size_t>(st.int64(1));
        if (row >= m.rows.size())
            continue;
        if (c >= m.columns.size()) {
            m.columns.resize(c + 1);
        }
        m.columns[c] = { st.text(2), static_cast<std::size_t>(st.int64(3)), st.text(4), st.int64(5) != 0 };
        if (m.rows[row].size() <= c)
            m.rows[row].resize(c + 1, NAN);
        m.rows[row][c] = st.isNull(6) ? NAN : st.real(6);
    }
    for (auto& row : m.rows)
        row.resize(m.columns.size(), NAN);
    return m;
}

} // namespace tunebench
