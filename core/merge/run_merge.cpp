#include "core/merge/run_merge.h"

#include "core/merge/merge_methods.h"
#include "core/merge/validation_loss.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_loader.h"
#include "core/model/safetensors.h"
#include "core/store/batch_writer.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/batching.h"
#include "core/train/run_adapter.h"
#include "core/train/train_config.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

struct MergeParameterSpec {
    const char* name;
    double defaultValue;
    double minimum;
    double maximum;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

struct MethodSpec {
    bool weights;
    std::vector<MergeParameterSpec> parameters;
    std::size_t minimumRuns;
};

const std::map<std::string, MethodSpec>& methodSpecs()
{
    static const std::map<std::string, MethodSpec> specs = {
        { "soup", { true, {}, 2 } },
        { "greedy_soup", { false, {}, 2 } },
        { "task_arithmetic", { true, { { "scaling", 1.0, -kInf, kInf } }, 1 } },
        { "ties", { true, { { "scaling", 1.0, -kInf, kInf }, { "density", 0.2, 0.0, 1.0 } }, 1 } },
        { "breadcrumbs",
            { true, { { "scaling", 1.0, -kInf, kInf }, { "beta", 0.01, 0.0, 1.0 }, { "gamma", 0.85, 0.0, 1.0 } }, 1 } },
        { "lines", { true, { { "alpha", 0.5, -kInf, kInf }, { "beta", 0.5, -kInf, kInf } }, 1 } },
    };
    return specs;
}

std::string num(double v)
{
    std::ostringstream out;
    out << v;
    return out.str();
}

std::string methodList()
{
    std::string out;
    for (const std::string& m : mergeMethods())
        out += (out.empty() ? "" : ", ") + m;
    return out;
}

// Every name, in the model's order, with its merged tensor.
NamedTensors ordered(const std::vector<std::string>& names, const StateDict& state)
{
    NamedTensors out;
    for (const std::string& n : names)
        out.emplace_back(n, state.at(n).contiguous());
    return out;
}

std::string runLabel(const RunRecord& r)
{
    return "run " + std::to_string(r.id) + " ('" + r.name + "')";
}

struct SharedSplit {
    std::optional<ValidationSet> set;
    std::string note; // why there is none
};

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

// The eval split every parent evaluated on while training, when they share one.
SharedSplit sharedEvalSplit(const std::vector<RunRecord>& parents,
    const std::vector<std::optional<TrainConfig>>& configs, Workspace& ws, const fs::path& base)
{
    const std::optional<TrainConfig>& first = configs.front();
    if (!first)
        return { std::nullopt,
            runLabel(parents.front()) + " has no training configuration to take an eval split from" };
    for (std::size_t i = 0; i < parents.size(); ++i) {
        const std::optional<TrainConfig>& c = configs[i];
        if (!c)
            return { std::nullopt, runLabel(parents[i]) + " has no training configuration to take an eval split from" };
        if (c->objective != "sft")
            return { std::nullopt,
                runLabel(parents[i]) + " trained with objective " + c->objective
                    + "; the eval loss of a merge is measured for sft runs" };
        if (!(c->valSize > 0))
            return { std::nullopt, runLabel(parents[i]) + " held out no eval split (val_size 0)" };
        if (c->dataset != first->dataset || c->datasetId != first->datasetId || c->valSize != first->valSize
            || c->seed != first->seed || c->cutoffLen != first->cutoffLen || c->trainOnPrompt != first->trainOnPrompt
            || validationOptionsOf(*c).labelSmoothing != validationOptionsOf(*first).labelSmoothing)
            return {
                std::nullopt,
                runLabel(parents[i]) + " and " + runLabel(parents.front())
                    + " evaluated on different splits (dataset, val_size, seed, cutoff_len or train_on_prompt differ)"
            };
    }
    const std::string source = first->datasetId ? std::to_string(*first->datasetId) : first->dataset;
    try {
        const DatasetRecords data = loadDatasetRecordsFrom(source, &ws);
        ValidationOptions o = validationOptionsOf(*first);
        o.subset = splitTrainEval(static_cast<std::int64_t>(data.records.size()), first->valSize, first->seed).second;
        ValidationSet set = encodeValidationSet(data, base, o);
        set.origin = data.origin + " (eval split: val_size " + num(first->valSize) + ", seed "
            + std::to_string(first->seed) + ")";
        return { std::move(set), {} };
    } catch (const InputError& e) {
        return { std::nullopt, std::string("the parents' eval split cannot be read: ") + e.what() };
    }
}

} // namespace

const std::vector<std::string>& mergeMethods()
{
    static const std::vector<std::string> methods
        = { "soup", "greedy_soup", "task_arithmetic", "ties", "breadcrumbs", "lines" };
    return methods;
}

nlohmann::json resolveMergeParameters(const std::string& method, const nlohmann::json& given)
{
    const auto it = methodSpecs().find(method);
    if (it == methodSpecs().end())
        throw InputError("merge method '" + method + "' is unknown; expected one of " + methodList());
    const MethodSpec& spec = it->second;
    if (!given.is_object())
        throw InputError("merge parameters must be a JSON object");
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : given.items()) {
        if (key == "weights") {
            if (!spec.weights)
                throw InputError("merge method " + method + " takes no parameter 'weights'");
            if (!value.is_array() || value.empty())
                throw InputError("merge parameter 'weights' must be a list of numbers");
            for (const auto& w : value) {
                if (!w.is_number() || !std::isfinite(w.get<double>()))
                    throw InputError("merge parameter 'weights' must be a list of finite numbers");
            }
            out["weights"] = value;
            continue;
        }
        const MergeParameterSpec* p = nullptr;
        for (const MergeParameterSpec& candidate : spec.parameters) {
            if (key == candidate.name)
                p = &candidate;
        }
        if (!p) {
            std::string takes;
            for (const MergeParameterSpec& candidate : spec.parameters)
                takes += std::string(takes.empty() ? "" : ", ") + candidate.name;
            if (spec.weights)
                takes += std::string(takes.empty() ? "" : ", ") + "weights";
            throw InputError("merge method " + method + " takes no parameter '" + key + "'"
                + (takes.empty() ? std::string(" (it takes none)") : " (it takes " + takes + ")"));
        }
        if (!value.is_number() || !std::isfinite(value.get<double>()))
            throw InputError("merge parameter '" + key + "' must be a finite number");
        const double v = value.get<double>();
        if (v < p->minimum || v > p->maximum)
            throw InputError("merge parameter '" + key + "' must be in [" + num(p->minimum) + ", " + num(p->maximum)
                + "], got " + num(v));
        out[key] = v;
    }
    for (const MergeParameterSpec& p : spec.parameters) {
        if (!out.contains(p.name))
            out[p.name] = p.defaultValue;
    }
    if (method == "breadcrumbs" && out["beta"].get<double>() + out["gamma"].get<double>() > 1.0)
        throw InputError("merge parameters 'beta' + 'gamma' must not exceed 1 (shares of each tensor dropped), got "
            + num(out["beta"].get<double>()) + " + " + num(out["gamma"].get<double>()));
    if (spec.weights && !out.contains("weights"))
        out["weights"] = nullptr; // all 1
    return out;
}

MergeOutcome mergeRuns(Workspace& ws, const PluginRegistry& plugins, const MergeRequest& request)
{
    auto log = [&](const std::string& line) {
        if (request.log)
            request.log(line);
    };
    const nlohmann::json params = resolveMergeParameters(request.method, request.params);
    const MethodSpec& spec = methodSpecs().at(request.method);
    if (request.runIds.size() < spec.minimumRuns)
        throw InputError("merge method " + request.method + " needs at least " + std::to_string(spec.minimumRuns)
            + " runs, got " + std::to_string(request.runIds.size()));
    std::vector<double> weights;
    if (params.contains("weights") && params["weights"].is_array()) {
        weights = params["weights"].get<std::vector<double>>();
        if (weights.size() != request.runIds.size())
            throw InputError("merge parameter 'weights': " + std::to_string(weights.size()) + " weights for "
                + std::to_string(request.runIds.size()) + " runs; give one weight per run");
    }

    // The parents: known, finished, with a saved adapter, on one base model.
    RunStore runs(ws.db());
    std::vector<RunRecord> parents;
    std::set<std::int64_t> seen;
    for (std::int64_t id : request.runIds) {
        if (!seen.insert(id).second)
            throw InputError("run " + std::to_string(id) + " is named twice; name each run once");
        auto run = runs.find(id);
        if (!run)
            throw InputError("no run with id " + std::to_string(id) + " in workspace " + ws.root().string());
        if (run->status != RunStatus::Finished && run->status != RunStatus::Cancelled)
            throw InputError(runLabel(*run) + " is " + std::string(toString(run->status))
                + "; only runs that finished training (or were stopped) can be merged");
        const fs::path adapterDir = ws.runDir(id) / "adapter";
        if (!fs::exists(adapterDir / "adapter.safetensors"))
            throw InputError(runLabel(*run) + " has no saved adapter in " + adapterDir.string());
        parents.push_back(std::move(*run));
    }
    const fs::path base = parents.front().modelPath;
    auto canonical = [](const std::string& p) {
        std::error_code ec;
        const fs::path c = fs::weakly_canonical(fs::absolute(p), ec);
        return ec ? fs::path(p) : c;
    };
    for (const RunRecord& r : parents) {
        if (canonical(r.modelPath) != canonical(parents.front().modelPath))
            throw InputError("runs to merge must share one base model: " + runLabel(parents.front())
                + " was trained on " + parents.front().modelPath + ", " + runLabel(r) + " on " + r.modelPath);
    }

    // Base weights and each parent's full weights (its adapter folded in).
    log("loading base model " + base.string());
    const std::unique_ptr<CausalLM> baseModel = loadCausalLM(base);
    std::vector<std::string> names;
    StateDict baseState;
    for (const auto& [name, tensor] : baseModel->namedParameters()) {
        names.push_back(name);
        baseState[name] = tensor.detach();
    }
    std::vector<StateDict> tuned;
    std::vector<std::string> parentAdapters;
    for (const RunRecord& r : parents) {
        log("loading " + runLabel(r) + " (adapter " + r.adapter + ")");
        const std::unique_ptr<CausalLM> model = loadCausalLM(base);
        const std::unique_ptr<Adapter> adapter = loadRunAdapter(ws.runDir(r.id) / "adapter", *model, plugins, base);
        if (adapter->canMerge()) {
            at::NoGradGuard noGrad;
            adapter->merge();
        }
        bool hooked = model->virtualTokenCount() > 0;
        for (const Linear* layer : model->linears())
            hooked = hooked || layer->hook() != nullptr;
        if (hooked)
            throw InputError(runLabel(r) + " cannot be merged: its adapter (" + r.adapter
                + ") cannot be folded into the model's weights (prompt and prefix tuning add inputs, not weights)");
        StateDict state;
        for (const auto& [name, tensor] : model->namedParameters())
            state[name] = tensor.detach().clone();
        tuned.push_back(std::move(state));
        parentAdapters.push_back(r.adapter);
    }

    // The validation set: the user's, else the parents' shared eval split.
    std::vector<std::optional<TrainConfig>> configs;
    for (const RunRecord& r : parents)
        configs.push_back(configOf(r, plugins));
    std::optional<ValidationSet> validation;
    std::string validationNote;
    if (!request.evalDataset.empty()) {
        const ValidationOptions o = configs.front() ? validationOptionsOf(*configs.front()) : ValidationOptions {};
        validation = encodeValidationSet(loadDatasetRecordsFrom(request.evalDataset, &ws), base, o);
    } else {
        SharedSplit split = sharedEvalSplit(parents, configs, ws, base);
        validation = std::move(split.set);
        validationNote = split.note;
    }
    if (request.method == "greedy_soup" && !validation)
        throw InputError("greedy_soup chooses its ingredients by validation loss: give --eval-dataset FILE|ID ("
            + validationNote + ")");
    std::unique_ptr<CausalLM> evalModel;
    auto evaluate = [&](const StateDict& state) {
        if (!evalModel)
            evalModel = loadCausalLM(base);
        for (const auto& [name, tensor] : state)
            evalModel->setParameter(name, tensor);
        return validationLoss(*evalModel, *validation);
    };

    // The merge.
    log("merging " + std::to_string(parents.size()) + (parents.size() == 1 ? " run" : " runs") + " with "
        + request.method);
    StateDict merged;
    nlohmann::json details = nlohmann::json::object();
    const std::string& m = request.method;
    if (m == "soup") {
        merged = uniformSoup(tuned, weights);
    } else if (m == "greedy_soup") {
        const GreedySoupResult r = greedySoup(tuned, evaluate);
        merged = r.merged;
        nlohmann::json steps = nlohmann::json::array();
        for (const GreedySoupStep& s : r.steps)
            steps.push_back({ { "run_id", parents[s.ingredient].id }, { "loss", s.ingredientLoss },
                { "soup_loss", s.soupLoss }, { "kept", s.kept } });
        nlohmann::json kept = nlohmann::json::array();
        for (std::size_t i : r.kept)
            kept.push_back(parents[i].id);
        details["ingredients"] = steps;
        details["kept"] = kept;
    } else if (m == "task_arithmetic") {
        merged = taskArithmetic(baseState, tuned, params["scaling"].get<double>(), weights);
    } else if (m == "ties") {
        merged = ties(baseState, tuned, params["density"].get<double>(), params["scaling"].get<double>(), weights);
    } else if (m == "breadcrumbs") {
        merged = breadcrumbs(baseState, tuned, params["beta"].get<double>(), params["gamma"].get<double>(),
            params["scaling"].get<double>(), weights);
    } else {
        merged = lines(baseState, tuned, baseModel->config().numLayers, params["alpha"].get<double>(),
            params["beta"].get<double>(), weights);
    }

    // The new run.
    nlohmann::json parentIds = nlohmann::json::array();
    std::string idList;
    for (const RunRecord& r : parents) {
        parentIds.push_back(r.id);
        idList += (idList.empty() ? "" : "-") + std::to_string(r.id);
    }
    nlohmann::json lineage = { { "operation", "merge" }, { "method", m }, { "params", params },
        { "parents", parentIds }, { "parent_adapters", parentAdapters }, { "base_model", base.string() } };
    for (const auto& [key, value] : details.items())
        lineage[key] = value;
    lineage["eval_set"] = validation ? nlohmann::json(validation->origin) : nlohmann::json(nullptr);
    bool sameObjective = true;
    for (const RunRecord& r : parents)
        sameObjective = sameObjective && r.objective == parents.front().objective;
    NewRun run;
    run.name = request.name.empty() ? "merge-" + m + "-" + idList : request.name;
    run.adapter = "full";
    run.objective = sameObjective ? parents.front().objective : "merge";
    run.modelPath = parents.front().modelPath;
    run.parentRunId = parents.front().id;
    run.lineageJson = lineage.dump();
    run.configJson = nlohmann::json(
        { { "name", run.name }, { "model", run.modelPath }, { "adapter", "full" }, { "objective", run.objective },
            { "merge", { { "method", m }, { "params", params }, { "parents", parentIds } } } })
                         .dump();
    const std::int64_t runId = runs.create(run);
    runs.setStatus(runId, RunStatus::Running);
    MergeOutcome outcome;
    outcome.runId = runId;
    outcome.lineage = lineage;
    try {
        // Written beside the final folder and renamed: a reader sees the whole adapter or none.
        const fs::path runDir = ws.runDir(runId);
        const fs::path adapterDir = runDir / "adapter";
        const fs::path temp = runDir / "adapter.tmp";
        fs::remove_all(temp);
        fs::create_directories(temp);
        writeSafetensors(temp / "adapter.safetensors", ordered(names, merged), { { "format", "pt" } });
        {
            std::ofstream config(temp / "adapter_config.json", std::ios::binary);
            config << nlohmann::json({ { "adapter", "full" }, { "params", nlohmann::json::object() },
                                         { "model", run.modelPath }, { "seed", 0 }, { "merge", lineage } })
                          .dump(2);
            if (!config)
                throw Error((temp / "adapter_config.json").string() + ": cannot write");
        }
        fs::remove_all(adapterDir);
        fs::rename(temp, adapterDir);
        runs.addEvent(runId, "merged", nlohmann::json({ { "event", "merged" }, { "lineage", lineage } }).dump());

        nlohmann::json parentLosses = nlohmann::json::object();
        if (validation) {
            // Measured on the run as saved (loaded back like any run), so what is logged is what others load.
            log("measuring validation loss on " + validation->origin);
            const std::unique_ptr<CausalLM> model = loadCausalLM(base);
            const std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *model, plugins, base);
            outcome.evalLoss = validationLoss(*model, *validation);
            for (std::size_t i = 0; i < parents.size(); ++i) {
                double loss = 0;
                bool known = false;
                for (const auto& step : details.value("ingredients", nlohmann::json::array())) {
                    if (step["run_id"] == parents[i].id) {
                        loss = step["loss"].get<double>();
                        known = true;
                    }
                }
                parentLosses[std::to_string(parents[i].id)] = known ? loss : evaluate(tuned[i]);
            }
            // At the parents' last eval step, so Compare puts the merge beside where they ended.
            std::int64_t step = 0;
            for (const RunRecord& r : parents) {
                for (const MetricSummary& s : MetricQuery(ws.db()).summary(r.id)) {
                    if (s.name == "eval_loss")
                        step = std::max(step, s.lastStep);
                }
            }
            BatchWriter writer(ws.db());
            writer.addMetric(runId, step, "eval_loss", *outcome.evalLoss);
            writer.addEvent(runId, "eval",
                nlohmann::json({ { "event", "eval" }, { "step", step }, { "eval_loss", *outcome.evalLoss },
                                   { "eval_set", validation->origin } })
                    .dump());
            writer.flush();
        }
        runs.setStatus(runId, RunStatus::Finished);
        outcome.summary = { { "run_id", runId }, { "name", run.name }, { "method", m }, { "parents", parentIds },
            { "params", params }, { "base_model", run.modelPath }, { "adapter_dir", adapterDir.string() },
            { "eval_loss", outcome.evalLoss ? nlohmann::json(*outcome.evalLoss) : nlohmann::json(nullptr) },
            { "eval_set", validation ? nlohmann::json(validation->origin) : nlohmann::json(nullptr) } };
        if (validation)
            outcome.summary["parent_eval_loss"] = parentLosses;
        else
            outcome.summary["eval_note"] = validationNote;
        for (const auto& [key, value] : details.items())
            outcome.summary[key] = value;
    } catch (const std::exception& e) {
        runs.setStatus(runId, RunStatus::Failed, e.what());
        throw;
    }
    return outcome;
}

} // namespace tunebench
