#include "command_line.h"
#include "commands.h"

#include "core/store/artifacts.h"
#include "core/store/metrics.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/train_config.h"
#include "core/util/display_text.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>

#include <signal.h>

namespace tunebench::cli {

namespace {

const OptionSpec kWorkspaceOption { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" };

std::string orDash(const std::string& s)
{
    return s.empty() ? "-" : s;
}

nlohmann::json parseStoredJson(const std::string& text)
{
    return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

nlohmann::json runToJson(const RunRecord& r)
{
    nlohmann::json j = {
        { "id", r.id },
        { "name", r.name },
        { "status", toString(r.status) },
        { "adapter", r.adapter },
        { "objective", r.objective },
        { "model", r.modelPath },
        { "created_at", formatTime(r.createdAt) },
        { "config", parseStoredJson(r.configJson) },
        { "lineage", parseStoredJson(r.lineageJson) },
    };
    j["dataset_id"] = r.datasetId ? nlohmann::json(*r.datasetId) : nlohmann::json(nullptr);
    j["parent_run_id"] = r.parentRunId ? nlohmann::json(*r.parentRunId) : nlohmann::json(nullptr);
    j["started_at"] = r.startedAt ? nlohmann::json(formatTime(*r.startedAt)) : nlohmann::json(nullptr);
    j["finished_at"] = r.finishedAt ? nlohmann::json(formatTime(*r.finishedAt)) : nlohmann::json(nullptr);
    if (!r.error.empty())
        j["error"] = r.error;
    return j;
}

int runsList(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs list --workspace DIR [--status STATUS] [--json]",
        "Lists the workspace's runs, one a line: id, status, name, adapter, objective, created.\n"
        "Prints nothing for a workspace without runs.",
        {},
        { kWorkspaceOption,
            { "status", "STATUS", "only runs with this status (queued, running, finished, failed, cancelled)" },
            { "json", "", "one JSON object a line instead of tab-separated columns" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    std::optional<RunStatus> only;
    if (auto s = cl.value("status")) {
        try {
            only = runStatusFromString(*s);
        } catch (const InputError& e) {
            throw UsageError(std::string("--status: ") + e.what());
        }
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    for (const RunRecord& r : RunStore(ws.db()).list()) {
        if (only && r.status != *only)
            continue;
        if (cl.has("json")) {
            std::cout << runToJson(r).dump() << "\n";
        } else {
            // Names are the user's: a tab, newline or escape sequence in one must not break the
            // columns or drive the terminal (--json has them exactly).
            std::cout << r.id << '\t' << toString(r.status) << '\t' << cell(r.name) << '\t' << cell(orDash(r.adapter))
                      << '\t' << cell(orDash(r.objective)) << '\t' << formatTime(r.createdAt) << '\n';
        }
    }
    return 0;
}

int runsShow(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs show ID --workspace DIR",
        "Prints one run as JSON: configuration, status, times, lineage, a summary of every\n"
        "metric (count, last, min, max) and its artifacts.",
        { { "ID", "the run's id (see 'runs list')" } }, { kWorkspaceOption });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::int64_t id = cl.integer("run ID", cl.positional(0));
    Workspace ws = Workspace::open(cl.required("workspace"));
    auto run = RunStore(ws.db()).find(id);
    if (!run)
        throw InputError("no run with id " + std::to_string(id) + " in workspace " + ws.root().string());
    nlohmann::json j = runToJson(*run);
    j["folder"] = ws.runDir(id).string();
    nlohmann::json metrics = nlohmann::json::object();
    for (const MetricSummary& m : MetricQuery(ws.db()).summary(id)) {
        metrics[m.name] = { { "count", m.count }, { "last", m.last }, { "last_step", m.lastStep }, { "min", m.min },
            { "max", m.max } };
    }
    j["metrics"] = metrics;
    nlohmann::json artifacts = nlohmann::json::array();
    for (const ArtifactRecord& a : ArtifactStore(ws.db()).list(id))
        artifacts.push_back(
            { { "id", a.id }, { "kind", a.kind }, { "path", a.path }, { "meta", parseStoredJson(a.metaJson) } });
    j["artifacts"] = artifacts;
    std::cout << j.dump(2) << "\n";
    return 0;
}

int runsCreate(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs create --workspace DIR --config FILE [--name NAME]",
        "Records a run configuration (YAML or JSON) in the workspace as a queued run and\n"
        "prints its id. The config's 'name', 'adapter' (or 'method'), 'objective', 'model'\n"
        "and 'dataset_id' keys fill the run's columns.",
        {},
        { kWorkspaceOption, { "config", "FILE", "run configuration, YAML or JSON", true },
            { "name", "NAME", "run name (default: the config's 'name', else the file name)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::filesystem::path configPath = cl.required("config");
    nlohmann::json config = readYamlOrJsonFile(configPath);
    if (!config.is_object())
        throw InputError(configPath.string() + ": a run configuration must be a mapping of keys to values, got "
            + std::string(config.type_name()));
    TrainConfig::resolvePaths(config, configPath);
    auto text = [&](const char* key) -> std::string {
        if (!config.contains(key) || config[key].is_null())
            return {};
        if (!config[key].is_string())
            throw InputError(configPath.string() + ": field '" + key + "' must be a string, got " + config[key].dump());
        return config[key].get<std::string>();
    };
    NewRun run;
    run.name = cl.value("name").value_or(text("name"));
    if (run.name.empty())
        run.name = configPath.stem().string();
    run.adapter = text("adapter");
    if (run.adapter.empty())
        run.adapter = text("method");
    run.objective = text("objective");
    run.modelPath = text("model");
    if (config.contains("dataset_id")) {
        if (!config["dataset_id"].is_number_integer())
            throw InputError(configPath.string() + ": field 'dataset_id' must be a whole number, got "
                + config["dataset_id"].dump());
        run.datasetId = config["dataset_id"].get<std::int64_t>();
    }
    run.configJson = config.dump();
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("record a run");
    if (run.datasetId) {
        Statement st = ws.db().prepare("SELECT 1 FROM datasets WHERE id = ?");
        st.bind(1, *run.datasetId);
        if (!st.step())
            throw InputError(configPath.string() + ": field 'dataset_id': no dataset with id "
                + std::to_string(*run.datasetId) + " in workspace " + ws.root().string());
    }
    std::cout << RunStore(ws.db()).create(run) << "\n";
    return 0;
}

int runsDelete(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs delete ID --workspace DIR [--keep-files]",
        "Deletes a run with its metrics, samples, events and artifact records, and its run folder.\n"
        "A running run is refused: stop it first.",
        { { "ID", "the run's id" } }, { kWorkspaceOption, { "keep-files", "", "keep the run folder on disk" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::int64_t id = cl.integer("run ID", cl.positional(0));
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("delete a run");
    RunStore runs(ws.db());
    auto run = runs.find(id);
    if (!run)
        throw InputError("no run with id " + std::to_string(id) + " in workspace " + ws.root().string());
    if (run->status == RunStatus::Running)
        throw InputError("run " + std::to_string(id) + " is running; stop it before deleting it ('runs stop', or "
            + "'runs recover' when its worker is gone)");
    runs.remove(id);
    if (!cl.has("keep-files")) {
        std::error_code ec;
        std::filesystem::remove_all(ws.runDir(id), ec);
        if (ec)
            throw Error("run " + std::to_string(id) + " was deleted from the store, but its folder "
                + ws.runDir(id).string() + " could not be removed: " + ec.message());
    }
    std::cout << "Deleted run " << id << "\n";
    return 0;
}

int runsStop(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs stop ID --workspace DIR [--wait]",
        "Stops a running run: its worker gets SIGTERM, finishes the current step, writes a\n"
        "checkpoint and marks the run cancelled; 'train --resume ID' continues it later.\n"
        "A run whose worker runs on another host, or is gone, is refused with the reason\n"
        "('runs recover' marks runs with a gone worker failed).",
        { { "ID", "the run's id" } },
        { kWorkspaceOption, { "wait", "", "wait until the worker has stopped and print the run's new status" },
            { "timeout", "SECONDS", "with --wait, give up after this long (default 600)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::int64_t id = cl.integer("run ID", cl.positional(0));
    const std::int64_t timeout = cl.value("timeout") ? cl.integer("--timeout", *cl.value("timeout")) : 600;
    Workspace ws = Workspace::open(cl.required("workspace"));
    RunStore runs(ws.db());
    auto run = runs.find(id);
    if (!run)
        throw InputError("no run with id " + std::to_string(id) + " in workspace " + ws.root().string());
    const std::string name = "run " + std::to_string(id);
    const WorkerCheck check = checkWorker(*run);
    switch (check.verdict) {
    case WorkerCheck::Verdict::NotRunning:
        throw InputError(name + " is not running (it is " + std::string(toString(run->status)) + ")");
    case WorkerCheck::Verdict::NoWorker:
        throw InputError(name + " is marked running without a worker pid; there is no worker to stop");
    case WorkerCheck::Verdict::OtherHost:
        throw InputError(name + " runs on another host (worker " + check.reason + "); stop it there, this host is "
            + thisHostName());
    case WorkerCheck::Verdict::Stale:
        throw InputError(name + "'s worker is gone (" + check.reason + "); 'tunebench-cli runs recover' marks it "
            + "failed, 'tunebench-cli train --resume " + std::to_string(id) + "' continues it");
    case WorkerCheck::Verdict::Alive:
        break;
    }
    const auto pid = static_cast<pid_t>(*run->workerPid);
    if (::kill(pid, SIGTERM) != 0)
        throw Error("cannot signal the worker of " + name + " (" + check.reason + "): " + std::strerror(errno));
    std::cout << "Sent SIGTERM to the worker of " << name << " (" << check.reason
              << "); it stops after the current step with a checkpoint.\n";
    if (!cl.has("wait"))
        return 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
    while (std::chrono::steady_clock::now() < deadline) {
        run = runs.find(id);
        if (!run || run->status != RunStatus::Running || run->workerPid != static_cast<std::int64_t>(pid)) {
            std::cout << name << " is " << (run ? toString(run->status) : std::string_view("deleted"))
                      << (run && !run->error.empty() ? ": " + run->error : std::string()) << "\n";
            return 0;
        }
        if (!processAlive(pid))
            throw Error("the worker of " + name + " exited without marking the run; 'tunebench-cli runs recover' "
                + "marks it failed");
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    throw Error("the worker of " + name + " has not stopped after " + std::to_string(timeout) + " s");
}

int runsRecover(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli runs recover --workspace DIR [--json]",
        "Marks every run left 'running' by a worker that is gone failed, with the reason: the\n"
        "worker's pid is not alive, belongs to another process now, or the host has restarted.\n"
        "Runs of other hosts are left alone and listed. Prints one line a run (or one JSON\n"
        "object with --json); 'train --resume ID' continues a recovered run from its checkpoint.",
        {}, { kWorkspaceOption, { "json", "", "print {\"recovered\": [...], \"other_hosts\": [...]}" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("recover runs");
    const std::vector<RecoveredRun> recovered = recoverStaleRuns(ws.db(), "cli");
    nlohmann::json others = nlohmann::json::array();
    for (const RunRecord& r : RunStore(ws.db()).list()) {
        if (checkWorker(r).verdict == WorkerCheck::Verdict::OtherHost)
            others.push_back({ { "run_id", r.id }, { "host", r.workerHost }, { "pid", r.workerPid.value_or(0) } });
    }
    if (cl.has("json")) {
        nlohmann::json list = nlohmann::json::array();
        for (const RecoveredRun& r : recovered)
            list.push_back({ { "run_id", r.runId }, { "pid", r.pid ? nlohmann::json(*r.pid) : nlohmann::json() },
                { "status", "failed" }, { "reason", r.reason } });
        std::cout << nlohmann::json({ { "recovered", list }, { "other_hosts", others } }).dump() << "\n";
        return 0;
    }
    for (const RecoveredRun& r : recovered)
        std::cout << "run " << r.runId << ": marked failed: " << r.reason << "\n";
    for (const auto& o : others)
        std::cout << "run " << o["run_id"].get<std::int64_t>() << ": left alone: its worker (pid "
                  << o["pid"].get<std::int64_t>() << ") runs on host " << o["host"].get<std::string>() << "\n";
    if (recovered.empty())
        std::cout << "No stale runs.\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "runs", "stop" }, "stop a running run (SIGTERM: checkpoint, then cancelled)", runsStop },
    { { "runs", "recover" }, "mark runs whose worker is gone failed", runsRecover },
    { { "runs", "list" }, "list the runs of a workspace", runsList },
    { { "runs", "show" }, "show one run with its metrics summary", runsShow },
    { { "runs", "create" }, "record a run configuration as a queued run", runsCreate },
    { { "runs", "delete" }, "delete a run and its files", runsDelete },
} };

} // namespace

} // namespace tunebench::cli
