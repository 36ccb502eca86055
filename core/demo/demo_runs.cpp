#include "core/demo/demo_runs.h"

#include "core/demo/demo_presets.h"
#include "core/merge/run_merge.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/train_config.h"
#include "core/train/trainer.h"
#include "core/util/error.h"

#include <fstream>
#include <iomanip>
#include <sstream>
#include <unistd.h>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

double secondsSince(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

void writeTextFile(const fs::path& path, const std::string& text)
{
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out)
            throw Error("cannot write " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec)
        throw Error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

void writeJsonLines(const fs::path& path, const std::vector<json>& records)
{
    std::string text;
    for (const json& r : records)
        text += r.dump() + "\n";
    writeTextFile(path, text);
}

json readJsonFile(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError("cannot read " + path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return json::parse(ss.str());
    } catch (const json::exception& e) {
        throw InputError(path.string() + ": not valid JSON (" + e.what() + ")");
    }
}

// ---- the manifest ------------------------------------------------------------------------------

RunManifest::RunManifest(fs::path file)
    : m_file(std::move(file))
{
    if (fs::exists(m_file))
        m_entries = readJsonFile(m_file);
    if (!m_entries.is_object())
        m_entries = json::object();
}

std::optional<std::int64_t> RunManifest::reusable(
    const std::string& preset, const std::string& inputs, const RunStore& runs) const
{
    const auto it = m_entries.find(preset);
    if (it == m_entries.end() || it->value("inputs", "") != inputs)
        return std::nullopt;
    const std::int64_t id = it->value("run_id", static_cast<std::int64_t>(0));
    const auto run = runs.find(id);
    if (!run || run->status != RunStatus::Finished)
        return std::nullopt;
    return id;
}

std::int64_t RunManifest::runOf(const std::string& preset) const
{
    const auto it = m_entries.find(preset);
    if (it == m_entries.end())
        throw Error("preset '" + preset + "' has no finished run (it was skipped or failed)");
    return it->at("run_id").get<std::int64_t>();
}

void RunManifest::recordRun(const std::string& preset, std::int64_t runId, const std::string& inputs)
{
    m_entries[preset] = { { "run_id", runId }, { "inputs", inputs } };
    save();
}

std::optional<json> RunManifest::measures(const std::string& preset, const std::string& key) const
{
    const auto it = m_entries.find(preset);
    if (it == m_entries.end() || !it->contains("measures") || (*it)["measures"].value("key", "") != key)
        return std::nullopt;
    return (*it)["measures"];
}

void RunManifest::recordMeasures(const std::string& preset, const json& measures)
{
    m_entries[preset]["measures"] = measures;
    save();
}

void RunManifest::save() const
{
    writeTextFile(m_file, m_entries.dump(2) + "\n");
}

// ---- training and merging ----------------------------------------------------------------------

namespace {

void tell(const Progress& progress, const std::string& line)
{
    if (progress)
        progress(line);
}

// A line about the run every ten seconds at most.
EventSink progressLines(const std::string& name, std::int64_t runId, Clock::time_point start, const Progress& progress)
{
    return [=, lastReport = start](const json& e) mutable {
        const std::string kind = e.value("event", "");
        if (kind == "start") {
            tell(progress,
                name + ": run " + std::to_string(runId) + ", " + std::to_string(e.value("total_steps", 0)) + " steps, "
                    + std::to_string(e.value("trainable_parameters", 0)) + " of "
                    + std::to_string(e.value("total_parameters", 0)) + " parameters train");
        } else if (kind == "step" && secondsSince(lastReport) > 10) {
            lastReport = Clock::now();
            std::ostringstream line;
            line << name << ": step " << e.value("step", 0) << " loss " << std::fixed << std::setprecision(3)
                 << e.value("loss", 0.0) << " (" << std::setprecision(0) << secondsSince(start) << " s)";
            tell(progress, line.str());
        }
    };
}

} // namespace

std::int64_t trainDemoRun(Workspace& workspace, const PluginRegistry& plugins, const std::string& name, json configJson,
    const std::string& source, std::int64_t threads, const Progress& progress)
{
    if (threads > 0) {
        json& section = configJson.contains("training") && configJson["training"].is_object() ? configJson["training"]
                                                                                              : configJson;
        if (!configJson.contains("threads") && !section.contains("threads"))
            section["threads"] = threads;
    }
    TrainConfig config = TrainConfig::fromJson(configJson, plugins, source);
    config.name = "demo-" + name;
    NewRun run;
    run.name = config.name;
    run.configJson = config.toJson().dump();
    run.adapter = config.adapter;
    run.objective = config.objective;
    run.modelPath = config.model;
    run.datasetId = config.datasetId;
    RunStore runs(workspace.db());
    const std::int64_t runId = runs.create(run);
    runs.setStatus(runId, RunStatus::Running, {}, static_cast<std::int64_t>(getpid()));
    TrainerOptions options;
    options.runDir = workspace.runDir(runId);
    options.workspace = &workspace;
    options.runId = runId;
    const auto start = Clock::now();
    options.events = progressLines(name, runId, start, progress);
    try {
        const TrainResult r = runTraining(config, plugins, options);
        runs.setStatus(runId, RunStatus::Finished);
        std::ostringstream line;
        line << name << ": finished " << r.steps << " steps in " << std::fixed << std::setprecision(1)
             << secondsSince(start) << " s, last loss " << std::setprecision(3) << r.lastLoss;
        tell(progress, line.str());
    } catch (const std::exception& e) {
        runs.setStatus(runId, RunStatus::Failed, e.what());
        runs.addEvent(runId, "failed", json({ { "event", "failed" }, { "error", e.what() } }).dump());
        throw;
    }
    return runId;
}

std::int64_t mergeDemoRun(Workspace& workspace, const PluginRegistry& plugins, const Preset& preset,
    const std::vector<std::int64_t>& parentRuns, const Progress& progress)
{
    MergeRequest request;
    request.runIds = parentRuns;
    request.method = preset.method;
    request.params = preset.mergeParams;
    request.name = "demo-" + preset.name;
    request.evalDataset = preset.evalDataset;
    request.log = [&](const std::string& line) { tell(progress, preset.name + ": " + line); };
    const MergeOutcome outcome = mergeRuns(workspace, plugins, request);
    tell(progress, preset.name + ": merged into run " + std::to_string(outcome.runId));
    return outcome.runId;
}

} // namespace tunebench::demo
