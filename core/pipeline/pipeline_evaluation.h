#pragma once

// What a pipeline measures after each stage for its forgetting matrix, and how one stage's result becomes the
// next stage's model.

#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_data.h"

#include <filesystem>
#include <vector>

namespace tunebench {

class PluginRegistry;
struct PipelineSpec;

// The matrix's columns, stage by stage: each task of the stage's evaluation tasks file with the task's first
// metric (acc, exact_match, perplexity), or else the stage's held-out loss (eval_loss: token-weighted next-token
// cross-entropy over the trained tokens, encoded as the stage's run encodes them).
std::vector<MatrixColumn> matrixColumns(const PipelineSpec& spec, const PluginRegistry& plugins);

// One row of the matrix: every column evaluated on the model in modelDir with the run adapter in adapterDir
// (none when empty).
std::vector<double> evaluateRow(const PipelineSpec& spec, const PluginRegistry& plugins,
    const std::vector<PreparedStageData>& data, const std::filesystem::path& modelDir,
    const std::filesystem::path& adapterDir);

// The model in modelDir with the run adapter in adapterDir folded in, written as a model folder at `out`
// (under a temporary name first, so `out` is whole or absent). Throws InputError for an adapter that cannot be
// folded into weights (prompt and prefix tuning).
void writeMergedStageModel(const std::filesystem::path& modelDir, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins);

} // namespace tunebench
