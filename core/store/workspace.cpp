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

Workspace::Workspace(fs::path root, Database db)
    : m_root(std::move(root))
    , m_db(std::move(db))
{ }

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
    Database db = Database::open(root / kDatabaseName, Database::Mode::ReadWrite);
    migrate(db);
    ensureFolders(root);
    return Workspace(std::move(root), std::move(db));
}

} // namespace tunebench
