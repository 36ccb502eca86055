#include "command_line.h"
#include "commands.h"
#include "distributed_launch.h"

#include "core/conformance/adapter_conformance.h"
#include "core/distributed/communicator.h"
#include "core/method/plugin_registry.h"
#include "core/store/database.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>
#include <unistd.h>

namespace tunebench::cli {

namespace {

std::atomic<bool> g_cancel { false };

extern "C" void onSignal(int)
{
    g_cancel.store(true);
}

// Marks the run running with this process as its worker. A run marked running already is
// taken over only when its worker is gone (run_workers.h); the judgement and the claim
// are one transaction, so two workers resuming the same run at once cannot both take it.
void claimRun(Workspace& ws, std::int64_t runId, bool resume)
{
    RunStore runs(ws.db());
    Database::Transaction tx(ws.db());
    const auto run = runs.find(runId);
    if (!run)
        throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
    const std::string id = std::to_string(runId);
    const WorkerCheck check = checkWorker(*run);
    switch (check.verdict) {
    case WorkerCheck::Verdict::NotRunning:
        break;
    case WorkerCheck::Verdict::Alive:
        throw InputError("run " + id + " is already running (worker " + check.reason + "); stop it with "
            + "'tunebench-cli runs stop " + id + "' first");
    case WorkerCheck::Verdict::OtherHost:
        throw InputError("run " + id + " is running on another host (worker " + check.reason + "); this host ("
            + thisHostName() + ") cannot tell whether that worker is alive: stop or recover it " + "on host "
            + run->workerHost);
    case WorkerCheck::Verdict::NoWorker:
        throw InputError("run " + id + " is marked running without a worker pid (another program, such as a "
            + "merge in the GUI, is working on it)");
    case WorkerCheck::Verdict::Stale: {
        const std::string error
            = "The worker (" + describeWorker(*run) + ") ended without finishing the run: " + check.reason + ".";
        runs.setStatus(runId, RunStatus::Failed, error);
        runs.addEvent(runId, "failed",
            nlohmann::json({ { "event", "failed" }, { "error", error }, { "source", "cli" }, { "stale", true } })
                .dump());
        std::cerr << "tunebench-cli train: run " << id << " was left running by a worker that is gone (" << check.reason
                  << "); " << (resume ? "resuming it" : "training it again") << "\n";
        break;
    }
    }
    const auto pid = static_cast<std::int64_t>(getpid());
    runs.setStatus(runId, RunStatus::Running, {}, pid);
    if (resume)
        runs.addEvent(runId, "resumed",
            nlohmann::json({ { "event", "resumed" }, { "pid", pid }, { "host", thisHostName() },
                               { "previous_status", toString(run->status) } })
                .dump());
    tx.commit();
}

// The launch flags over the configuration's `distributed:` section.
DistributedConfig launchSettings(const CommandLine& cl, DistributedConfig d)
{
    auto number = [&](const char* name, std::int64_t low, std::int64_t high, std::int64_t& into) {
        if (const auto v = cl.value(name)) {
            const std::int64_t n = cl.integer(std::string("--") + name, *v);
            if (n < low || n > high)
                throw UsageError(std::string("--") + name + " must be from " + std::to_string(low) + " to "
                    + std::to_string(high) + ", got " + *v);
            into = n;
        }
    };
    number("nproc-per-node", 1, 4096, d.nprocPerNode);
    number("nnodes", 1, 4096, d.nnodes);
    number("node-rank", 0, 4095, d.nodeRank);
    number("master-port", 1, 65535, d.masterPort);
    if (const auto v = cl.value("master-addr"))
        d.masterAddr = *v;
    if (d.nodeRank >= d.nnodes)
        throw UsageError("--node-rank (" + std::to_string(d.nodeRank) + ") must be below --nnodes ("
            + std::to_string(d.nnodes) + ")");
    return d;
}

volatile bool g_launcherCancel = false;

extern "C" void onLauncherSignal(int)
{
    g_launcherCancel = true;
}

void markFailed(RunStore& runs, std::int64_t runId, const std::string& message)
{
    runs.setStatus(runId, RunStatus::Failed, message);
    runs.addEvent(runId, "failed", nlohmann::json({ { "event", "failed" }, { "error", message } }).dump());
    std::cout << nlohmann::json({ { "event", "failed" }, { "run_id", runId }, { "error", message } }).dump()
              << std::endl;
}

int trainCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli train [CONFIG] --workspace DIR  |  train --resume RUN_ID --workspace DIR\n"
                   "       [--nproc-per-node N] [--nnodes M --node-rank R --master-addr HOST --master-port PORT]",
        "Trains a run in the foreground, printing one JSON event a line on stdout (start, step, eval,\n"
        "checkpoint, finished or failed) and recording metrics and events in the workspace.\n"
        "CONFIG (or --config) is a YAML or JSON run configuration: it is recorded as a new run and trained.\n"
        "--run trains a recorded run from the start; --resume continues one from its newest checkpoint.\n"
        "--nproc-per-node N trains data-parallel on N processes of this host (the configuration's\n"
        "`distributed:` section sets the same); with --nnodes M each host runs the command with its own\n"
        "--node-rank, all naming host 0 as --master-addr (the workspace on a shared file system). A process\n"
        "started by torchrun or srun (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT set) is one rank.\n"
        "SIGINT or SIGTERM stops after the current step, with a checkpoint.\n"
        "Exit code: 0 finished, 1 failed, 2 wrong usage, 3 cancelled.",
        { { "CONFIG", "a run configuration (YAML or JSON)", true } },
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "config", "FILE", "same as CONFIG" }, { "run", "ID", "a recorded run to train from the start" },
            { "resume", "RUN_ID", "continue this run from its newest checkpoint" },
            { "nproc-per-node", "N", "processes (ranks) on this host" },
            { "nnodes", "M", "hosts taking part (default 1)" },
            { "node-rank", "R", "this host's place, 0 .. M-1 (host 0 runs rank 0)" },
            { "master-addr", "HOST", "address of host 0, where the ranks meet (default 127.0.0.1)" },
            { "master-port", "PORT", "port on host 0 for the rendezvous (default 29500)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    std::optional<std::string> configFile = cl.value("config");
    if (cl.positionalCount() > 0) {
        if (configFile)
            throw UsageError("give the configuration once: as CONFIG or as --config");
        configFile = cl.positional(0);
    }
    const int sources = (configFile ? 1 : 0) + (cl.has("run") ? 1 : 0) + (cl.has("resume") ? 1 : 0);
    if (sources != 1)
        throw UsageError("give one of: a CONFIG file, --run ID or --resume RUN_ID");

    Workspace ws = Workspace::open(cl.required("workspace"));
    RunStore runs(ws.db());
    const PluginRegistry& plugins = defaultPluginRegistry();
    std::int64_t runId = 0;
    TrainConfig config;
    nlohmann::json configJson;
    if (const auto& file = configFile) {
        configJson = readYamlOrJsonFile(*file);
        TrainConfig::resolvePaths(configJson, *file);
        config = TrainConfig::fromJson(configJson, plugins, *file);
        if (config.name.empty())
            config.name = std::filesystem::path(*file).stem().string();
    } else {
        runId = cl.has("run") ? cl.integer("--run", *cl.value("run")) : cl.integer("--resume", *cl.value("resume"));
        auto run = runs.find(runId);
        if (!run)
            throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
        config = TrainConfig::fromJson(
            nlohmann::json::parse(run->configJson), plugins, "run " + std::to_string(runId) + " configuration");
    }
    const DistributedConfig launch = launchSettings(cl, config.distributed);
    const std::optional<RankEnvironment> rankEnv = RankEnvironment::fromEnvironment(launch);

    // This host's ranks as children; host 0 marks the run failed when one of them fails.
    if (!rankEnv && launch.worldSize() > 1) {
        if (launch.nodeRank == 0)
            ws.requireWritable("start a run");
        std::signal(SIGINT, onLauncherSignal);
        std::signal(SIGTERM, onLauncherSignal);
        const LaunchOutcome outcome = launchLocalRanks(launch, args, &g_launcherCancel);
        // Only a run rank 0 started: before its start event the run is as it was (or rank 0 marked it).
        const std::int64_t failedRun = outcome.runId.value_or(0);
        if (!outcome.failure.empty()) {
            std::cerr << "tunebench-cli train: " << outcome.failure << "\n";
            if (failedRun > 0 && launch.nodeRank == 0)
                markFailed(runs, failedRun, outcome.failure);
        }
        return outcome.exitCode;
    }

    std::unique_ptr<Communicator> comm;
    if (rankEnv && rankEnv->worldSize > 1) {
        comm = Communicator::join(*rankEnv);
        // Several ranks on one host share its cores; a CUDA rank uses the GPU of its LOCAL_RANK.
        if (config.threads == 0) {
            const char* local = std::getenv("LOCAL_WORLD_SIZE");
            const long perHost = local ? std::max(1L, std::strtol(local, nullptr, 10)) : 1L;
            config.threads = std::max<long>(1, static_cast<long>(std::thread::hardware_concurrency()) / perHost);
        }
        if (config.device == "cuda")
            config.device = "cuda:" + std::to_string(rankEnv->localRank);
    }
    const bool lead = !comm || comm->rank() == 0;
    TrainerOptions options;
    options.resume = cl.has("resume");
    options.communicator = comm.get();
    if (!lead) {
        // Rank 0 records the run; the others learn its id and keep out of the store.
        const std::string published = comm->fetch("run_id");
        if (published.rfind("error:", 0) == 0)
            throw InputError(comm->describe(comm->rank()) + ": rank 0 could not start the run: " + published.substr(6));
        runId = std::stoll(published);
        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
        options.runDir = ws.runDir(runId);
        options.workspace = &ws;
        options.cancel = &g_cancel;
        runTraining(config, plugins, options);
        return 0;
    }

    try {
        ws.requireWritable("start a run");
        if (configFile) {
            NewRun run;
            run.name = config.name;
            run.configJson = config.toJson().dump();
            run.adapter = config.adapter;
            run.objective = config.objective;
            run.modelPath = config.model;
            run.datasetId = config.datasetId;
            runId = runs.create(run);
        }
        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
        claimRun(ws, runId, cl.has("resume"));
    } catch (const std::exception& e) {
        if (comm)
            comm->publish("run_id", std::string("error:") + e.what());
        throw;
    }
    if (comm)
        comm->publish("run_id", std::to_string(runId));
    options.runDir = ws.runDir(runId);
    options.workspace = &ws;
    options.runId = runId;
    options.cancel = &g_cancel;
    options.events = [](const nlohmann::json& event) { std::cout << event.dump() << std::endl; };
    try {
        const TrainResult result = runTraining(config, plugins, options);
        const bool cancelled = result.status == TrainResult::Status::Cancelled;
        runs.setStatus(runId, cancelled ? RunStatus::Cancelled : RunStatus::Finished);
        return cancelled ? 3 : 0;
    } catch (const std::exception& e) {
        markFailed(runs, runId, e.what());
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
    // Each library is loaded in a child first (plugins probe), so one that crashes or hangs while loading is
    // listed as broken instead of ending this listing.
    PluginRegistry plugins;
    std::error_code ec;
    plugins.setProbe(std::filesystem::read_symlink("/proc/self/exe", ec));
    plugins.load(PluginRegistry::defaultSearchPath());
    for (const PluginInfo& p : plugins.plugins())
        std::cout << toString(p.kind) << '\t' << p.name << '\t' << p.version << '\t' << p.path.string() << '\n';
    for (const BrokenPlugin& b : plugins.broken())
        std::cout << "broken\t" << b.path.string() << '\t' << b.reason << '\n';
    return 0;
}

int pluginsProbe(const std::vector<std::string>& args)
{
    if (args.empty() || args.front() == "--help" || args.front() == "-h") {
        std::cout << "Usage: tunebench-cli plugins probe LIBRARY...\n\n"
                     "Loads each plugin library in turn and calls its entry point, printing \"loading PATH\" before\n"
                     "and \"loaded PATH\" after each. The GUI and `plugins list` run it in a child process, so a\n"
                     "library that crashes or hangs while loading is listed as broken instead of taking them down.\n";
        return 0;
    }
    std::vector<std::filesystem::path> libraries(args.begin(), args.end());
    return loadForProbe(libraries, stdout);
}

int pluginsShow(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli plugins show NAME",
        "Prints a plugin's description, PEFT type (adapters that have a PEFT form), conformance file and\nparameter "
        "schema as JSON.",
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
        p = plugins.find(PluginKind::Reward, name);
    if (!p)
        plugins.require(PluginKind::Adapter, name); // throws, listing what exists
    std::cout << nlohmann::json(
        { { "name", p->name }, { "kind", toString(p->kind) }, { "version", p->version }, { "summary", p->summary },
            { "path", p->path.string() },
            { "peft_type", p->peftType.empty() ? nlohmann::json() : nlohmann::json(p->peftType) },
            { "conformance",
                std::filesystem::exists(p->conformanceFile()) ? p->conformanceFile().string() : std::string() },
            { "parameters", p->schema.toJson() } })
                     .dump(2)
              << "\n";
    return 0;
}

int pluginsCheck(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli plugins check NAME [--file CONFORMANCE.yaml] [--json]",
        "Runs an adapter plugin's conformance rows (the conformance file beside its library, or --file) on tiny\n"
        "random Llama and GPT-2 models: identity at initialisation, the trainable count the row states, a falling\n"
        "loss, only the plugin's tensors changing, state round trip, switching off, the PEFT form read back and\n"
        "merging; then its refusals. Exit status 1 when a check fails.",
        { { "NAME", "the adapter plugin's name" } },
        { { "file", "FILE", "a conformance file instead of the one beside the plugin" },
            { "json", "", "print the results as one JSON object" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const PluginRegistry& plugins = defaultPluginRegistry();
    const PluginInfo& plugin = plugins.require(PluginKind::Adapter, cl.positional(0));
    const auto file = cl.value("file");
    const ConformanceSpec spec = readConformanceSpec(file ? std::filesystem::path(*file) : plugin.conformanceFile());
    if (spec.adapter != plugin.name)
        throw InputError(
            spec.file.string() + ": adapter: '" + spec.adapter + "', but the plugin checked is '" + plugin.name + "'");
    bool passed = true;
    nlohmann::json results = nlohmann::json::array();
    for (const ConformanceResult& r : checkConformance(spec, plugins)) {
        passed = passed && r.passed();
        results.push_back({ { "row", r.row }, { "architecture", r.architecture }, { "passed", r.passed() },
            { "failures", r.failures }, { "trainable", r.trainable }, { "loss_before", r.lossBefore },
            { "loss_after", r.lossAfter }, { "peft_type", r.peftType }, { "peft_difference", r.peftDifference },
            { "merge_difference", r.mergeDifference } });
        if (cl.has("json"))
            continue;
        std::cout << (r.passed() ? "ok  " : "FAIL") << "  " << r.row << " (" << r.architecture << ")";
        if (r.row.rfind("refusal ", 0) != 0) {
            std::cout << ": " << r.trainable << " trainable, loss " << r.lossBefore << " -> " << r.lossAfter;
            if (r.peftDifference >= 0)
                std::cout << ", PEFT " << r.peftType << " read back within " << r.peftDifference;
            if (r.mergeDifference >= 0)
                std::cout << ", merged within " << r.mergeDifference;
        }
        std::cout << "\n";
        for (const std::string& f : r.failures)
            std::cout << "      " << f << "\n";
    }
    if (cl.has("json"))
        std::cout << nlohmann::json(
            { { "plugin", plugin.name }, { "file", spec.file.string() }, { "passed", passed }, { "results", results } })
                         .dump(2)
                  << "\n";
    return passed ? 0 : 1;
}

const CommandRegistration kRegistration { {
    { { "train" }, "train a run (events as JSON lines)", trainCommand },
    { { "plugins", "list" }, "list the method plugins and any broken ones", pluginsList },
    { { "plugins", "show" }, "show a plugin's parameters", pluginsShow },
    { { "plugins", "check" }, "run an adapter plugin's conformance rows", pluginsCheck },
    { { "plugins", "probe" }, "load plugin libraries one by one (how a crashing plugin is kept out)", pluginsProbe },
} };

} // namespace

} // namespace tunebench::cli
