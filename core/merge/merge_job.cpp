#include "core/merge/merge_job.h"

#include "core/method/adapter_fold.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/model/safetensors.h"
#include "core/store/batch_writer.h"
#include "core/store/metrics.h"
#include "core/store/workspace.h"
#include "core/train/batching.h"
#include "core/train/run_adapter.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "core/util/text.h"

#include <fstream>
#include <set>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string runLabel(const RunRecord& r)
{
    return "run " + std::to_string(r.id) + " ('" + r.name + "')";
}

fs::path canonicalOrAsGiven(const std::string& p)
{
    std::error_code ec;
    const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
    return ec ? fs::path(p) : c;
}

// Every name, in the model's order, with its merged tensor.
NamedTensors ordered(const std::vector<std::string>& names, const StateDict& state)
{
    NamedTensors out;
    for (const std::string& n : names)
        out.emplace_back(n, state.at(n).contiguous());
    return out;
}

// The parents' trainer settings that shape a validation set; nullopt when a config does not parse.
std::optional<TrainConfig> configOf(const RunRecord& r, const PluginRegistry& plugins)
{
    try {
        return TrainConfig::fromJson(
            nlohmann::json::parse(r.configJson), plugins, "run " + std::to_string(r.id) + " configuration");
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

ValidationOptions validationOptionsOf(const TrainConfig& c)
{
    ValidationOptions o;
    o.cutoffLen = c.cutoffLen;
    o.trainOnPrompt = c.trainOnPrompt;
    if (c.objective == "sft")
        o.labelSmoothing = c.objectiveParams.value("label_smoothing", 0.0);
    return o;
}

struct SharedSplit {
    std::optional<ValidationSet> set;
    std::string note; // why there is none
};

// Why the parents have no eval split in common; empty when they have one.
std::string whyNoSharedSplit(
    const std::vector<RunRecord>& parents, const std::vector<std::optional<TrainConfig>>& configs)
{
    const std::optional<TrainConfig>& first = configs.front();
    for (std::size_t i = 0; i < parents.size(); ++i) {
        const std::optional<TrainConfig>& c = configs[i];
        if (!c)
            return runLabel(parents[i]) + " has no training configuration to take an eval split from";
        if (c->objective != "sft")
            return runLabel(parents[i]) + " trained with objective " + c->objective
                + "; the eval loss of a merge is measured for sft runs";
        if (!(c->valSize > 0))
            return runLabel(parents[i]) + " held out no eval split (val_size 0)";
        if (c->dataset != first->dataset || c->datasetId != first->datasetId || c->valSize != first->valSize
            || c->seed != first->seed || c->cutoffLen != first->cutoffLen || c->trainOnPrompt != first->trainOnPrompt
            || validationOptionsOf(*c).labelSmoothing != validationOptionsOf(*first).labelSmoothing)
            return runLabel(parents[i]) + " and " + runLabel(parents.front())
                + " evaluated on different splits (dataset, val_size, seed, cutoff_len or train_on_prompt differ)";
    }
    return {};
}

// The eval split every parent evaluated on while training, when they share one.
SharedSplit sharedEvalSplit(const std::vector<RunRecord>& parents,
    const std::vector<std::optional<TrainConfig>>& configs, Workspace& ws, const fs::path& base)
{
    if (std::string why = whyNoSharedSplit(parents, configs); !why.empty())
        return { std::nullopt, why };
    const TrainConfig& first = *configs.front();
    const std::string source = first.datasetId ? std::to_string(*first.datasetId) : first.dataset;
    try {
        const DatasetRecords data = loadDatasetRecordsFrom(source, &ws);
        ValidationOptions o = validationOptionsOf(first);
        o.subset = splitTrainEval(static_cast<std::int64_t>(data.records.size()), first.valSize, first.seed).second;
        ValidationSet set = encodeValidationSet(data, base, o);
        set.origin = data.origin + " (eval split: val_size " + formatNumber(first.valSize) + ", seed "
            + std::to_string(first.seed) + ")";
        return { std::move(set), {} };
    } catch (const InputError& e) {
        return { std::nullopt, std::string("the parents' eval split cannot be read: ") + e.what() };
    }
}

} // namespace

MergeJob::MergeJob(Workspace& workspace, const PluginRegistry& plugins, const MergeRequest& request)
    : m_workspace(workspace)
    , m_plugins(plugins)
    , m_request(request)
    , m_runs(workspace.db())
{ }

MergeJob::~MergeJob() = default;

void MergeJob::log(const std::string& line) const
{
    if (m_request.log)
        m_request.log(line);
}

void MergeJob::resolveParameters()
{
    m_params = resolveMergeParameters(m_request.method, m_request.params);
    const std::size_t minimum = minimumRunsToMerge(m_request.method);
    if (m_request.runIds.size() < minimum)
        throw InputError("merge method " + m_request.method + " needs at least " + std::to_string(minimum)
            + " runs, got " + std::to_string(m_request.runIds.size()));
    if (m_params.contains("weights") && m_params["weights"].is_array()) {
        m_weights = m_params["weights"].get<std::vector<double>>();
        if (m_weights.size() != m_request.runIds.size())
            throw InputError("merge parameter 'weights': " + std::to_string(m_weights.size()) + " weights for "
                + std::to_string(m_request.runIds.size()) + " runs; give one weight per run");
    }
}

void MergeJob::checkParents()
{
    std::set<std::int64_t> seen;
    for (std::int64_t id : m_request.runIds) {
        if (!seen.insert(id).second)
            throw InputError("run " + std::to_string(id) + " is named twice; name each run once");
        auto run = m_runs.find(id);
        if (!run)
            throw InputError("no run with id " + std::to_string(id) + " in workspace " + m_workspace.root().string());
        if (run->status != RunStatus::Finished && run->status != RunStatus::Cancelled)
            throw InputError(runLabel(*run) + " is " + std::string(toString(run->status))
                + "; only runs that finished training (or were stopped) can be merged");
        const fs::path adapterDir = m_workspace.runDir(id) / "adapter";
        if (!RunAdapterFiles::exists(adapterDir))
            throw InputError(runLabel(*run) + " has no saved adapter in " + adapterDir.string());
        m_parents.push_back(std::move(*run));
    }
    const RunRecord& first = m_parents.front();
    for (const RunRecord& r : m_parents) {
        if (canonicalOrAsGiven(r.modelPath) != canonicalOrAsGiven(first.modelPath))
            throw InputError("runs to merge must share one base model: " + runLabel(first) + " was trained on "
                + first.modelPath + ", " + runLabel(r) + " on " + r.modelPath);
    }
    m_base = first.modelPath;
}

void MergeJob::loadStates()
{
    log("loading base model " + m_base.string());
    const std::unique_ptr<CausalLM> baseModel = loadCausalLM(m_base);
    m_numLayers = baseModel->config().numLayers;
    for (const auto& [name, tensor] : baseModel->namedParameters()) {
        m_names.push_back(name);
        m_baseState[name] = tensor.detach();
    }
    for (const RunRecord& r : m_parents) {
        log("loading " + runLabel(r) + " (adapter " + r.adapter + ")");
        const std::unique_ptr<CausalLM> model = loadCausalLM(m_base);
        const std::unique_ptr<Adapter> adapter
            = loadRunAdapter(m_workspace.runDir(r.id) / "adapter", *model, m_plugins, m_base);
        foldAdapterIntoWeights(*adapter, *model, runLabel(r) + " cannot be merged: its adapter (" + r.adapter + ")");
        StateDict state;
        for (const auto& [name, tensor] : model->namedParameters())
            state[name] = tensor.detach().clone();
        m_tuned.push_back(std::move(state));
        m_parentAdapters.push_back(r.adapter);
    }
}

void MergeJob::chooseValidationSet()
{
    std::vector<std::optional<TrainConfig>> configs;
    for (const RunRecord& r : m_parents)
        configs.push_back(configOf(r, m_plugins));
    if (!m_request.evalDataset.empty()) {
        const ValidationOptions o = configs.front() ? validationOptionsOf(*configs.front()) : ValidationOptions {};
        m_validation = encodeValidationSet(loadDatasetRecordsFrom(m_request.evalDataset, &m_workspace), m_base, o);
    } else {
        SharedSplit split = sharedEvalSplit(m_parents, configs, m_workspace, m_base);
        m_validation = std::move(split.set);
        m_validationNote = split.note;
    }
    if (m_request.method == "greedy_soup" && !m_validation)
        throw InputError("greedy_soup chooses its ingredients by validation loss: give --eval-dataset FILE|ID ("
            + m_validationNote + ")");
}

double MergeJob::evaluate(const StateDict& state)
{
    if (!m_evalModel)
        m_evalModel = loadCausalLM(m_base);
    for (const auto& [name, tensor] : state)
        m_evalModel->setParameter(name, tensor);
    return validationLoss(*m_evalModel, *m_validation);
}

void MergeJob::merge()
{
    const std::string& m = m_request.method;
    log("merging " + std::to_string(m_parents.size()) + (m_parents.size() == 1 ? " run" : " runs") + " with " + m);
    const auto param = [this](const char* key) { return m_params[key].get<double>(); };
    if (m == "soup") {
        m_merged = uniformSoup(m_tuned, m_weights);
    } else if (m == "greedy_soup") {
        const GreedySoupResult r = greedySoup(m_tuned, [this](const StateDict& s) { return evaluate(s); });
        m_merged = r.merged;
        nlohmann::json steps = nlohmann::json::array();
        for (const GreedySoupStep& s : r.steps)
            steps.push_back({ { "run_id", m_parents[s.ingredient].id }, { "loss", s.ingredientLoss },
                { "soup_loss", s.soupLoss }, { "kept", s.kept } });
        nlohmann::json kept = nlohmann::json::array();
        for (std::size_t i : r.kept)
            kept.push_back(m_parents[i].id);
        m_details["ingredients"] = steps;
        m_details["kept"] = kept;
    } else if (m == "task_arithmetic") {
        m_merged = taskArithmetic(m_baseState, m_tuned, param("scaling"), m_weights);
    } else if (m == "ties") {
        m_merged = ties(m_baseState, m_tuned, param("density"), param("scaling"), m_weights);
    } else if (m == "breadcrumbs") {
        m_merged = breadcrumbs(m_baseState, m_tuned, param("beta"), param("gamma"), param("scaling"), m_weights);
    } else {
        m_merged = lines(m_baseState, m_tuned, m_numLayers, param("alpha"), param("beta"), m_weights);
    }
}

void MergeJob::recordRun()
{
    const std::string& m = m_request.method;
    std::string idList;
    bool sameObjective = true;
    for (const RunRecord& r : m_parents) {
        m_parentIds.push_back(r.id);
        idList += (idList.empty() ? "" : "-") + std::to_string(r.id);
        sameObjective = sameObjective && r.objective == m_parents.front().objective;
    }
    nlohmann::json lineage = { { "operation", "merge" }, { "method", m }, { "params", m_params },
        { "parents", m_parentIds }, { "parent_adapters", m_parentAdapters }, { "base_model", m_base.string() } };
    for (const auto& [key, value] : m_details.items())
        lineage[key] = value;
    lineage["eval_set"] = m_validation ? nlohmann::json(m_validation->origin) : nlohmann::json(nullptr);
    m_run.name = m_request.name.empty() ? "merge-" + m + "-" + idList : m_request.name;
    m_run.adapter = "full";
    m_run.objective = sameObjective ? m_parents.front().objective : "merge";
    m_run.modelPath = m_parents.front().modelPath;
    m_run.parentRunId = m_parents.front().id;
    m_run.lineageJson = lineage.dump();
    m_run.configJson = nlohmann::json(
        { { "name", m_run.name }, { "model", m_run.modelPath }, { "adapter", "full" }, { "objective", m_run.objective },
            { "merge", { { "method", m }, { "params", m_params }, { "parents", m_parentIds } } } })
                           .dump();
    m_outcome.runId = m_runs.create(m_run);
    m_runs.setStatus(m_outcome.runId, RunStatus::Running);
    m_outcome.lineage = lineage;
    m_adapterDir = m_workspace.runDir(m_outcome.runId) / "adapter";
}

void MergeJob::writeAdapter()
{
    const NamedTensors tensors = ordered(m_names, m_merged);
    RunAdapterFiles files { "full", nlohmann::json::object(), 0, m_run.modelPath,
        AdapterState(tensors.begin(), tensors.end()), { { "merge", m_outcome.lineage } } };
    files.write(m_adapterDir);
    m_runs.addEvent(
        m_outcome.runId, "merged", nlohmann::json({ { "event", "merged" }, { "lineage", m_outcome.lineage } }).dump());
}

nlohmann::json MergeJob::parentLosses()
{
    nlohmann::json losses = nlohmann::json::object();
    for (std::size_t i = 0; i < m_parents.size(); ++i) {
        std::optional<double> known; // greedy soup measured its ingredients already
        for (const auto& step : m_details.value("ingredients", nlohmann::json::array())) {
            if (step["run_id"] == m_parents[i].id)
                known = step["loss"].get<double>();
        }
        losses[std::to_string(m_parents[i].id)] = known ? *known : evaluate(m_tuned[i]);
    }
    return losses;
}

std::int64_t MergeJob::parentsLastEvalStep() const
{
    std::int64_t step = 0;
    for (const RunRecord& r : m_parents) {
        for (const MetricSummary& s : MetricQuery(m_workspace.db()).summary(r.id)) {
            if (s.name == "eval_loss")
                step = std::max(step, s.lastStep);
        }
    }
    return step;
}

void MergeJob::measure()
{
    if (!m_validation)
        return;
    // Measured on the run as saved (loaded back like any run), so what is logged is what others load.
    log("measuring validation loss on " + m_validation->origin);
    {
        const std::unique_ptr<CausalLM> model = loadCausalLM(m_base);
        const std::unique_ptr<Adapter> adapter = loadRunAdapter(m_adapterDir, *model, m_plugins, m_base);
        m_outcome.evalLoss = validationLoss(*model, *m_validation);
    }
    m_parentLosses = parentLosses();
    // At the parents' last eval step, so Compare puts the merge beside where they ended.
    const std::int64_t step = parentsLastEvalStep();
    BatchWriter writer(m_workspace.db());
    writer.addMetric(m_outcome.runId, step, "eval_loss", *m_outcome.evalLoss);
    writer.addEvent(m_outcome.runId, "eval",
        nlohmann::json({ { "event", "eval" }, { "step", step }, { "eval_loss", *m_outcome.evalLoss },
                           { "eval_set", m_validation->origin } })
            .dump());
    writer.flush();
}

void MergeJob::finish()
{
    m_runs.setStatus(m_outcome.runId, RunStatus::Finished);
    nlohmann::json& s = m_outcome.summary;
    s = { { "run_id", m_outcome.runId }, { "name", m_run.name }, { "method", m_request.method },
        { "parents", m_parentIds }, { "params", m_params }, { "base_model", m_run.modelPath },
        { "adapter_dir", m_adapterDir.string() },
        { "eval_loss", m_outcome.evalLoss ? nlohmann::json(*m_outcome.evalLoss) : nlohmann::json(nullptr) },
        { "eval_set", m_validation ? nlohmann::json(m_validation->origin) : nlohmann::json(nullptr) } };
    if (m_validation)
        s["parent_eval_loss"] = m_parentLosses;
    else
        s["eval_note"] = m_validationNote;
    for (const auto& [key, value] : m_details.items())
        s[key] = value;
}

void MergeJob::fail(const std::string& error)
{
    if (m_outcome.runId)
        m_runs.setStatus(m_outcome.runId, RunStatus::Failed, error);
}

} // namespace tunebench
