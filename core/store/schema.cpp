#include "core/store/schema.h"

#include "core/store/database.h"

#include <string>

namespace tunebench {

namespace {

constexpr std::string_view kSchemaV1 = R"sql(
CREATE TABLE datasets (
    id            INTEGER PRIMARY KEY,
    name          TEXT NOT NULL,
    format        TEXT NOT NULL,
    source_path   TEXT NOT NULL DEFAULT '',
    records       INTEGER NOT NULL DEFAULT 0,
    content_hash  TEXT NOT NULL DEFAULT '',
    parent_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    operation     TEXT NOT NULL DEFAULT 'import',
    params_json   TEXT NOT NULL DEFAULT '{}',
    created_at    REAL NOT NULL
);

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'queued'
                   CHECK (status IN ('queued', 'running', 'finished', 'failed', 'cancelled')),
    config_json    TEXT NOT NULL,
    adapter        TEXT NOT NULL DEFAULT '',
    objective      TEXT NOT NULL DEFAULT '',
    model_path     TEXT NOT NULL DEFAULT '',
    dataset_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
    parent_run_id  INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    lineage_json   TEXT NOT NULL DEFAULT '{}',
    created_at     REAL NOT NULL,
    started_at     REAL,
    finished_at    REAL,
    worker_pid     INTEGER,
    error          TEXT NOT NULL DEFAULT ''
);
CREATE INDEX runs_status ON runs(status);

CREATE TABLE metrics (
    run_id  INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step    INTEGER NOT NULL,
    name    TEXT NOT NULL,
    value   REAL NOT NULL,
    time    REAL NOT NULL
);
-- Serves "one metric of one run" (plots), "every metric of one run" (a prefix)
-- and "one metric across runs" (compare: run_id IN (...) AND name = ?).
CREATE INDEX metrics_run_name_step ON metrics(run_id, name, step);
-- Serves "which runs have this metric" without scanning every run.
CREATE INDEX metrics_name_run ON metrics(name, run_id);

CREATE TABLE samples (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    step          INTEGER NOT NULL,
    prompt_index  INTEGER NOT NULL,
    sample_index  INTEGER NOT NULL,
    prompt        TEXT NOT NULL,
    text          TEXT NOT NULL,
    seed          INTEGER,
    time          REAL NOT NULL
);
CREATE INDEX samples_run_step ON samples(run_id, step);

CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    run_id        INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    time          REAL NOT NULL,
    kind          TEXT NOT NULL,
    payload_json  TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX events_run ON events(run_id, id);

CREATE TABLE artifacts (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER REFERENCES runs(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    path        TEXT NOT NULL,
    meta_json   TEXT NOT NULL DEFAULT '{}',
    created_at  REAL NOT NULL
);
CREATE INDEX artifacts_run ON artifacts(run_id);
)sql";

// Where a run's worker runs, so that a dead worker is told from a live one on another
// machine sharing the workspace, and from a later process given the same pid (run_workers.h).
constexpr std::string_view kSchemaV2 = R"sql(
ALTER TABLE runs ADD COLUMN worker_host TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN worker_boot_id TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN worker_start INTEGER;
)sql";

// Sweeps (core/sweep): the sweep file as recorded, its points, and which run is which point's which seed.
// A run deleted takes its link along; a sweep deleted takes its points and links (the runs stay).
constexpr std::string_view kSchemaV3 = R"sql(
CREATE TABLE sweeps (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    file         TEXT NOT NULL DEFAULT '',
    config_json  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    status       TEXT NOT NULL DEFAULT 'created'
                 CHECK (status IN ('created', 'running', 'stopped', 'finished', 'failed'))
);
CREATE INDEX sweeps_hash ON sweeps(config_hash);

CREATE TABLE sweep_points (
    sweep_id     INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
    point_index  INTEGER NOT NULL,
    params_json  TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (sweep_id, point_index)
);

CREATE TABLE sweep_runs (
    run_id         INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    sweep_id       INTEGER NOT NULL,
    point_index    INTEGER NOT NULL,
    seed_index     INTEGER NOT NULL DEFAULT 0,
    seed           INTEGER,
    stopped_early  INTEGER NOT NULL DEFAULT 0,
    FOREIGN KEY (sweep_id, point_index) REFERENCES sweep_points(sweep_id, point_index) ON DELETE CASCADE,
    UNIQUE (sweep_id, point_index, seed_index)
);
)sql";

// Pipelines (core/pipeline): the pipeline file as recorded, its stages with the run each became (and the run
// it started from), and the forgetting matrix, one row per stage (0: the base model, before the first stage).
// A pipeline deleted takes its stages and results; a run deleted leaves its stage without a run.
constexpr std::string_view kSchemaV4 = R"sql(
CREATE TABLE pipelines (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL,
    file         TEXT NOT NULL DEFAULT '',
    config_json  TEXT NOT NULL,
    config_hash  TEXT NOT NULL,
    created_at   REAL NOT NULL,
    status       TEXT NOT NULL DEFAULT 'created'
                 CHECK (status IN ('created', 'running', 'stopped', 'finished', 'failed'))
);
CREATE INDEX pipelines_hash ON pipelines(config_hash);

CREATE TABLE pipeline_stages (
    pipeline_id    INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    stage_index    INTEGER NOT NULL,
    name           TEXT NOT NULL,
    run_id         INTEGER UNIQUE REFERENCES runs(id) ON DELETE SET NULL,
    parent_run_id  INTEGER REFERENCES runs(id) ON DELETE SET NULL,
    model_path     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'finished', 'failed')),
    PRIMARY KEY (pipeline_id, stage_index)
);

CREATE TABLE pipeline_results (
    pipeline_id       INTEGER NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    after_stage       INTEGER NOT NULL,
    column_index      INTEGER NOT NULL,
    column_name       TEXT NOT NULL,
    task_stage        INTEGER NOT NULL,
    metric            TEXT NOT NULL,
    higher_is_better  INTEGER NOT NULL DEFAULT 0,
    value             REAL,
    PRIMARY KEY (pipeline_id, after_stage, column_index)
);
)sql";

constexpr Migration kMigrations[] = {
    { 1, "datasets, runs, metrics, samples, events, artifacts", kSchemaV1 },
    { 2, "runs: worker host, boot id and start time", kSchemaV2 },
    { 3, "sweeps, their points and their runs", kSchemaV3 },
    { 4, "pipelines, their stages and forgetting matrices", kSchemaV4 },
};

} // namespace

std::span<const Migration> builtinMigrations()
{
    return kMigrations;
}

int currentSchemaVersion()
{
    return kMigrations[std::size(kMigrations) - 1].version;
}

int migrate(Database& db, std::span<const Migration> migrations)
{
    for (std::size_t i = 0; i < migrations.size(); ++i) {
        if (migrations[i].version != static_cast<int>(i) + 1)
            throw StoreError("schema migrations must be numbered 1, 2, 3, ...; step " + std::to_string(i + 1)
                + " is numbered " + std::to_string(migrations[i].version));
    }
    const int target = migrations.empty() ? 0 : migrations.back().version;
    const int found = db.userVersion();
    if (found > target) {
        throw StoreError("database " + db.path().string() + " has schema version " + std::to_string(found)
            + ", but this Tunebench understands versions up to " + std::to_string(target)
            + ". It was written by a newer Tunebench; open it with that version or newer."
              " The file was not changed.");
    }
    for (const Migration& m : migrations) {
        if (m.version <= found)
            continue;
        Database::Transaction tx(db);
        // user_version is re-read inside the write lock so two processes that
        // open an old database at once do not both apply the same step.
        if (db.userVersion() >= m.version)
            continue;
        db.exec(m.sql);
        db.exec("PRAGMA user_version = " + std::to_string(m.version));
        tx.commit();
    }
    return found;
}

} // namespace tunebench
