#pragma once

// One merge of runs (mergeRuns), as stages called in order. Each stage reads
// what the stages before it left in the job, so a test can run the first few
// and look at what they produced without merging anything. Every stage that
// can refuse the request runs before recordRun(): a refused merge leaves the
// workspace as it was.

#include "core/merge/merge_methods.h"
#include "core/merge/run_merge.h"
#include "core/merge/validation_loss.h"
#include "core/store/runs.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class PluginRegistry;
class Workspace;

class MergeJob {
public:
    // The job keeps references to all three: they must outlive it.
    MergeJob(Workspace& workspace, const PluginRegistry& plugins, const MergeRequest& request);
    ~MergeJob();

    // The method's parameters with defaults filled in, enough runs, one weight per run (InputError otherwise).
    void resolveParameters();
    // The parents: each named once, known, finished or stopped, with a saved adapter, all on one base model
    // (compared by canonical path). InputError naming the run otherwise.
    void checkParents();
    // The base model's weights and each parent's (base + its adapter folded in); InputError naming the run
    // whose adapter cannot be folded.
    void loadStates();
    // The request's eval dataset, else the parents' shared eval split when they have one (else a note why
    // not). greedy_soup without a validation set is refused here.
    void chooseValidationSet();
    // The merged weights (and greedy soup's ingredients and kept runs in details()).
    void merge();
    // The new run's row, running, with its lineage and configuration. From here on a failure is the run's:
    // call fail() with it.
    void recordRun();
    // The merged weights as the run's `full` adapter, written beside runs/<id>/adapter and renamed into place.
    void writeAdapter();
    // With a validation set: the merge's loss (measured on the adapter as saved), each parent's, and the
    // merge's eval_loss metric and event at the parents' last eval step.
    void measure();
    // Marks the run finished and writes the summary.
    void finish();
    // Marks the recorded run failed with the error.
    void fail(const std::string& error);

    // What the stages produced.
    const nlohmann::json& params() const { return m_params; }
    const std::vector<double>& weights() const { return m_weights; }
    const std::vector<RunRecord>& parents() const { return m_parents; }
    const StateDict& baseState() const { return m_baseState; }
    const std::vector<StateDict>& parentStates() const { return m_tuned; }
    const std::optional<ValidationSet>& validationSet() const { return m_validation; }
    const std::string& validationNote() const { return m_validationNote; }
    const StateDict& merged() const { return m_merged; }
    const nlohmann::json& details() const { return m_details; }
    const MergeOutcome& outcome() const { return m_outcome; }

private:
    void log(const std::string& line) const;
    // The validation loss of weights on the base model's architecture (one model, loaded when first needed).
    double evaluate(const StateDict& state);
    nlohmann::json parentLosses();
    std::int64_t parentsLastEvalStep() const;

    Workspace& m_workspace;
    const PluginRegistry& m_plugins;
    const MergeRequest& m_request;
    RunStore m_runs;

    nlohmann::json m_params;
    std::vector<double> m_weights;
    std::vector<RunRecord> m_parents;
    std::filesystem::path m_base;
    std::int64_t m_numLayers = 0;
    std::vector<std::string> m_names; // the model's parameter names in its order (the order written)
    StateDict m_baseState;
    std::vector<StateDict> m_tuned;
    std::vector<std::string> m_parentAdapters;
    std::optional<ValidationSet> m_validation;
    std::string m_validationNote; // why there is no validation set
    std::unique_ptr<CausalLM> m_evalModel;
    StateDict m_merged;
    nlohmann::json m_details = nlohmann::json::object();
    nlohmann::json m_parentIds = nlohmann::json::array();
    NewRun m_run;
    std::filesystem::path m_adapterDir;
    nlohmann::json m_parentLosses = nlohmann::json::object(); // run id -> validation loss
    MergeOutcome m_outcome;
};

} // namespace tunebench
