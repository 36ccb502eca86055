#pragma once

#include "core/store/database.h"

#include <cstdint>
#include <filesystem>
#include <string>

namespace tunebench {

// A workspace folder:
//   tunebench.db   the SQLite store (WAL)
//   datasets/<id>/ imported datasets
//   runs/<id>/     checkpoints, adapters, samples, logs of each run
//   exports/       adapters, merged models and reports
// Each Workspace object owns one connection; open one per thread or process.
class Workspace {
public:
    static constexpr const char* kDatabaseName = "tunebench.db";

    // Creates the folder (and parents) and an up-to-date database. On a folder
    // that already is a workspace it opens it (upgrading an older schema).
    // Throws Error when the path is a file or cannot be written.
    static Workspace create(const std::filesystem::path& dir);
    // Opens an existing workspace, upgrading an older schema. Throws Error when
    // the folder is not a workspace, StoreError when the database is newer
    // than this binary or damaged. A workspace this user cannot write (the folder,
    // its database or its runs folder read-only) is opened for reading: see isWritable().
    static Workspace open(const std::filesystem::path& dir);
    static bool isWorkspace(const std::filesystem::path& dir);

    const std::filesystem::path& root() const { return m_root; }
    std::filesystem::path databasePath() const { return m_root / kDatabaseName; }
    std::filesystem::path datasetsDir() const { return m_root / "datasets"; }
    std::filesystem::path runsDir() const { return m_root / "runs"; }
    std::filesystem::path exportsDir() const { return m_root / "exports"; }
    std::filesystem::path runDir(std::int64_t runId) const { return runsDir() / std::to_string(runId); }
    std::filesystem::path datasetDir(std::int64_t datasetId) const { return datasetsDir() / std::to_string(datasetId); }

    // False for a workspace opened for reading only; readOnlyReason() says why
    // ("the folder /x is read-only for this user").
    bool isWritable() const { return m_readOnlyReason.empty(); }
    const std::string& readOnlyReason() const { return m_readOnlyReason; }
    // Throws Error "cannot <what>: <reason>" on a read-only workspace.
    void requireWritable(const std::string& what) const;

    Database& db() { return m_db; }
    const Database& db() const { return m_db; }

private:
    Workspace(std::filesystem::path root, Database db, std::string readOnlyReason = {});

    std::filesystem::path m_root;
    Database m_db;
    std::string m_readOnlyReason;
};

} // namespace tunebench
