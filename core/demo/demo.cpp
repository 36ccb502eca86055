#include "core/demo/demo.h"

#include "core/demo/demo_build.h"
#include "core/demo/demo_measures.h"
#include "core/demo/demo_pipeline.h"
#include "core/demo/demo_presets.h"
#include "core/demo/demo_runs.h"
#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/sweep_spec.h"
#include "core/sweep/sweep_store.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <algorithm>
#include <iomanip>
#include <map>
#include <optional>
#include <sstream>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A preset's run: made now, or reused from an earlier demo.
struct PresetRun {
    std::int64_t id = 0;
    bool reused = false;
    std::vector<std::int64_t> parents; // a merge's parent runs
};

class Demo {
public:
    Demo(const DemoOptions& options, const PluginRegistry& plugins)
        : m_options(options)
        , m_plugins(plugins)
        , m_workspace(Workspace::isWorkspace(options.workspace) ? Workspace::open(options.workspace)
                                                                : Workspace::create(options.workspace))
        , m_runs(m_workspace.db())
        , m_build(m_workspace, plugins, options)
    { }

    DemoResult run()
    {
        // Presets are read first: a bad preset fails before anything is built.
        const std::vector<Preset> presets = loadPresets(m_options.presetsDir);
        // "pipeline" in --only names the two-stage pipeline, which runs after the presets (all of them run it).
        std::vector<std::string> only = m_options.only;
        const bool wantsPipeline
            = only.empty() || std::find(only.begin(), only.end(), std::string(kPipelineName)) != only.end();
        only.erase(std::remove(only.begin(), only.end(), std::string(kPipelineName)), only.end());
        const std::vector<const Preset*> chosen
            = m_options.only.empty() || !only.empty() ? selectPresets(presets, only) : std::vector<const Preset*> {};
        if (m_options.fresh && fs::exists(m_build.dir())) {
            say("--fresh: removing " + m_build.dir().string() + " (runs stay in the workspace)");
            fs::remove_all(m_build.dir());
        }
        DemoResult result;
        result.stages = m_build.ensure();
        result.modelCached = m_build.cached();
        result.modelDir = m_build.modelDir();
        result.dataDir = m_build.dataDir();
        RunManifest manifest(m_build.dir() / "runs.json");
        DemoMeasures measures(
            m_workspace, m_plugins, result.modelDir, result.dataDir, m_options.seed, m_build.evaluationTasksFile());
        result.modelParameters = measures.modelParameters();

        const auto start = Clock::now();
        for (const Preset* p : chosen) {
            const PresetRun run = p->merge ? runMerge(*p, manifest) : runTrain(*p, manifest);
            result.runs.push_back(row(*p, run, manifest, measures));
        }
        result.stages.push_back({ "runs and measures", secondsSince(start), false });
        recordSeedSweeps(chosen, result.runs);
        if (wantsPipeline) {
            const auto pipelineStart = Clock::now();
            result.pipeline = runDemoPipeline(m_workspace, m_plugins, m_build, m_options);
            result.stages.push_back({ "pipeline", secondsSince(pipelineStart), result.pipeline->reused });
        }
        return result;
    }

private:
    // Each preset run over seeds is recorded as the sweep it is (one point, its seeds), linking its runs, so
    // `sweep show` and the Sweeps page give its statistics as for any sweep. The same preset and seeds find
    // the sweep recorded by an earlier demo.
    void recordSeedSweeps(const std::vector<const Preset*>& chosen, const std::vector<DemoRun>& rows)
    {
        std::map<std::string, std::vector<std::pair<const Preset*, std::int64_t>>> groups;
        for (std::size_t i = 0; i < chosen.size() && i < rows.size(); ++i) {
            if (chosen[i]->seed)
                groups[chosen[i]->group].push_back({ chosen[i], rows[i].runId });
        }
        SweepStore sweeps(m_workspace.db());
        for (const auto& [group, members] : groups) {
            if (members.size() < 2)
                continue;
            json base = json::parse(m_runs.find(members.front().second)->configJson, nullptr, false);
            if (!base.is_object())
                continue;
            json seeds = json::array();
            for (const auto& [preset, id] : members)
                seeds.push_back(*preset->seed);
            if (base.contains("training") && base["training"].is_object())
                base["training"].erase("seed");
            base.erase("seed");
            base.erase("name");
            const json doc = { { "name", "demo-" + group }, { "base", base }, { "seeds", seeds },
                { "metric", "demo/target_loss" }, { "direction", "min" } };
            const fs::path file = members.front().first->file;
            const SweepSpec spec = SweepSpec::fromJson(doc, file);
            const std::string canonical = spec.canonicalJson().dump();
            Database::Transaction tx(m_workspace.db());
            std::int64_t id = 0;
            if (const auto known = sweeps.findByConfig(canonical))
                id = known->id;
            else
                id = sweeps.create(spec.name, file.string(), canonical, expandPoints(spec));
            for (std::size_t k = 0; k < members.size(); ++k) {
                if (!sweeps.sweepOf(members[k].second))
                    sweeps.link(id, members[k].second, 0, static_cast<std::int64_t>(k), *members[k].first->seed);
            }
            sweeps.setStatus(id, "finished");
            tx.commit();
            say(group + ": recorded as sweep " + std::to_string(id) + " (" + std::to_string(members.size())
                + " seeds; tunebench-cli sweep show " + std::to_string(id) + ")");
        }
    }

    void say(const std::string& line) const
    {
        if (m_options.progress)
            m_options.progress(line);
    }

    PresetRun runTrain(const Preset& p, RunManifest& manifest)
    {
        json config = p.config;
        if (m_options.quick)
            shortenForQuick(config);
        config["model"] = startingModel(p, manifest).string();
        config["dataset_id"] = m_build.datasetId(p.dataset == "preference" ? "preference"
                : p.dataset == "sums"                                      ? "grpo_sums"
                                                                           : "target_train");
        const std::string inputs = sha256Hex(p.hash + config.dump());
        if (auto id = manifest.reusable(p.name, inputs, m_runs); id && !m_options.fresh) {
            say(p.name + ": reusing finished run " + std::to_string(*id));
            return { *id, true, {} };
        }
        const std::int64_t id = trainDemoRun(
            m_workspace, m_plugins, p.name, config, p.file.string(), m_options.threads, m_options.progress);
        manifest.recordRun(p.name, id, inputs);
        return { id, false, {} };
    }

    // The demo model, or for model_from the model of that preset's run (base + adapter, written once).
    fs::path startingModel(const Preset& p, const RunManifest& manifest)
    {
        if (p.modelFrom.empty())
            return m_build.modelDir();
        const std::int64_t from = manifest.runOf(p.modelFrom);
        const fs::path model = m_build.dir() / ("model-" + p.modelFrom + "-" + std::to_string(from));
        if (!fs::exists(model / "config.json")) {
            say(p.name + ": writing " + p.modelFrom + "'s model (base + adapter) to start from");
            exportMergedModel(m_build.modelDir(), m_workspace.runDir(from) / "adapter", model, m_plugins);
        }
        return model;
    }

    PresetRun runMerge(const Preset& p, RunManifest& manifest)
    {
        PresetRun run;
        std::string ids;
        for (const std::string& parent : p.parents) {
            run.parents.push_back(manifest.runOf(parent));
            if (!ids.empty())
                ids += ",";
            ids += std::to_string(run.parents.back());
        }
        const std::string inputs = sha256Hex(p.hash + ids);
        if (auto id = manifest.reusable(p.name, inputs, m_runs); id && !m_options.fresh) {
            say(p.name + ": reusing merged run " + std::to_string(*id));
            run.id = *id;
            run.reused = true;
            return run;
        }
        say(p.name + ": merging runs " + ids + " with " + p.method);
        run.id = mergeDemoRun(m_workspace, m_plugins, p, run.parents, m_options.progress);
        manifest.recordRun(p.name, run.id, inputs);
        return run;
    }

    // The reward and the groups' distinct-2 over the first and the last steps of a GRPO run: the completions
    // of the first steps are sampled from (nearly) the starting model, those of the last from the trained one.
    void readGrpoMetrics(std::int64_t runId, DemoRun& r) const
    {
        MetricQuery query(m_workspace.db());
        auto ends = [&](const std::string& name, std::optional<double>& before, std::optional<double>& after) {
            const auto series = query.series(runId, name);
            if (series.empty())
                return;
            const std::size_t k = std::clamp<std::size_t>(series.size() / 4, 1, 5);
            double first = 0, last = 0;
            for (std::size_t i = 0; i < k; ++i) {
                first += series[i].value;
                last += series[series.size() - 1 - i].value;
            }
            before = first / static_cast<double>(k);
            after = last / static_cast<double>(k);
        };
        ends("reward_mean", r.rewardBefore, r.rewardAfter);
        ends("distinct_2", r.groupDistinct2Before, r.groupDistinct2After);
    }

    // The run's row: what it is, and its measures (cached in the manifest with the run they came from).
    DemoRun row(const Preset& p, const PresetRun& run, RunManifest& manifest, DemoMeasures& measures)
    {
        const auto record = m_runs.find(run.id);
        if (!record)
            throw Error("run " + std::to_string(run.id) + " of preset '" + p.name + "' is not in the workspace");
        DemoRun r;
        r.name = p.name;
        r.group = p.group;
        r.seed = p.seed;
        r.runId = run.id;
        r.reused = run.reused;
        r.finding = p.finding;
        r.adapter = p.merge ? p.method : record->adapter;
        r.objective = record->objective;
        if (auto share = trainableShare(m_runs, run.id)) {
            r.trainableShare = *share;
        } else if (!run.parents.empty()) {
            // A merged run trained nothing itself: its parents' mean, and their objective.
            double sum = 0;
            for (std::int64_t id : run.parents)
                sum += trainableShare(m_runs, id).value_or(0);
            r.trainableShare = sum / static_cast<double>(run.parents.size());
            if (const auto first = m_runs.find(run.parents.front()))
                r.objective = first->objective;
        }
        const auto intruders = MetricQuery(m_workspace.db()).series(run.id, "weights/intruder_dimensions");
        if (!intruders.empty())
            r.intruderDimensions = intruders.back().value;

        const json config = json::parse(record->configJson, nullptr, false);
        // LoRA's rows (QLoRA's beside them): a merged run copies its parents' configuration but holds no base.
        if (!p.merge && record->adapter == "lora" && config.is_object() && config.contains("quantize_base")
            && config["quantize_base"].is_string()) {
            const std::string scheme = config["quantize_base"].get<std::string>();
            if (scheme != "none")
                r.quantizeBase = scheme;
            r.baseWeightMiB = static_cast<double>(measures.baseWeightBytes(scheme)) / (1024.0 * 1024.0);
        }
        readGrpoMetrics(run.id, r);

        const std::string key = measuresKey(run.id);
        // Measures cached before the demo had evaluation tasks are taken again.
        const auto cached = manifest.measures(p.name, key);
        if (cached && (!measures.hasEvaluationTasks() || cached->contains("evaluation"))) {
            measuresFromJson(*cached, r);
        } else {
            const auto start = Clock::now();
            measures.measure(*record, r);
            manifest.recordMeasures(p.name, measuresToJson(r, key, secondsSince(start)));
            std::ostringstream line;
            line << p.name << ": measured in " << std::fixed << std::setprecision(1) << secondsSince(start) << " s";
            say(line.str());
        }
        recordMeasureMetrics(m_workspace, run.id, r);
        return r;
    }

    const DemoOptions& m_options;
    const PluginRegistry& m_plugins;
    Workspace m_workspace;
    RunStore m_runs;
    DemoBuild m_build;
};

} // namespace

DemoResult runDemo(const DemoOptions& options, const PluginRegistry& plugins)
{
    Demo demo(options, plugins);
    return demo.run();
}

} // namespace tunebench::demo
