#include "command_line.h"
#include "commands.h"

#include "core/store/database.h"
#include "core/store/schema.h"
#include "core/store/workspace.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

namespace {

int workspaceInit(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli workspace init DIR",
        "Creates a workspace folder: tunebench.db (the run store) with datasets/, runs/ and exports/.\n"
        "On an existing workspace it only upgrades an older database and says so.",
        { { "DIR", "folder to create (parents are created too)" } }, {});
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::string dir = cl.positional(0);
    const bool existed = Workspace::isWorkspace(dir);
    Workspace ws = Workspace::create(dir);
    if (existed)
        std::cout << "Workspace " << ws.root().string() << " already exists (schema version " << ws.db().userVersion()
                  << ")\n";
    else
        std::cout << "Created workspace " << ws.root().string() << "\n";
    return 0;
}

int workspaceInfo(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli workspace info DIR",
        "Prints a workspace's location, schema version and what it holds, as JSON.",
        { { "DIR", "the workspace folder" } }, {});
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.positional(0));
    auto count = [&](const char* table) {
        Statement st = ws.db().prepare(std::string("SELECT COUNT(*) FROM ") + table);
        st.step();
        return st.int64(0);
    };
    nlohmann::json info = {
        { "path", ws.root().string() },
        { "schema_version", ws.db().userVersion() },
        { "runs", count("runs") },
        { "datasets", count("datasets") },
        { "metrics", count("metrics") },
        { "samples", count("samples") },
        { "artifacts", count("artifacts") },
    };
    std::cout << info.dump(2) << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "workspace", "init" }, "create a workspace folder", workspaceInit },
    { { "workspace", "info" }, "show a workspace's schema version and contents", workspaceInfo },
} };

} // namespace

} // namespace tunebench::cli
