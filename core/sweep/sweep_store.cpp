#include "core/sweep/sweep_store.h"

#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/sweep/sweep_spec.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <filesystem>
#include <set>

namespace tunebench {

namespace {

constexpr const char* kSweepColumns = "SELECT id, name, file, config_json, config_hash, created_at, status FROM sweeps";

SweepRecord readSweep(const Statement& st)
{
    return { st.int64(0), st.text(1), st.text(2), st.text(3), st.text(4), st.real(5), st.text(6) };
}

} // namespace

SweepStore::SweepStore(Database& db)
    : m_db(db)
{ }

std::string SweepStore::configHash(const std::string& configJson)
{
    return sha256Hex(configJson);
}

std::int64_t SweepStore::create(const std::string& name, const std::string& file, const std::string& configJson,
    const std::vector<SweepPoint>& points)
{
    Statement st
        = m_db.prepare("INSERT INTO sweeps (name, file, config_json, config_hash, created_at) VALUES (?, ?, ?, ?, ?)");
    st.bind(1, name).bind(2, file).bind(3, configJson).bind(4, configHash(configJson)).bind(5, nowSeconds());
    st.run();
    const std::int64_t id = m_db.lastInsertRowId();
    Statement p = m_db.prepare("INSERT INTO sweep_points (sweep_id, point_index, params_json) VALUES (?, ?, ?)");
    for (const SweepPoint& point : points) {
        p.reset();
        p.bind(1, id).bind(2, static_cast<std::int64_t>(point.index)).bind(3, point.params.dump());
        p.run();
    }
    return id;
}

std::optional<SweepRecord> SweepStore::find(std::int64_t id) const
{
    Statement st = m_db.prepare(std::string(kSweepColumns) + " WHERE id = ?");
    st.bind(1, id);
    if (!st.step())
        return std::nullopt;
    return readSweep(st);
}

std::optional<SweepRecord> SweepStore::findByConfig(const std::string& configJson) const
{
    Statement st = m_db.prepare(
        std::string(kSweepColumns) + " WHERE config_hash = ? AND config_json = ? ORDER BY id DESC LIMIT 1");
    st.bind(1, configHash(configJson)).bind(2, configJson);
    if (!st.step())
        return std::nullopt;
    return readSweep(st);
}

std::vector<SweepRecord> SweepStore::list() const
{
    Statement st = m_db.prepare(std::string(kSweepColumns) + " ORDER BY id");
    std::vector<SweepRecord> out;
    while (st.step())
        out.push_back(readSweep(st));
    return out;
}

std::vector<SweepPointRecord> SweepStore::points(std::int64_t sweepId) const
{
    Statement st
        = m_db.prepare("SELECT point_index, params_json FROM sweep_points WHERE sweep_id = ? ORDER BY point_index");
    st.bind(1, sweepId);
    std::vector<SweepPointRecord> out;
    while (st.step())
        out.push_back({ st.int64(0), st.text(1) });
    return out;
}

std::vector<SweepRunLink> SweepStore::runs(std::int64_t sweepId) const
{
    Statement st = m_db.prepare("SELECT run_id, point_index, seed_index, seed, stopped_early FROM sweep_runs "
                                "WHERE sweep_id = ? ORDER BY point_index, seed_index");
    st.bind(1, sweepId);
    std::vector<SweepRunLink> out;
    while (st.step())
        out.push_back({ st.int64(0), st.int64(1), st.int64(2), st.optInt64(3), st.int64(4) != 0 });
    return out;
}

std::optional<std::pair<std::int64_t, SweepRunLink>> SweepStore::sweepOf(std::int64_t runId) const
{
    Statement st = m_db.prepare(
        "SELECT sweep_id, run_id, point_index, seed_index, seed, stopped_early FROM sweep_runs WHERE run_id = ?");
    st.bind(1, runId);
    if (!st.step())
        return std::nullopt;
    return std::make_pair(
        st.int64(0), SweepRunLink { st.int64(1), st.int64(2), st.int64(3), st.optInt64(4), st.int64(5) != 0 });
}

void SweepStore::link(std::int64_t sweepId, std::int64_t runId, std::int64_t pointIndex, std::int64_t seedIndex,
    std::optional<std::int64_t> seed)
{
    Statement st = m_db.prepare(
        "INSERT INTO sweep_runs (run_id, sweep_id, point_index, seed_index, seed) VALUES (?, ?, ?, ?, ?)");
    st.bind(1, runId).bind(2, sweepId).bind(3, pointIndex).bind(4, seedIndex).bind(5, seed);
    st.run();
}

void SweepStore::setStatus(std::int64_t sweepId, const std::string& status)
{
    Statement st = m_db.prepare("UPDATE sweeps SET status = ? WHERE id = ?");
    st.bind(1, status).bind(2, sweepId);
    st.run();
    if (m_db.changes() == 0)
        throw InputError("no sweep with id " + std::to_string(sweepId));
}

void SweepStore::markStoppedEarly(std::int64_t runId)
{
    Statement st = m_db.prepare("UPDATE sweep_runs SET stopped_early = 1 WHERE run_id = ?");
    st.bind(1, runId);
    st.run();
}

std::int64_t createSweepRun(RunStore& runs, const SweepRunConfig& rc, const std::string& sweepName)
{
    NewRun run;
    run.name = sweepName + " #" + std::to_string(rc.pointIndex) + (rc.seed ? " seed " + std::to_string(*rc.seed) : "");
    nlohmann::json config = rc.config;
    config["name"] = run.name;
    run.configJson = config.dump();
    auto text = [&](const char* key) {
        auto it = config.find(key);
        return it != config.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    run.adapter = text("adapter");
    run.objective = text("objective");
    run.modelPath = text("model");
    if (auto it = config.find("dataset_id"); it != config.end() && it->is_number_integer())
        run.datasetId = it->get<std::int64_t>();
    return runs.create(run);
}

bool hasResumableCheckpoint(const std::filesystem::path& runDir)
{
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(runDir / "checkpoints", ec)) {
        const std::string name = e.path().filename().string();
        if (name.rfind("step-", 0) == 0 && e.is_directory(ec)
            && std::filesystem::exists(e.path() / "trainer_state.json", ec))
            return true;
    }
    return false;
}

std::int64_t replaceSweepRun(Database& db, std::int64_t oldRunId)
{
    SweepStore sweeps(db);
    RunStore runs(db);
    Database::Transaction tx(db);
    const auto link = sweeps.sweepOf(oldRunId);
    const auto old = runs.find(oldRunId);
    if (!link || !old)
        throw InputError("run " + std::to_string(oldRunId) + " is not a run of a sweep");
    NewRun run;
    run.name = old->name;
    run.configJson = old->configJson;
    run.adapter = old->adapter;
    run.objective = old->objective;
    run.modelPath = old->modelPath;
    run.datasetId = old->datasetId;
    runs.remove(oldRunId);
    const std::int64_t id = runs.create(run);
    sweeps.link(link->first, id, link->second.pointIndex, link->second.seedIndex, link->second.seed);
    tx.commit();
    return id;
}

RecordedSweep recordSweep(Database& db, const SweepSpec& spec, const std::vector<SweepRunConfig>& configs)
{
    SweepStore sweeps(db);
    RunStore runs(db);
    const std::string canonical = spec.canonicalJson().dump();
    RecordedSweep out;
    Database::Transaction tx(db);
    if (const auto found = sweeps.findByConfig(canonical)) {
        out.id = found->id;
        out.resumed = true;
    } else {
        std::error_code ec;
        const std::filesystem::path file = std::filesystem::absolute(spec.file, ec).lexically_normal();
        out.id = sweeps.create(spec.name, (ec ? spec.file : file).string(), canonical, expandPoints(spec));
    }
    std::set<std::pair<std::int64_t, std::int64_t>> linked;
    for (const SweepRunLink& l : sweeps.runs(out.id))
        linked.insert({ l.pointIndex, l.seedIndex });
    for (const SweepRunConfig& rc : configs) {
        const auto point = static_cast<std::int64_t>(rc.pointIndex);
        const auto seedIndex = static_cast<std::int64_t>(rc.seedIndex);
        if (linked.count({ point, seedIndex }))
            continue;
        const std::int64_t runId = createSweepRun(runs, rc, spec.name);
        sweeps.link(out.id, runId, point, seedIndex,
            rc.seed ? std::optional<std::int64_t>(static_cast<std::int64_t>(*rc.seed)) : std::nullopt);
    }
    tx.commit();
    return out;
}

} // namespace tunebench
