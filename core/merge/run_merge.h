#pragma once

// Merging finished runs into a new run: each parent's model (base + its
// adapter, folded into full weights), merged by one of merge_methods.h, saved
// as a run adapter of the `full` plugin (runs/<id>/adapter), so everything
// that takes a run (loadRunAdapter, export --format merged, measures) takes
// the merged run unchanged.

#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class PluginRegistry;
class Workspace;

// soup, greedy_soup, task_arithmetic, ties, breadcrumbs, lines.
const std::vector<std::string>& mergeMethods();

// The parameters a method takes with their defaults filled in, checked:
//   soup             weights
//   greedy_soup      (none; ingredients by validation loss)
//   task_arithmetic  weights, scaling (1.0)
//   ties             weights, scaling (1.0), density (0.2)
//   breadcrumbs      weights, scaling (1.0), beta (0.01), gamma (0.85)
//   lines            weights, alpha (0.5), beta (0.5)
// `given` holds numbers (weights: an array). Throws InputError naming the
// method and the parameter: an unknown method, a parameter the method does
// not take, a value out of range.
nlohmann::json resolveMergeParameters(const std::string& method, const nlohmann::json& given);

// How many runs a method merges at least (soups 2, the others 1: LiNeS and
// task arithmetic work on one run). Throws InputError for an unknown method.
std::size_t minimumRunsToMerge(const std::string& method);

struct MergeRequest {
    std::vector<std::int64_t> runIds;
    std::string method;
    nlohmann::json params = nlohmann::json::object(); // as for resolveMergeParameters
    std::string name; // empty: "merge-<method>-<ids>"
    // A dataset file or workspace dataset id to measure validation loss on
    // (greedy soup's choice, the merged run's eval_loss). Empty: the parents'
    // shared eval split (same dataset, val_size, seed, cutoff_len, sft) when
    // they have one.
    std::string evalDataset;
    // Progress lines for the user (stderr in the CLI); may be empty.
    std::function<void(const std::string&)> log;
};

struct MergeOutcome {
    std::int64_t runId = 0;
    nlohmann::json lineage; // what the new run's row records
    std::optional<double> evalLoss;
    // One JSON object describing the merge: run_id, method, parents, params,
    // base_model, adapter_dir, eval_loss, eval_set (and greedy soup's steps).
    nlohmann::json summary;
};

// Merges the runs and records the result as a new finished run (adapter
// "full", parent_run_id the first parent, lineage naming method, parameters,
// parents and base model), then logs its eval_loss when a validation set is
// known. Throws InputError before anything is written when a run is unknown,
// unfinished or without a saved adapter, when the runs' base models differ
// (naming both paths), when an adapter cannot be folded into weights (naming
// the run), or for bad parameters. A failure while writing marks the new run
// failed with the error. The stages are MergeJob's (merge_job.h).
MergeOutcome mergeRuns(Workspace& workspace, const PluginRegistry& plugins, const MergeRequest& request);

} // namespace tunebench
