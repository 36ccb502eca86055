// tunebench-cli sweep: runs a sweep file's runs as `tunebench-cli train` workers (as the GUI's run queue
// starts them), at most N at a time, and resumes it when run again; `sweep list` and `sweep show`.

#include "command_line.h"
#include "commands.h"
#include "worker_process.h"

#include "core/method/plugin_registry.h"
#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/early_stopping.h"
#include "core/sweep/sweep_spec.h"
#include "core/sweep/sweep_store.h"
#include "core/sweep/sweep_summary.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const OptionSpec kWorkspaceOption { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" };

std::atomic<bool> g_stop { false };

extern "C" void onSweepSignal(int)
{
    g_stop.store(true);
}

struct Slot {
    SweepRunLink link;
    bool done = false; // finished, or stopped early
    bool tried = false; // started once by this sweep process
};

class SweepRunner {
public:
    SweepRunner(Workspace& ws, const SweepSpec& spec, std::int64_t sweepId, std::int64_t concurrency)
        : m_ws(ws)
        , m_spec(spec)
        , m_sweepId(sweepId)
        , m_concurrency(concurrency)
        , m_runs(ws.db())
        , m_sweeps(ws.db())
    { }

    int run()
    {
        load();
        std::size_t done = 0;
        for (const auto& [id, slot] : m_slots)
            done += slot.done;
        std::cout << "sweep " << m_sweepId << ": " << done << " of " << m_slots.size() << " runs done, "
                  << m_slots.size() - done << " to run, " << m_concurrency << " at a time" << std::endl;
        m_sweeps.setStatus(m_sweepId, "running");
        while (true) {
            if (g_stop.load())
                return stopAll();
            reap();
            watchOthers();
            earlyStopping();
            launch();
            if (m_children.empty() && m_watched.empty() && !anyLaunchable())
                break;
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
        load();
        std::size_t finished = 0, failed = 0;
        for (const auto& [id, slot] : m_slots) {
            finished += slot.done;
            failed += !slot.done;
        }
        const bool ok = failed == 0;
        m_sweeps.setStatus(m_sweepId, ok ? "finished" : "failed");
        std::cout << "sweep " << m_sweepId << ": " << (ok ? "finished" : "not finished") << ", " << finished << " of "
                  << m_slots.size() << " runs done"
                  << (ok ? std::string() : "; run the same command again to retry the others") << std::endl;
        return ok ? 0 : 1;
    }

private:
    void load()
    {
        std::map<std::int64_t, bool> tried;
        for (const auto& [id, slot] : m_slots)
            tried[id] = slot.tried;
        m_slots.clear();
        for (const SweepRunLink& l : m_sweeps.runs(m_sweepId)) {
            Slot s;
            s.link = l;
            const auto run = m_runs.find(l.runId);
            s.done = l.stoppedEarly || (run && run->status == RunStatus::Finished);
            s.tried = tried[l.runId];
            m_slots[l.runId] = s;
        }
    }

    bool anyLaunchable() const
    {
        for (const auto& [id, slot] : m_slots) {
            if (!slot.done && !slot.tried && !m_children.count(id) && !m_watched.count(id))
                return true;
        }
        return false;
    }

    void say(std::int64_t runId, const std::string& what)
    {
        const Slot& s = m_slots[runId];
        std::cout << "run " << runId << " (point " << s.link.pointIndex
                  << (s.link.seed ? ", seed " + std::to_string(*s.link.seed) : std::string()) << "): " << what
                  << std::endl;
    }

    void launch()
    {
        // Collected first: replacing a run changes m_slots.
        std::vector<std::int64_t> candidates;
        for (const auto& [id, slot] : m_slots) {
            if (!slot.done && !slot.tried && !m_children.count(id) && !m_watched.count(id))
                candidates.push_back(id);
        }
        for (const std::int64_t id : candidates) {
            if (static_cast<std::int64_t>(m_children.size()) >= m_concurrency || g_stop.load())
                return;
            m_slots[id].tried = true;
            std::int64_t runId = id;
            auto run = m_runs.find(runId);
            if (!run)
                continue;
            bool resume = false;
            if (run->status == RunStatus::Running) {
                const WorkerCheck check = checkWorker(*run);
                if (check.verdict == WorkerCheck::Verdict::Alive) {
                    // A worker left by an earlier sweep process carries on: it is waited for, not started again.
                    say(runId, "already running (worker " + check.reason + "); waiting for it");
                    m_watched.insert(runId);
                    continue;
                }
                if (check.verdict != WorkerCheck::Verdict::Stale) {
                    say(runId,
                        "left alone: marked running by " + describeWorker(*run) + ", which this host cannot judge");
                    continue;
                }
                resume = hasResumableCheckpoint(m_ws.runDir(runId));
                if (!resume) {
                    m_runs.setStatus(
                        runId, RunStatus::Failed, "The worker ended without finishing the run: " + check.reason);
                    run = m_runs.find(runId);
                }
            } else if (run->status == RunStatus::Failed || run->status == RunStatus::Cancelled) {
                resume = hasResumableCheckpoint(m_ws.runDir(runId));
            }
            if (run->status != RunStatus::Queued && run->status != RunStatus::Running && !resume)
                runId = replaceRun(runId);
            const pid_t pid = startWorker(m_ws, runId, resume);
            m_children[runId] = pid;
            say(runId, std::string(resume ? "resumed" : "started") + " (worker pid " + std::to_string(pid) + ")");
        }
    }

    // A failed run without a checkpoint is trained again as a new run in its place (replaceSweepRun).
    std::int64_t replaceRun(std::int64_t oldId)
    {
        const Slot old = m_slots[oldId];
        const std::int64_t newId = replaceSweepRun(m_ws.db(), oldId);
        std::error_code ec;
        fs::remove_all(m_ws.runDir(oldId), ec);
        m_slots.erase(oldId);
        Slot s = old;
        s.link.runId = newId;
        m_slots[newId] = s;
        say(newId, "replaces run " + std::to_string(oldId) + ", which ended without a checkpoint");
        return newId;
    }

    void finishedChild(std::int64_t runId, int waitStatus)
    {
        const auto run = m_runs.find(runId);
        const auto link = m_sweeps.sweepOf(runId);
        Slot& slot = m_slots[runId];
        if (link && link->second.stoppedEarly) {
            slot.done = true;
            say(runId, "stopped early");
        } else if (run && run->status == RunStatus::Finished) {
            slot.done = true;
            say(runId, "finished");
        } else {
            const int code = WIFEXITED(waitStatus) ? WEXITSTATUS(waitStatus) : -1;
            say(runId,
                std::string(run ? toString(run->status) : "deleted") + " (worker exit "
                    + (code >= 0 ? std::to_string(code) : "by signal " + std::to_string(WTERMSIG(waitStatus))) + ")"
                    + (run && !run->error.empty() ? ": " + run->error : std::string()));
        }
    }

    void reap()
    {
        for (auto it = m_children.begin(); it != m_children.end();) {
            int status = 0;
            const pid_t r = ::waitpid(it->second, &status, WNOHANG);
            if (r == it->second) {
                const std::int64_t runId = it->first;
                it = m_children.erase(it);
                finishedChild(runId, status);
            } else {
                ++it;
            }
        }
    }

    void watchOthers()
    {
        for (auto it = m_watched.begin(); it != m_watched.end();) {
            const auto run = m_runs.find(*it);
            if (run && run->status == RunStatus::Running && checkWorker(*run).verdict == WorkerCheck::Verdict::Alive) {
                ++it;
                continue;
            }
            const std::int64_t runId = *it;
            it = m_watched.erase(it);
            const auto link = m_sweeps.sweepOf(runId);
            if ((run && run->status == RunStatus::Finished) || (link && link->second.stoppedEarly)) {
                m_slots[runId].done = true;
                say(runId, "finished");
            } else {
                m_slots[runId].tried = false; // its worker is gone: started (resumed) by this process
            }
        }
    }

    void earlyStopping()
    {
        if (!m_spec.earlyStopping || m_children.empty())
            return;
        const auto now = std::chrono::steady_clock::now();
        if (now - m_lastJudged < std::chrono::seconds(1))
            return;
        m_lastJudged = now;
        MetricQuery metrics(m_ws.db());
        std::vector<SweepCurve> curves;
        for (const auto& [id, slot] : m_slots) {
            SweepCurve c;
            c.runId = id;
            c.active = m_children.count(id) > 0 && !slot.link.stoppedEarly;
            for (const MetricPoint& p : metrics.series(id, m_spec.earlyStopping->metric))
                c.values.emplace_back(p.step, p.value);
            curves.push_back(std::move(c));
        }
        for (const std::int64_t runId : runsToStop(*m_spec.earlyStopping, curves, m_judged)) {
            const auto run = m_runs.find(runId);
            if (!run || checkWorker(*run).verdict != WorkerCheck::Verdict::Alive)
                continue; // not started yet, or ending by itself
            // Recorded before the signal: a sweep killed in between still knows the run is done.
            m_sweeps.markStoppedEarly(runId);
            m_slots[runId].link.stoppedEarly = true;
            m_runs.addEvent(runId, "stopped_early",
                json({ { "event", "stopped_early" }, { "sweep_id", m_sweepId },
                         { "rule",
                             m_spec.earlyStopping->rule == SweepEarlyStopping::Rule::Median ? "median"
                                                                                            : "successive_halving" },
                         { "metric", m_spec.earlyStopping->metric } })
                    .dump());
            // What `runs stop` does: SIGTERM to the worker, which checkpoints and marks the run cancelled.
            ::kill(static_cast<pid_t>(*run->workerPid), SIGTERM);
            say(runId, "stopping early (" + m_spec.earlyStopping->metric + " worse than the rule allows)");
        }
    }

    int stopAll()
    {
        std::cout << "sweep " << m_sweepId << ": stopping " << m_children.size()
                  << " worker(s); each writes a checkpoint" << std::endl;
        for (const auto& [runId, pid] : m_children)
            ::kill(pid, SIGTERM);
        for (const auto& [runId, pid] : m_children) {
            int status = 0;
            while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) { }
            finishedChild(runId, status);
        }
        m_children.clear();
        m_sweeps.setStatus(m_sweepId, "stopped");
        std::cout << "sweep " << m_sweepId << ": stopped; run the same command again to resume it" << std::endl;
        return 3;
    }

    Workspace& m_ws;
    const SweepSpec& m_spec;
    std::int64_t m_sweepId;
    std::int64_t m_concurrency;
    RunStore m_runs;
    SweepStore m_sweeps;
    std::map<std::int64_t, Slot> m_slots; // by run id
    std::map<std::int64_t, pid_t> m_children; // run id -> worker pid
    std::set<std::int64_t> m_watched; // runs whose worker another process started
    std::set<std::pair<std::int64_t, std::int64_t>> m_judged;
    std::chrono::steady_clock::time_point m_lastJudged {};
};

int sweepCommand(const std::vector<std::string>& args)
{
    if (args.empty()) {
        std::cerr
            << "tunebench-cli sweep: give a sweep file (sweep SWEEP.yaml), or a command: sweep list, sweep show ID\n"
               "Run 'tunebench-cli sweep --help' for usage.\n";
        return 2;
    }
    CommandLine cl("tunebench-cli sweep SWEEP.yaml --workspace DIR [--concurrency N]",
        "Runs a sweep: the base run configuration over the grid's combinations, the random trials and the\n"
        "seeds (see docs/architecture.md, Sweeps), each run a `tunebench-cli train` worker, at most N at a\n"
        "time (--concurrency, else the file's 'concurrency', else 1). Running the same file again resumes the\n"
        "sweep: finished runs are never run again, interrupted ones continue from their checkpoint.\n"
        "SIGINT or SIGTERM stops the workers (each writes a checkpoint).\n"
        "Exit code: 0 every run done, 1 a run failed, 2 wrong usage, 3 stopped.\n"
        "\n"
        "Commands (each with --help):\n"
        "  sweep SWEEP.yaml    run or resume a sweep\n"
        "  sweep list          the workspace's sweeps\n"
        "  sweep show ID       a sweep's points, runs and statistics as JSON",
        { { "SWEEP", "the sweep file (YAML or JSON)" } },
        { kWorkspaceOption, { "concurrency", "N", "runs at a time" },
            { "dry-run", "", "print the runs' configurations as JSON lines and record nothing" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const fs::path file = cl.positional(0);
    const SweepSpec spec = SweepSpec::readFile(file);
    const PluginRegistry& plugins = defaultPluginRegistry();
    const std::vector<SweepRunConfig> configs = expandRuns(spec, plugins);
    if (cl.has("dry-run")) {
        for (const auto& rc : configs)
            std::cout << json(
                { { "point", rc.pointIndex }, { "seed", rc.seed ? json(*rc.seed) : json() }, { "config", rc.config } })
                             .dump()
                      << "\n";
        return 0;
    }
    std::int64_t concurrency = spec.concurrency > 0 ? spec.concurrency : 1;
    if (auto c = cl.value("concurrency")) {
        concurrency = cl.integer("--concurrency", *c);
        if (concurrency < 1)
            throw UsageError("--concurrency must be at least 1");
    }

    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("run a sweep");
    const RecordedSweep recorded = recordSweep(ws.db(), spec, configs);
    const std::int64_t sweepId = recorded.id;
    std::cout << "sweep " << sweepId << ": " << (recorded.resumed ? "resuming '" : "created '") << spec.name << "'"
              << (recorded.resumed ? std::string() : " (" + std::to_string(configs.size()) + " runs)") << std::endl;
    std::signal(SIGINT, onSweepSignal);
    std::signal(SIGTERM, onSweepSignal);
    SweepRunner runner(ws, spec, sweepId, concurrency);
    return runner.run();
}

int sweepList(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli sweep list --workspace DIR [--json]",
        "Lists the workspace's sweeps, one a line: id, status, name, points, runs finished/total, created.", {},
        { kWorkspaceOption, { "json", "", "one JSON object a line" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    SweepStore sweeps(ws.db());
    RunStore runs(ws.db());
    for (const SweepRecord& s : sweeps.list()) {
        const auto links = sweeps.runs(s.id);
        std::size_t done = 0;
        for (const SweepRunLink& l : links) {
            const auto run = runs.find(l.runId);
            done += l.stoppedEarly || (run && run->status == RunStatus::Finished);
        }
        const std::size_t points = sweeps.points(s.id).size();
        if (cl.has("json")) {
            std::cout << json(
                { { "id", s.id }, { "name", s.name }, { "status", s.status }, { "file", s.file }, { "points", points },
                    { "runs", links.size() }, { "done", done }, { "created_at", formatTime(s.createdAt) } })
                             .dump()
                      << "\n";
        } else {
            std::cout << s.id << '\t' << s.status << '\t' << cell(s.name) << '\t' << points << " points\t" << done
                      << "/" << links.size() << " runs done\t" << formatTime(s.createdAt) << '\n';
        }
    }
    return 0;
}

int sweepShow(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli sweep show ID --workspace DIR",
        "Prints a sweep as JSON: its points, each with its params, its runs and, per final metric, n, mean,\n"
        "std and ci95 ([low, high], the 95% t-interval) over its finished runs; and the best point by the\n"
        "sweep's metric and direction.",
        { { "ID", "the sweep's id (see 'sweep list')" } }, { kWorkspaceOption });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::int64_t id = cl.integer("sweep ID", cl.positional(0));
    Workspace ws = Workspace::open(cl.required("workspace"));
    if (!SweepStore(ws.db()).find(id))
        throw InputError("no sweep with id " + std::to_string(id) + " in workspace " + ws.root().string());
    std::cout << sweepSummary(ws.db(), id).dump(2) << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "sweep" }, "run or resume a sweep over hyperparameters and seeds", sweepCommand },
    { { "sweep", "list" }, "list the sweeps of a workspace", sweepList },
    { { "sweep", "show" }, "show a sweep's points with their statistics (JSON)", sweepShow },
} };

} // namespace

} // namespace tunebench::cli
