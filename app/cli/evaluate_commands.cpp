#include "command_line.h"
#include "commands.h"

#include "core/evaluation/evaluate.h"
#include "core/method/adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/runtime.h"
#include "core/store/batch_writer.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

int evaluateCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli evaluate --workspace DIR --run ID | --model DIR  --tasks FILE.yaml\n"
                   "                       [--limit N] [--seed S] [--threads N]",
        "Evaluates a run's model (its base model with the run's adapter) or a model folder on the tasks\n"
        "of a tasks file (multiple_choice: acc and acc_norm; generation: exact_match; perplexity:\n"
        "perplexity and bits_per_byte; see docs/architecture.md, \"Evaluation tasks\") and prints one\n"
        "JSON object {\"tasks\": {NAME: {\"n\": ..., METRIC: ...}}}. With --run the results are stored as\n"
        "the run's metrics eval/<task>/<metric> at its last step, the base model's as\n"
        "eval_base/<task>/<metric> at step 0 and their difference as eval_delta/<task>/<metric>; the\n"
        "base model is evaluated once per tasks file, limit and seed and cached in the workspace, and the\n"
        "printed object has its results under \"base\".",
        {},
        { { "workspace", "DIR", "the workspace folder (with --run)", false, "TUNEBENCH_WORKSPACE" },
            { "run", "ID", "a run whose adapter is evaluated" }, { "model", "DIR", "a model folder to evaluate" },
            { "tasks", "FILE", "the tasks file (YAML)", true },
            { "limit", "N", "the first N records of each task (default: all)" },
            { "seed", "S", "seed of the few-shot draws (default 1234)" },
            { "threads", "N", "intra-op threads (default: one per core)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    if (cl.has("run") == cl.has("model"))
        throw UsageError("give one of --run ID or --model DIR");
    EvalOptions options;
    if (auto v = cl.value("limit")) {
        options.limit = cl.integer("--limit", *v);
        if (options.limit < 1)
            throw UsageError("--limit must be at least 1");
    }
    if (auto v = cl.value("seed")) {
        const std::int64_t seed = cl.integer("--seed", *v);
        if (seed < 0)
            throw UsageError("--seed must be 0 or more");
        options.seed = static_cast<std::uint64_t>(seed);
    }
    if (auto v = cl.value("threads")) {
        const std::int64_t threads = cl.integer("--threads", *v);
        if (threads < 1)
            throw UsageError("--threads must be at least 1");
        configureThreads(static_cast<int>(threads));
    }
    const EvalTaskFile tasks = EvalTaskFile::load(cl.required("tasks"));

    if (auto modelDir = cl.value("model")) {
        const std::unique_ptr<CausalLM> model = loadCausalLM(*modelDir);
        const Tokenizer tokenizer = Tokenizer::fromFolder(*modelDir);
        std::cout << evaluationJson(evaluateTasks(*model, tokenizer, tasks, options)).dump() << "\n";
        return 0;
    }

    if (!cl.has("workspace"))
        throw UsageError("--run needs --workspace DIR (or TUNEBENCH_WORKSPACE)");
    const std::int64_t runId = cl.integer("--run", *cl.value("run"));
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("store evaluation results");
    RunStore runs(ws.db());
    const auto run = runs.find(runId);
    if (!run)
        throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
    const fs::path adapterDir = ws.runDir(runId) / "adapter";
    if (!RunAdapterFiles::exists(adapterDir))
        throw InputError("run " + std::to_string(runId) + " has no saved adapter in " + adapterDir.string()
            + " (it has not finished a training)");
    // The run's base model: its column, else the folder its adapter was saved with.
    const fs::path modelDir = run->modelPath.empty() ? RunAdapterFiles::read(adapterDir).model : run->modelPath;
    if (modelDir.empty())
        throw InputError("run " + std::to_string(runId) + " records no base model folder");
    const std::unique_ptr<CausalLM> model = loadCausalLM(modelDir);
    const Tokenizer tokenizer = Tokenizer::fromFolder(modelDir);

    // The base model first, before the adapter attaches to the same model.
    const std::string key = evaluationCacheKey(modelDir, tasks, options);
    std::optional<nlohmann::json> base = loadCachedEvaluation(ws.root(), key);
    const bool baseCached = base.has_value();
    if (!base) {
        base = evaluationJson(evaluateTasks(*model, tokenizer, tasks, options));
        storeCachedEvaluation(ws.root(), key, *base);
    }
    const std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *model, defaultPluginRegistry(), modelDir);
    const nlohmann::json tuned = evaluationJson(evaluateTasks(*model, tokenizer, tasks, options));

    // The tuned numbers belong at the run's last recorded step, beside its final losses.
    std::int64_t step = 0;
    for (const MetricSummary& m : MetricQuery(ws.db()).summary(runId))
        step = std::max(step, m.lastStep);
    BatchWriter writer(ws.db());
    writeEvaluationMetrics(writer, runId, 0, "eval_base", *base);
    writeEvaluationMetrics(writer, runId, step, "eval", tuned);
    writeEvaluationDeltas(writer, runId, step, tuned, *base);
    writer.addEvent(runId, "evaluation",
        nlohmann::json({ { "event", "evaluation" }, { "step", step }, { "tasks_file", tasks.path },
                           { "limit", options.limit }, { "seed", options.seed }, { "values", tuned["tasks"] },
                           { "base", (*base)["tasks"] }, { "base_cached", baseCached } })
            .dump());
    writer.flush();

    nlohmann::json out = tuned;
    out["base"] = (*base)["tasks"];
    out["base_cached"] = baseCached;
    out["run"] = runId;
    out["step"] = step;
    std::cout << out.dump() << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "evaluate" }, "evaluate a run or a model folder on evaluation tasks (multiple choice, generation, perplexity)",
        evaluateCommand },
} };

} // namespace

} // namespace tunebench::cli
