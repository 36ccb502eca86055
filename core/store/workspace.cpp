#include "core/store/workspace.h"

#include "core/store/schema.h"

#include <system_error>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

void ensureFolders(const fs::path& root)
{
    for (const char* sub : { "datasets", "runs", "exports" }) {
        std::error_code ec;
        fs::create_directories(root / sub, ec);
        if (ec)
            throw Error("workspace " + root.string() + ": cannot create folder '" + sub + "': " + ec.message());
    }
}

} // namespace

Workspace::Workspace(fs::path root, Database db, std::string readOnlyReason)
    : m_root(std::move(root))
    , m_db(std::move(db))
    , m_readOnlyReason(std::move(readOnlyReason))
{ }

void Workspace::requireWritable(const std::string& what) const
{
    if (!isWritable())
        throw Error("cannot " + what + ": " + m_readOnlyReason);
}

bool Workspace::isWorkspace(const fs::path& dir)
{
    std::error_code ec;
    return fs::is_regular_file(dir / kDatabaseName, ec);
}

Workspace Workspace::create(const fs::path& dir)
{
    std::error_code ec;
    if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
        throw Error("cannot create a workspace at " + dir.string() + ": it exists and is not a folder");
    fs::create_directories(dir, ec);
    if (ec)
        throw Error("cannot create workspace folder " + dir.string() + ": " + ec.message());
    fs::path root = fs::absolute(dir, ec).lexically_normal();
    ensureFolders(root);
    Database db = Database::open(root / kDatabaseName, Database::Mode::ReadWriteCreate);
    migrate(db);
    return Workspace(std::move(root), std::move(db));
}

Workspace Workspace::open(const fs::path& dir)
{
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw Error("workspace " + dir.string() + " does not exist (create one with 'tunebench-cli workspace init "
            + dir.string() + "')");
    if (!isWorkspace(dir))
        throw Error(dir.string() + " is not a Tunebench workspace: it has no " + kDatabaseName
            + " (create one with 'tunebench-cli workspace init " + dir.string() + "')");
    fs::path root = fs::absolute(dir, ec).lexically_normal();
    std::string readOnly;
    if (!canWrite(root))
        readOnly = "the workspace folder " + root.string() + " is read-only for this user";
    else if (!canWrite(root / kDatabaseName))
        readOnly = "the workspace database " + (root / kDatabaseName).string() + " is read-only for this user";
    else if (fs::is_directory(root / "runs", ec) && !canWrite(root / "runs"))
        readOnly = "the runs folder " + (root / "runs").string() + " is read-only for this user";
    if (!readOnly.empty()) {
        Database db = Database::open(root / kDatabaseName, Database::Mode::ReadOnly);
        const int version = db.userVersion();
        if (version < currentSchemaVersion())
            throw StoreError("workspace " + root.string() + " has schema version " + std::to_string(version)
                + " and needs upgrading to " + std::to_string(currentSchemaVersion()) + ", but " + readOnly
                + "; open it once where it can be written");
        if (version > currentSchemaVersion())
            migrate(db); // throws, naming both versions
        return Workspace(std::move(root), std::move(db), std::move(readOnly));
    }
    Database db = Database::open(root / kDatabaseName, Database::Mode::ReadWrite);
    migrate(db);
    ensureFolders(root);
    return Workspace(std::move(root), std::move(db));
}

} // namespace tunebench
