#include "core/store/runs.h"

#include "core/store/database.h"
#include "core/store/run_workers.h"

#include <array>

namespace tunebench {

namespace {

constexpr std::array<std::pair<RunStatus, std::string_view>, 5> kStatusNames { {
    { RunStatus::Queued, "queued" },
    { RunStatus::Running, "running" },
    { RunStatus::Finished, "finished" },
    { RunStatus::Failed, "failed" },
    { RunStatus::Cancelled, "cancelled" },
} };

constexpr std::string_view kRunColumns
    = "id, name, status, config_json, adapter, objective, model_path, dataset_id, parent_run_id, lineage_json, "
      "created_at, started_at, finished_at, worker_pid, error, worker_host, worker_boot_id, worker_start";

RunRecord readRun(const Statement& st)
{
    RunRecord r;
    r.id = st.int64(0);
    r.name = st.text(1);
    r.status = runStatusFromString(st.text(2));
    r.configJson = st.text(3);
    r.adapter = st.text(4);
    r.objective = st.text(5);
    r.modelPath = st.text(6);
    r.datasetId = st.optInt64(7);
    r.parentRunId = st.optInt64(8);
    r.lineageJson = st.text(9);
    r.createdAt = st.real(10);
    r.startedAt = st.optReal(11);
    r.finishedAt = st.optReal(12);
    r.workerPid = st.optInt64(13);
    r.error = st.text(14);
    r.workerHost = st.text(15);
    r.workerBootId = st.text(16);
    r.workerStart = st.optInt64(17);
    return r;
}

} // namespace

std::string_view toString(RunStatus status)
{
    for (const auto& [value, name] : kStatusNames) {
        if (value == status)
            return name;
    }
    return "unknown";
}

RunStatus runStatusFromString(std::string_view text)
{
    for (const auto& [value, name] : kStatusNames) {
        if (name == text)
            return value;
    }
    throw InputError(
        "unknown run status '" + std::string(text) + "' (expected queued, running, finished, failed or cancelled)");
}

RunStore::RunStore(Database& db)
    : m_db(db)
{ }

std::int64_t RunStore::create(const NewRun& run)
{
    Statement st = m_db.prepare(
        "INSERT INTO runs (name, config_json, adapter, objective, model_path, dataset_id, parent_run_id, "
        "lineage_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)");
    st.bind(1, run.name)
        .bind(2, run.configJson)
        .bind(3, run.adapter)
        .bind(4, run.objective)
        .bind(5, run.modelPath)
        .bind(6, run.datasetId)
        .bind(7, run.parentRunId)
        .bind(8, run.lineageJson)
        .bind(9, nowSeconds());
    st.run();
    return m_db.lastInsertRowId();
}

std::vector<RunRecord> RunStore::list() const
{
    Statement st = m_db.prepare("SELECT " + std::string(kRunColumns) + " FROM runs ORDER BY id");
    std::vector<RunRecord> runs;
    while (st.step())
        runs.push_back(readRun(st));
    return runs;
}

std::optional<RunRecord> RunStore::find(std::int64_t id) const
{
    Statement st = m_db.prepare("SELECT " + std::string(kRunColumns) + " FROM runs WHERE id = ?");
    st.bind(1, id);
    if (!st.step())
        return std::nullopt;
    return readRun(st);
}

void RunStore::setStatus(
    std::int64_t id, RunStatus status, std::string_view error, std::optional<std::int64_t> workerPid)
{
    const double now = nowSeconds();
    Statement st = m_db.prepare("UPDATE runs SET status = ?1, error = ?2, "
                                "started_at = CASE WHEN ?1 = 'running' THEN ?3 ELSE started_at END, "
                                "finished_at = CASE WHEN ?1 IN ('finished', 'failed', 'cancelled') THEN ?3 "
                                "                   WHEN ?1 = 'running' THEN NULL ELSE finished_at END, "
                                "worker_pid = CASE WHEN ?1 = 'running' THEN ?4 ELSE worker_pid END, "
                                "worker_host = CASE WHEN ?1 = 'running' THEN ?6 ELSE worker_host END, "
                                "worker_boot_id = CASE WHEN ?1 = 'running' THEN ?7 ELSE worker_boot_id END, "
                                "worker_start = CASE WHEN ?1 = 'running' THEN ?8 ELSE worker_start END "
                                "WHERE id = ?5");
    const bool running = status == RunStatus::Running && workerPid;
    st.bind(1, toString(status))
        .bind(2, error)
        .bind(3, now)
        .bind(4, workerPid)
        .bind(5, id)
        .bind(6, running ? thisHostName() : std::string())
        .bind(7, running ? thisBootId() : std::string())
        .bind(8, running ? processStartTicks(*workerPid) : std::nullopt);
    st.run();
    if (m_db.changes() == 0)
        throw InputError("no run with id " + std::to_string(id) + " in " + m_db.path().string());
}

bool RunStore::remove(std::int64_t id)
{
    Statement st = m_db.prepare("DELETE FROM runs WHERE id = ?");
    st.bind(1, id);
    st.run();
    return m_db.changes() > 0;
}

std::int64_t RunStore::addEvent(std::int64_t runId, std::string_view kind, std::string_view payloadJson)
{
    Statement st = m_db.prepare("INSERT INTO events (run_id, time, kind, payload_json) VALUES (?, ?, ?, ?)");
    st.bind(1, runId).bind(2, nowSeconds()).bind(3, kind).bind(4, payloadJson);
    st.run();
    return m_db.lastInsertRowId();
}

std::vector<EventRecord> RunStore::events(std::int64_t runId, std::int64_t afterId) const
{
    Statement st = m_db.prepare(
        "SELECT id, run_id, time, kind, payload_json FROM events WHERE run_id = ? AND id > ? ORDER BY id");
    st.bind(1, runId).bind(2, afterId);
    std::vector<EventRecord> out;
    while (st.step())
        out.push_back({ st.int64(0), st.int64(1), st.real(2), st.text(3), st.text(4) });
    return out;
}

} // namespace tunebench
