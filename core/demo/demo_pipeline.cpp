#include "core/demo/demo_pipeline.h"

#include "core/demo/demo.h"
#include "core/demo/demo_build.h"
#include "core/demo/demo_runs.h"
#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_data.h"
#include "core/pipeline/pipeline_evaluation.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/pipeline/pipeline_store.h"
#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The pipeline file: LoRA stages on the demo model (the LoRA preset's settings), each stage's adapter folded
// into the model the next starts from. Quick mode trains each stage a few steps.
json pipelineDocument(const DemoBuild& build, bool quick)
{
    const std::int64_t factSteps = quick ? 4 : 40;
    const std::int64_t cardSteps = quick ? 4 : 40;
    const json base = { { "model", build.modelDir().string() },
        { "adapter", { { "type", "lora" }, { "r", 8 }, { "lora_alpha", 16 }, { "target_modules", "all-linear" } } },
        { "objective", "sft" },
        { "training",
            { { "learning_rate", 2.0e-3 }, { "per_device_train_batch_size", 8 }, { "lr_scheduler_type", "cosine" },
                { "warmup_steps", 2 }, { "seed", 42 }, { "cutoff_len", 128 }, { "save_total_limit", 1 } } } };
    return { { "name", quick ? "demo-facts-then-cards-quick" : "demo-facts-then-cards" }, { "base", base },
        { "held_out", 0.15 },
        { "stages",
            json::array({ { { "name", "facts" }, { "objective", "clm" }, { "dataset", build.newFactsFile().string() },
                              { "training", { { "max_steps", factSteps } } } },
                { { "name", "cards" }, { "from", "previous" }, { "merge", true },
                    { "dataset", (build.dataDir() / "target_train.jsonl").string() },
                    { "training", { { "max_steps", cardSteps } } } } }) } };
}

json measuresJson(const ForgettingMatrix& m)
{
    json out = json::array();
    auto opt = [](const std::optional<double>& v) { return v ? json(*v) : json(); };
    for (const ContinualMeasures& r : continualMeasures(m))
        out.push_back({ { "direction", r.higherIsBetter ? "max" : "min" }, { "after_stage", r.afterStage },
            { "average", r.average }, { "bwt", opt(r.bwt) }, { "forgetting", opt(r.forgetting) },
            { "fwt", opt(r.fwt) } });
    return out;
}

} // namespace

DemoPipeline runDemoPipeline(
    Workspace& workspace, const PluginRegistry& plugins, const DemoBuild& build, const DemoOptions& options)
{
    auto say = [&](const std::string& line) {
        if (options.progress)
            options.progress("pipeline: " + line);
    };
    const fs::path file = build.dir() / "pipeline.yaml";
    // JSON is YAML: the file `tunebench-cli pipeline` reads.
    writeTextFile(file, pipelineDocument(build, options.quick).dump(2) + "\n");
    const PipelineSpec spec = PipelineSpec::readFile(file);
    checkStages(spec, plugins);
    const std::vector<MatrixColumn> columns = matrixColumns(spec, plugins);

    PipelineStore store(workspace.db());
    RunStore runs(workspace.db());
    const std::string canonical = spec.canonicalJson().dump();
    DemoPipeline out;
    out.name = spec.name;
    out.file = file;
    {
        Database::Transaction tx(workspace.db());
        if (const auto found = store.findByConfig(canonical)) {
            out.id = found->id;
            out.reused = found->status == "finished" && !options.fresh;
        } else {
            std::vector<std::string> names;
            for (const PipelineStage& s : spec.stages)
                names.push_back(s.name);
            out.id = store.create(spec.name, file.string(), canonical, names);
        }
        tx.commit();
    }
    if (!out.reused) {
        say("pipeline " + std::to_string(out.id) + " (" + file.string() + "): " + spec.stages[0].name + " (clm) then "
            + spec.stages[1].name);
        store.setStatus(out.id, "running");
        const fs::path folder = workspace.root() / "pipelines" / std::to_string(out.id);
        const std::vector<PreparedStageData> data = preparePipelineData(spec, plugins, &workspace, folder);
        const std::vector<std::int64_t> done = store.rows(out.id);
        auto saveRow = [&](std::int64_t row, const std::vector<double>& values, std::optional<std::size_t> stage) {
            Database::Transaction tx(workspace.db());
            store.saveRow(out.id, row, columns, values);
            if (stage)
                store.setStageStatus(out.id, static_cast<std::int64_t>(*stage), "finished");
            tx.commit();
        };
        if (std::find(done.begin(), done.end(), 0) == done.end() || options.fresh)
            saveRow(0, evaluateRow(spec, plugins, data, spec.model, {}), std::nullopt);
        std::optional<std::int64_t> previous;
        std::string previousModel;
        for (std::size_t k = 0; k < spec.stages.size(); ++k) {
            const PipelineStage& s = spec.stages[k];
            const auto record = store.stages(out.id).at(k);
            const auto run = record.runId ? runs.find(*record.runId) : std::nullopt;
            if (!options.fresh && record.status == "finished" && run && run->status == RunStatus::Finished) {
                say(s.name + ": reusing finished run " + std::to_string(run->id));
                previous = run->id;
                previousModel = run->modelPath.empty() ? record.modelPath : run->modelPath;
                continue;
            }
            std::string model = spec.model;
            if (previous) {
                // merge: true, as the file says: the previous stage's adapter folded into a new model folder.
                const fs::path merged = folder / ("stage-" + std::to_string(k + 1)) / "model";
                if (!fs::exists(merged / "config.json") || options.fresh) {
                    fs::remove_all(merged);
                    writeMergedStageModel(previousModel, workspace.runDir(*previous) / "adapter", merged, plugins);
                }
                model = merged.string();
            }
            const json config = stageRunConfig(spec, k, model, data.at(k).trainFile.string(), "", plugins);
            const std::int64_t id = trainDemoRun(
                workspace, plugins, "pipeline-" + s.name, config, file.string(), options.threads, options.progress);
            store.setStageRun(out.id, static_cast<std::int64_t>(k), id, previous, model);
            say(s.name + ": evaluating every stage's held-out loss");
            saveRow(static_cast<std::int64_t>(k + 1),
                evaluateRow(spec, plugins, data, model, workspace.runDir(id) / "adapter"), k);
            previous = id;
            previousModel = model;
        }
        store.setStatus(out.id, "finished");
    } else {
        say("reusing finished pipeline " + std::to_string(out.id));
    }
    for (const auto& st : store.stages(out.id)) {
        out.stages.push_back(st.name);
        out.runIds.push_back(st.runId.value_or(0));
    }
    const ForgettingMatrix m = store.matrix(out.id);
    for (const MatrixColumn& c : m.columns)
        out.columns.push_back(c.name + " " + c.metric);
    out.rows = m.rows;
    out.measures = measuresJson(m);
    return out;
}

} // namespace tunebench::demo
