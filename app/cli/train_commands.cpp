#include "command_line.h"
#include "commands.h"

#include "core/method/plugin_registry.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <unistd.h>

namespace tunebench::cli {

namespace {

std::atomic<bool> g_cancel { false };

extern "C" void onSignal(int)
{
    g_cancel.store(true);
}

int trainCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli train --workspace DIR (--config FILE | --run ID [--resume])",
        "Trains a run in the foreground, printing one JSON event a line on stdout (start, step, eval,\n"
        "checkpoint, finished or failed) and recording metrics and events in the workspace.\n"
        "--config records a new run from a YAML or JSON configuration and trains it; --run trains a\n"
        "recorded run, --resume continues it from its newest checkpoint. SIGINT or SIGTERM stops after the\n"
        "current step, with a checkpoint. Exit code: 0 finished, 1 failed, 2 wrong usage, 3 cancelled.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "config", "FILE", "a run configuration to record and train" }, { "run", "ID", "a recorded run to train" },
            { "resume", "", "continue the run from its newest checkpoint" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    if (cl.has("config") == cl.has("run"))
        throw UsageError("give either --config FILE or --run ID");
    if (cl.has("resume") && !cl.has("run"))
        throw UsageError("--resume needs --run ID");

    Workspace ws = Workspace::open(cl.required("workspace"));
    RunStore runs(ws.db());
    const PluginRegistry& plugins = defaultPluginRegistry();
    std::int64_t runId = 0;
    TrainConfig config;
    if (auto file = cl.value("config")) {
        config = TrainConfig::fromJson(readYamlOrJsonFile(*file), plugins, *file);
        if (config.name.empty())
            config.name = std::filesystem::path(*file).stem().string();
        NewRun run;
        run.name = config.name;
        run.configJson = config.toJson().dump();
        run.adapter = config.adapter;
        run.objective = config.objective;
        run.modelPath = config.model;
        run.datasetId = config.datasetId;
        runId = runs.create(run);
    } else {
        runId = cl.integer("--run", *cl.value("run"));
        auto run = runs.find(runId);
        if (!run)
            throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
        if (run->status == RunStatus::Running)
            throw InputError("run " + std::to_string(runId) + " is already running (worker pid "
                + std::to_string(run->workerPid.value_or(0)) + ")");
        config = TrainConfig::fromJson(
            nlohmann::json::parse(run->configJson), plugins, "run " + std::to_string(runId) + " configuration");
    }

    std::signal(SIGINT, onSignal);
    std::signal(SIGTERM, onSignal);
    runs.setStatus(runId, RunStatus::Running, {}, static_cast<std::int64_t>(getpid()));
    TrainerOptions options;
    options.runDir = ws.runDir(runId);
    options.workspace = &ws;
    options.runId = runId;
    options.resume = cl.has("resume");
    options.cancel = &g_cancel;
    options.events = [](const nlohmann::json& event) { std::cout << event.dump() << std::endl; };
    try {
        const TrainResult result = runTraining(config, plugins, options);
        const bool cancelled = result.status == TrainResult::Status::Cancelled;
        runs.setStatus(runId, cancelled ? RunStatus::Cancelled : RunStatus::Finished);
        return cancelled ? 3 : 0;
    } catch (const std::exception& e) {
        const std::string message = e.what();
        runs.setStatus(runId, RunStatus::Failed, message);
        runs.addEvent(runId, "failed", nlohmann::json({ { "event", "failed" }, { "error", message } }).dump());
        std::cout << nlohmann::json({ { "event", "failed" }, { "run_id", runId }, { "error", message } }).dump()
                  << std::endl;
        throw;
    }
}

int pluginsList(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli plugins list",
        "Lists the method plugins found (kind, name, version, file) and those that could not be used\n"
        "with the reason. Search path: $TUNEBENCH_PLUGIN_PATH, beside the program, the per-user\n"
        "folder, the install's plugin folder.",
        {}, {});
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const PluginRegistry& plugins = defaultPluginRegistry();
    for (const PluginInfo& p : plugins.plugins())
        std::cout << toString(p.kind) << '\t' << p.name << '\t' << p.version << '\t' << p.path.string() << '\n';
    for (const BrokenPlugin& b : plugins.broken())
        std::cout << "broken\t" << b.path.string() << '\t' << b.reason << '\n';
    return 0;
}

int pluginsShow(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli plugins show NAME", "Prints a plugin's description and parameter schema as JSON.",
        { { "NAME", "the plugin's name" } }, {});
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const PluginRegistry& plugins = defaultPluginRegistry();
    const std::string name = cl.positional(0);
    const PluginInfo* p = plugins.find(PluginKind::Adapter, name);
    if (!p)
        p = plugins.find(PluginKind::Objective, name);
    if (!p)
        plugins.require(PluginKind::Adapter, name); // throws, listing what exists
    std::cout << nlohmann::json(
        { { "name", p->name }, { "kind", toString(p->kind) }, { "version", p->version }, { "summary", p->summary },
            { "path", p->path.string() }, { "parameters", p->schema.toJson() } })
                     .dump(2)
              << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "train" }, "train a run (events as JSON lines)", trainCommand },
    { { "plugins", "list" }, "list the method plugins and any broken ones", pluginsList },
    { { "plugins", "show" }, "show a plugin's parameters", pluginsShow },
} };

} // namespace

} // namespace tunebench::cli
