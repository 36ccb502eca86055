#include "core/pipeline/pipeline_evaluation.h"

#include "core/evaluation/evaluate.h"
#include "core/merge/validation_loss.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <cmath>

namespace tunebench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json resolvedConfig(const PipelineSpec& spec, std::size_t stage, const PluginRegistry& plugins)
{
    return stageRunConfig(spec, stage, spec.model, spec.stages[stage].dataset, "", plugins);
}

} // namespace

std::vector<MatrixColumn> matrixColumns(const PipelineSpec& spec, const PluginRegistry& plugins)
{
    std::vector<MatrixColumn> columns;
    for (const PipelineStage& stage : spec.stages) {
        const json config = resolvedConfig(spec, stage.index, plugins);
        const std::string tasksFile = config.value("evaluation_tasks", "");
        if (tasksFile.empty()) {
            columns.push_back({ stage.name, stage.index + 1, "eval_loss", false });
            continue;
        }
        const EvalTaskFile file = EvalTaskFile::load(tasksFile);
        for (const EvalTask& task : file.tasks) {
            std::string metric = task.kind == EvalTaskKind::MultipleChoice ? "acc"
                : task.kind == EvalTaskKind::Generation                    ? "exact_match"
                                                                           : "perplexity";
            columns.push_back({ stage.name + "/" + task.name, stage.index + 1, metric, !lowerIsBetter(metric) });
        }
    }
    return columns;
}

std::vector<double> evaluateRow(const PipelineSpec& spec, const PluginRegistry& plugins,
    const std::vector<PreparedStageData>& data, const fs::path& modelDir, const fs::path& adapterDir)
{
    const std::unique_ptr<CausalLM> model = loadCausalLM(modelDir);
    std::unique_ptr<Adapter> adapter;
    if (!adapterDir.empty())
        adapter = loadRunAdapter(adapterDir, *model, plugins, modelDir);
    std::unique_ptr<Tokenizer> tokenizer;
    std::vector<double> values;
    for (const PipelineStage& stage : spec.stages) {
        const json config = resolvedConfig(spec, stage.index, plugins);
        const std::string tasksFile = config.value("evaluation_tasks", "");
        if (tasksFile.empty()) {
            const DatasetRecords records = loadDatasetRecordsFrom(data.at(stage.index).heldOutFile.string(), nullptr);
            ValidationOptions o;
            o.cutoffLen = config.at("cutoff_len");
            o.trainOnPrompt = config.at("train_on_prompt");
            if (config.at("objective") == "sft")
                o.labelSmoothing = config.value("label_smoothing", 0.0);
            const ValidationSet set = encodeValidationSet(records, modelDir, o);
            values.push_back(validationLoss(*model, set, config.at("per_device_train_batch_size").get<std::int64_t>()));
            continue;
        }
        if (!tokenizer)
            tokenizer = std::make_unique<Tokenizer>(Tokenizer::fromFolder(modelDir));
        const EvalTaskFile file = EvalTaskFile::load(tasksFile);
        EvalOptions options;
        options.limit = config.value("evaluation_limit", std::int64_t(0));
        for (const EvalTaskResult& r : evaluateTasks(*model, *tokenizer, file, options))
            values.push_back(r.metrics.empty() ? NAN : r.metrics.front().second);
    }
    return values;
}

void writeMergedStageModel(
    const fs::path& modelDir, const fs::path& adapterDir, const fs::path& out, const PluginRegistry& plugins)
{
    std::error_code ec;
    const fs::path partial = out.string() + ".partial";
    fs::remove_all(partial, ec);
    exportMergedModel(modelDir, adapterDir, partial, plugins);
    fs::remove_all(out, ec);
    fs::rename(partial, out, ec);
    if (ec)
        throw Error("cannot move " + partial.string() + " to " + out.string() + ": " + ec.message());
}

} // namespace tunebench
