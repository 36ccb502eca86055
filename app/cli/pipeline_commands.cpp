// tunebench-cli pipeline: runs a pipeline file's stages one after another, each a `tunebench-cli train` worker
// whose model is an earlier stage's result, evaluates every stage's task after each stage (the forgetting
// matrix), and resumes it when run again; `pipeline list` and `pipeline show`.

#include "command_line.h"
#include "commands.h"
#include "worker_process.h"

#include "core/method/plugin_registry.h"
#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_data.h"
#include "core/pipeline/pipeline_evaluation.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/pipeline/pipeline_store.h"
#include "core/store/database.h"
#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/sweep_store.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const OptionSpec kWorkspaceOption { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" };

std::atomic<bool> g_stop { false };

extern "C" void onPipelineSignal(int)
{
    g_stop.store(true);
}

std::string number(double v)
{
    if (!std::isfinite(v))
        return "-";
    std::ostringstream out;
    out << std::fixed << std::setprecision(4) << v;
    return out.str();
}

std::string optionalNumber(const std::optional<double>& v)
{
    return v ? number(*v) : std::string("-");
}

// The matrix as a table (rows: the base, then after each stage; columns: each stage's tasks) and its measures.
std::string formatMatrix(const ForgettingMatrix& m, const std::vector<std::string>& stageNames)
{
    std::ostringstream out;
    out << "forgetting matrix (row: after stage; column: a stage's task and metric)\n";
    std::vector<std::string> headers;
    std::size_t first = 12;
    for (const auto& name : stageNames)
        first = std::max(first, name.size() + 7);
    for (const MatrixColumn& c : m.columns)
        headers.push_back(c.name + " " + c.metric);
    out << std::left << std::setw(static_cast<int>(first)) << "";
    for (const auto& h : headers)
        out << "  " << std::right << std::setw(static_cast<int>(std::max<std::size_t>(10, h.size()))) << h;
    out << "\n";
    for (std::size_t j = 0; j < m.rows.size(); ++j) {
        const std::string label = j == 0 ? "base" : "after " + (j - 1 < stageNames.size() ? stageNames[j - 1] : "?");
        out << std::left << std::setw(static_cast<int>(first)) << label;
        for (std::size_t c = 0; c < m.columns.size(); ++c)
            out << "  " << std::right << std::setw(static_cast<int>(std::max<std::size_t>(10, headers[c].size())))
                << number(c < m.rows[j].size() ? m.rows[j][c] : NAN);
        out << "\n";
    }
    for (const ContinualMeasures& r : continualMeasures(m)) {
        out << (r.higherIsBetter ? "higher is better" : "lower is better") << " (" << r.columns
            << " columns, after stage " << r.afterStage << "): average " << number(r.average) << ", backward transfer "
            << optionalNumber(r.bwt) << ", forgetting " << optionalNumber(r.forgetting) << ", forward transfer "
            << optionalNumber(r.fwt) << "\n";
    }
    return out.str();
}

json measuresJson(const ForgettingMatrix& m)
{
    json out = json::array();
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(); };
    for (const ContinualMeasures& r : continualMeasures(m))
        out.push_back({ { "direction", r.higherIsBetter ? "max" : "min" }, { "after_stage", r.afterStage },
            { "columns", r.columns }, { "average", r.average }, { "bwt", opt(r.bwt) },
            { "forgetting", opt(r.forgetting) }, { "fwt", opt(r.fwt) } });
    return out;
}

class PipelineRunner {
public:
    PipelineRunner(Workspace& ws, const PipelineSpec& spec, std::int64_t id, const PluginRegistry& plugins,
        std::vector<PreparedStageData> data, std::vector<MatrixColumn> columns)
        : m_ws(ws)
        , m_spec(spec)
        , m_id(id)
        , m_plugins(plugins)
        , m_data(std::move(data))
        , m_columns(std::move(columns))
        , m_runs(ws.db())
        , m_store(ws.db())
        , m_folder(ws.root() / "pipelines" / std::to_string(id))
    { }

    int run()
    {
        m_store.setStatus(m_id, "running");
        if (!hasRow(0)) {
            say("evaluating the base model for the forgetting matrix");
            saveRow(0, evaluateRow(m_spec, m_plugins, m_data, m_spec.model, {}), std::nullopt);
        }
        for (std::size_t k = 0; k < m_spec.stages.size(); ++k) {
            if (g_stop.load())
                return stopped();
            const int result = runStage(k);
            if (result != 0)
                return result;
        }
        m_store.setStatus(m_id, "finished");
        std::vector<std::string> names;
        for (const PipelineStage& s : m_spec.stages)
            names.push_back(s.name);
        std::cout << formatMatrix(m_store.matrix(m_id), names);
        std::cout << "pipeline " << m_id << ": finished" << std::endl;
        return 0;
    }

private:
    void say(const std::string& what) { std::cout << "pipeline " << m_id << ": " << what << std::endl; }
    void sayStage(std::size_t k, const std::string& what)
    {
        std::cout << "stage " << k + 1 << " (" << m_spec.stages[k].name << "): " << what << std::endl;
    }

    bool hasRow(std::int64_t row) const
    {
        for (const std::int64_t r : m_store.rows(m_id)) {
            if (r == row)
                return true;
        }
        return false;
    }

    // A row and, after a stage, the stage marked finished: one change.
    void saveRow(std::int64_t row, const std::vector<double>& values, std::optional<std::size_t> stage)
    {
        Database::Transaction tx(m_ws.db());
        m_store.saveRow(m_id, row, m_columns, values);
        if (stage)
            m_store.setStageStatus(m_id, static_cast<std::int64_t>(*stage), "finished");
        tx.commit();
    }

    int stopped()
    {
        m_store.setStatus(m_id, "stopped");
        say("stopped; run the same command again to resume it");
        return 3;
    }

    int failed(std::size_t k, const std::string& why)
    {
        m_store.setStageStatus(m_id, static_cast<std::int64_t>(k), "failed");
        m_store.setStatus(m_id, "failed");
        sayStage(k, "failed: " + why);
        say("not finished; run the same command again to retry");
        return 1;
    }

    // The run a stage starts from (none: the base model).
    std::optional<std::int64_t> sourceRun(std::size_t k) const
    {
        const PipelineStage& s = m_spec.stages[k];
        switch (s.from) {
        case PipelineStage::From::Base:
            return std::nullopt;
        case PipelineStage::From::Run:
            return s.fromRun;
        case PipelineStage::From::Stage: {
            const auto stages = m_store.stages(m_id);
            const auto& src = stages.at(s.fromStage);
            if (!src.runId || src.status != "finished")
                throw InputError(
                    "stage '" + s.name + "' starts from stage '" + src.name + "', which has no finished run");
            return src.runId;
        }
        }
        return std::nullopt;
    }

    // Makes the stage's run: its model (the source's result merged, or the source's model with its adapter
    // continued) and its configuration, recorded with the lineage.
    std::int64_t makeRun(std::size_t k)
    {
        const PipelineStage& s = m_spec.stages[k];
        const std::optional<std::int64_t> source = sourceRun(k);
        std::string model = m_spec.model;
        std::string init;
        if (source) {
            const auto src = m_runs.find(*source);
            if (!src || src->status != RunStatus::Finished)
                throw InputError(m_spec.file.string() + ": stage '" + s.name + "': key 'from': run "
                    + std::to_string(*source) + (src ? " has not finished" : " is not in this workspace"));
            const fs::path adapterDir = m_ws.runDir(*source) / "adapter";
            if (!RunAdapterFiles::exists(adapterDir))
                throw InputError("run " + std::to_string(*source) + " has no saved adapter in " + adapterDir.string());
            const std::string srcModel
                = src->modelPath.empty() ? RunAdapterFiles::read(adapterDir).model : src->modelPath;
            if (s.merge) {
                const fs::path out = m_folder / ("stage-" + std::to_string(k + 1)) / "model";
                std::error_code ec;
                if (!fs::exists(out / "config.json", ec)) {
                    sayStage(k, "merging run " + std::to_string(*source) + "'s adapter into " + out.string());
                    writeMergedStageModel(srcModel, adapterDir, out, m_plugins);
                }
                model = out.string();
            } else {
                model = srcModel;
                init = std::to_string(*source);
            }
        }
        json config = stageRunConfig(m_spec, k, model, m_data.at(k).trainFile.string(), init, m_plugins);
        NewRun run;
        run.name = m_spec.name + "/" + s.name;
        config["name"] = run.name;
        run.configJson = config.dump();
        run.adapter = config.value("adapter", "");
        run.objective = config.value("objective", "");
        run.modelPath = model;
        run.parentRunId = source;
        json from = s.from == PipelineStage::From::Base ? json("base")
            : s.from == PipelineStage::From::Run        ? json({ { "run", s.fromRun } })
                                                        : json({ { "stage", m_spec.stages[s.fromStage].name } });
        run.lineageJson = json(
            { { "pipeline", { { "id", m_id }, { "name", m_spec.name } } },
                { "stage", { { "index", k + 1 }, { "name", s.name } } }, { "from", from },
                { "source_run", source ? json(*source) : json() }, { "merge", source ? json(s.merge) : json() },
                { "clm", s.clm }, { "replayed", m_data.at(k).replayed },
                { "model",
                    model } }).dump();
        Database::Transaction tx(m_ws.db());
        const std::int64_t id = m_runs.create(run);
        m_store.setStageRun(m_id, static_cast<std::int64_t>(k), id, source, model);
        tx.commit();
        sayStage(k,
            "run " + std::to_string(id) + " made"
                + (source ? " from run " + std::to_string(*source) + (s.merge ? " (merged)" : " (adapter continued)")
                          : std::string(" from the base model")));
        return id;
    }

    // A run that ended without a checkpoint is trained again as a new run in its place.
    std::int64_t replaceRun(std::size_t k, const RunRecord& old)
    {
        const auto stage = m_store.stages(m_id).at(k);
        NewRun run;
        run.name = old.name;
        run.configJson = old.configJson;
        run.adapter = old.adapter;
        run.objective = old.objective;
        run.modelPath = old.modelPath;
        run.parentRunId = old.parentRunId;
        run.lineageJson = old.lineageJson;
        Database::Transaction tx(m_ws.db());
        m_runs.remove(old.id);
        const std::int64_t id = m_runs.create(run);
        m_store.setStageRun(m_id, static_cast<std::int64_t>(k), id, stage.parentRunId, stage.modelPath);
        tx.commit();
        std::error_code ec;
        fs::remove_all(m_ws.runDir(old.id), ec);
        sayStage(k,
            "run " + std::to_string(id) + " replaces run " + std::to_string(old.id)
                + ", which ended without a checkpoint");
        return id;
    }

    // Waits for a worker this process started; on SIGINT/SIGTERM stops it (it writes a checkpoint).
    bool waitChild(pid_t pid, int& status)
    {
        bool signalled = false;
        while (true) {
            const pid_t r = ::waitpid(pid, &status, WNOHANG);
            if (r == pid)
                return !signalled;
            if (r < 0 && errno != EINTR)
                return !signalled;
            if (g_stop.load() && !signalled) {
                ::kill(pid, SIGTERM);
                signalled = true;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
        }
    }

    int runStage(std::size_t k)
    {
        const auto k64 = static_cast<std::int64_t>(k);
        PipelineStageRecord stage = m_store.stages(m_id).at(k);
        std::optional<RunRecord> run = stage.runId ? m_runs.find(*stage.runId) : std::nullopt;
        if (stage.status == "finished" && run && run->status == RunStatus::Finished && hasRow(k64 + 1)) {
            sayStage(k, "finished (run " + std::to_string(run->id) + ")");
            return 0;
        }
        if (!run) {
            try {
                run = m_runs.find(makeRun(k));
            } catch (const Error& e) {
                return failed(k, e.what());
            }
        }
        m_store.setStageStatus(m_id, k64, "running");
        while (run->status != RunStatus::Finished) {
            if (g_stop.load())
                return stopped();
            bool resume = false;
            if (run->status == RunStatus::Running) {
                const WorkerCheck check = checkWorker(*run);
                if (check.verdict == WorkerCheck::Verdict::Alive) {
                    // A worker left by an earlier pipeline process carries on: waited for, not started again.
                    sayStage(k,
                        "run " + std::to_string(run->id) + " is already running (worker " + check.reason
                            + "); waiting for it");
                    while (!g_stop.load()) {
                        std::this_thread::sleep_for(std::chrono::milliseconds(200));
                        run = m_runs.find(run->id);
                        if (!run || run->status != RunStatus::Running
                            || checkWorker(*run).verdict != WorkerCheck::Verdict::Alive)
                            break;
                    }
                    if (g_stop.load())
                        return stopped();
                    if (!run)
                        return failed(k, "its run was deleted");
                    continue;
                }
                if (check.verdict != WorkerCheck::Verdict::Stale)
                    return failed(k,
                        "run " + std::to_string(run->id) + " is marked running by " + describeWorker(*run)
                            + ", which this host cannot judge");
                resume = hasResumableCheckpoint(m_ws.runDir(run->id));
                if (!resume)
                    m_runs.setStatus(run->id, RunStatus::Failed, "The worker ended without finishing: " + check.reason);
            } else if (run->status == RunStatus::Failed || run->status == RunStatus::Cancelled) {
                resume = hasResumableCheckpoint(m_ws.runDir(run->id));
            }
            run = m_runs.find(run->id);
            if (run->status != RunStatus::Queued && !resume)
                run = m_runs.find(replaceRun(k, *run));
            const pid_t pid = startWorker(m_ws, run->id, resume);
            sayStage(k,
                "run " + std::to_string(run->id) + (resume ? " resumed" : " started") + " (worker pid "
                    + std::to_string(pid) + ")");
            int status = 0;
            const bool completed = waitChild(pid, status);
            run = m_runs.find(run->id);
            if (!run)
                return failed(k, "its run was deleted");
            if (!completed)
                return stopped();
            if (run->status != RunStatus::Finished) {
                const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                return failed(k,
                    "run " + std::to_string(run->id) + " " + std::string(toString(run->status)) + " (worker exit "
                        + (code >= 0 ? std::to_string(code) : "by signal " + std::to_string(WTERMSIG(status))) + ")"
                        + (run->error.empty() ? std::string() : ": " + run->error));
            }
        }
        sayStage(k, "run " + std::to_string(run->id) + " finished; evaluating every stage's task");
        const fs::path adapterDir = m_ws.runDir(run->id) / "adapter";
        try {
            saveRow(k64 + 1, evaluateRow(m_spec, m_plugins, m_data, run->modelPath, adapterDir), k);
        } catch (const Error& e) {
            return failed(k, std::string("evaluation: ") + e.what());
        }
        return 0;
    }

    Workspace& m_ws;
    const PipelineSpec& m_spec;
    std::int64_t m_id;
    const PluginRegistry& m_plugins;
    std::vector<PreparedStageData> m_data;
    std::vector<MatrixColumn> m_columns;
    RunStore m_runs;
    PipelineStore m_store;
    fs::path m_folder;
};

int pipelineCommand(const std::vector<std::string>& args)
{
    if (args.empty()) {
        std::cerr << "tunebench-cli pipeline: give a pipeline file (pipeline PIPELINE.yaml), or a command: pipeline "
                     "list, pipeline show ID\nRun 'tunebench-cli pipeline --help' for usage.\n";
        return 2;
    }
    CommandLine cl("tunebench-cli pipeline PIPELINE.yaml --workspace DIR",
        "Runs a pipeline: its stages one after another, each a `tunebench-cli train` worker whose model is an\n"
        "earlier stage's result (its adapter merged into a new model folder, or kept and continued), and after\n"
        "each stage every stage's task evaluated (the forgetting matrix; see docs/architecture.md, Pipelines).\n"
        "Running the same file again resumes it: finished stages are not run again, an interrupted stage\n"
        "continues from its checkpoint. SIGINT or SIGTERM stops the running stage (it writes a checkpoint).\n"
        "Exit code: 0 every stage done, 1 a stage failed or bad input, 2 wrong usage, 3 stopped.\n"
        "\n"
        "Commands (each with --help):\n"
        "  pipeline PIPELINE.yaml  run or resume a pipeline\n"
        "  pipeline list           the workspace's pipelines\n"
        "  pipeline show ID        a pipeline's stages, runs, lineage and forgetting matrix",
        { { "PIPELINE", "the pipeline file (YAML or JSON)" } },
        { { "workspace", "DIR", "the workspace folder", false, "TUNEBENCH_WORKSPACE" },
            { "dry-run", "",
                "check the file and print each stage's run configuration as JSON lines; record nothing" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const fs::path file = cl.positional(0);
    const PipelineSpec spec = PipelineSpec::readFile(file);
    const PluginRegistry& plugins = defaultPluginRegistry();
    checkStages(spec, plugins);
    std::vector<MatrixColumn> columns = matrixColumns(spec, plugins);
    if (cl.has("dry-run")) {
        for (const PipelineStage& s : spec.stages)
            std::cout << json({ { "stage", s.name },
                                  { "config", stageRunConfig(spec, s.index, spec.model, s.dataset, "", plugins) } })
                             .dump()
                      << "\n";
        return 0;
    }

    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("run a pipeline");
    // Runs named by `from` are checked before anything is recorded.
    RunStore runs(ws.db());
    for (const PipelineStage& s : spec.stages) {
        if (s.from != PipelineStage::From::Run)
            continue;
        const auto run = runs.find(s.fromRun);
        if (!run || run->status != RunStatus::Finished || !RunAdapterFiles::exists(ws.runDir(s.fromRun) / "adapter"))
            throw InputError(spec.file.string() + ": stage '" + s.name + "': key 'from': run "
                + std::to_string(s.fromRun)
                + (run ? " has not finished with a saved adapter" : " is not in workspace " + ws.root().string()));
    }
    PipelineStore store(ws.db());
    const std::string canonical = spec.canonicalJson().dump();
    std::int64_t id = 0;
    bool resumed = false;
    {
        Database::Transaction tx(ws.db());
        if (const auto found = store.findByConfig(canonical)) {
            id = found->id;
            resumed = true;
        } else {
            std::vector<std::string> names;
            for (const PipelineStage& s : spec.stages)
                names.push_back(s.name);
            std::error_code ec;
            const fs::path abs = fs::absolute(file, ec).lexically_normal();
            id = store.create(spec.name, (ec ? file : abs).string(), canonical, names);
        }
        tx.commit();
    }
    std::cout << "pipeline " << id << ": " << (resumed ? "resuming '" : "created '") << spec.name << "' ("
              << spec.stages.size() << " stages)" << std::endl;
    std::vector<PreparedStageData> data
        = preparePipelineData(spec, plugins, &ws, ws.root() / "pipelines" / std::to_string(id));
    for (std::size_t k = 0; k < data.size(); ++k)
        std::cout << "stage " << k + 1 << " (" << spec.stages[k].name << "): " << data[k].trainExamples << " "
                  << data[k].format << " examples to train on"
                  << (data[k].replayed ? " + " + std::to_string(data[k].replayed) + " replayed" : std::string()) << ", "
                  << data[k].heldOut << " held out" << std::endl;
    std::signal(SIGINT, onPipelineSignal);
    std::signal(SIGTERM, onPipelineSignal);
    PipelineRunner runner(ws, spec, id, plugins, std::move(data), std::move(columns));
    return runner.run();
}

int pipelineList(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli pipeline list --workspace DIR [--json]",
        "Lists the workspace's pipelines, one a line: id, status, name, stages finished/total, created.", {},
        { kWorkspaceOption, { "json", "", "one JSON object a line" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    PipelineStore store(ws.db());
    for (const PipelineRecord& p : store.list()) {
        const auto stages = store.stages(p.id);
        std::size_t done = 0;
        for (const auto& s : stages)
            done += s.status == "finished";
        if (cl.has("json"))
            std::cout << json(
                { { "id", p.id }, { "name", p.name }, { "status", p.status }, { "file", p.file },
                    { "stages", stages.size() }, { "done", done }, { "created_at", formatTime(p.createdAt) } })
                             .dump()
                      << "\n";
        else
            std::cout << p.id << '\t' << p.status << '\t' << cell(p.name) << '\t' << done << "/" << stages.size()
                      << " stages done\t" << formatTime(p.createdAt) << '\n';
    }
    return 0;
}

int pipelineShow(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli pipeline show ID --workspace DIR [--json]",
        "Prints a pipeline: its stages as a chain of runs (each stage's run, the run it started from, its model\n"
        "folder), the forgetting matrix (rows: the base model, then after each stage; columns: each stage's\n"
        "tasks) and its measures: average, backward transfer, forgetting and forward transfer, per direction\n"
        "(losses are negated for the transfers and forgetting, so negative backward transfer and positive\n"
        "forgetting mean forgetting for losses too).",
        { { "ID", "the pipeline's id (see 'pipeline list')" } },
        { kWorkspaceOption, { "json", "", "the same as one JSON object" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::int64_t id = cl.integer("pipeline ID", cl.positional(0));
    Workspace ws = Workspace::open(cl.required("workspace"));
    PipelineStore store(ws.db());
    const auto p = store.find(id);
    if (!p)
        throw InputError("no pipeline with id " + std::to_string(id) + " in workspace " + ws.root().string());
    const auto stages = store.stages(id);
    const ForgettingMatrix m = store.matrix(id);
    RunStore runs(ws.db());
    if (cl.has("json")) {
        json s = json::array();
        for (const auto& st : stages) {
            const auto run = st.runId ? runs.find(*st.runId) : std::nullopt;
            s.push_back({ { "index", st.index + 1 }, { "name", st.name }, { "status", st.status },
                { "run", st.runId ? json(*st.runId) : json() },
                { "run_status", run ? json(std::string(toString(run->status))) : json() },
                { "parent_run", st.parentRunId ? json(*st.parentRunId) : json() }, { "model", st.modelPath },
                { "lineage", run ? json::parse(run->lineageJson, nullptr, false) : json() } });
        }
        json cols = json::array();
        for (const MatrixColumn& c : m.columns)
            cols.push_back({ { "name", c.name }, { "stage", c.stage }, { "metric", c.metric },
                { "direction", c.higherIsBetter ? "max" : "min" } });
        json rows = json::array();
        for (const auto& r : m.rows) {
            json row = json::array();
            for (double v : r)
                row.push_back(std::isfinite(v) ? json(v) : json());
            rows.push_back(row);
        }
        std::cout << json(
            { { "id", p->id }, { "name", p->name }, { "status", p->status }, { "file", p->file }, { "stages", s },
                { "matrix", { { "columns", cols }, { "rows", rows } } }, { "measures", measuresJson(m) } })
                         .dump(2)
                  << "\n";
        return 0;
    }
    std::cout << "pipeline " << p->id << " '" << p->name << "' (" << p->status << ", " << p->file << ")\n";
    std::vector<std::string> names;
    for (const auto& st : stages) {
        names.push_back(st.name);
        const auto run = st.runId ? runs.find(*st.runId) : std::nullopt;
        std::cout << "stage " << st.index + 1 << " " << st.name << ": " << st.status;
        if (st.runId)
            std::cout << ", run " << *st.runId << " (" << (run ? std::string(toString(run->status)) : "deleted") << ")";
        std::cout << ", from "
                  << (st.parentRunId ? "run " + std::to_string(*st.parentRunId) : std::string("the base model"));
        if (!st.modelPath.empty())
            std::cout << ", model " << st.modelPath;
        std::cout << "\n";
    }
    std::cout << formatMatrix(m, names);
    return 0;
}

const CommandRegistration kRegistration { {
    { { "pipeline" }, "run or resume a pipeline of stages (continued pretraining, fine-tuning ...)", pipelineCommand },
    { { "pipeline", "list" }, "list the pipelines of a workspace", pipelineList },
    { { "pipeline", "show" }, "show a pipeline's stages, lineage and forgetting matrix", pipelineShow },
} };

} // namespace

} // namespace tunebench::cli
