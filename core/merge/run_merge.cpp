#include "core/merge/run_merge.h"

#include "core/merge/merge_job.h"
#include "core/util/error.h"
#include "core/util/text.h"

#include <cmath>
#include <limits>
#include <map>

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

std::string methodList()
{
    std::string out;
    for (const std::string& m : mergeMethods())
        out += (out.empty() ? "" : ", ") + m;
    return out;
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
            throw InputError("merge parameter '" + key + "' must be in [" + formatNumber(p->minimum) + ", "
                + formatNumber(p->maximum) + "], got " + formatNumber(v));
        out[key] = v;
    }
    for (const MergeParameterSpec& p : spec.parameters) {
        if (!out.contains(p.name))
            out[p.name] = p.defaultValue;
    }
    if (method == "breadcrumbs" && out["beta"].get<double>() + out["gamma"].get<double>() > 1.0)
        throw InputError("merge parameters 'beta' + 'gamma' must not exceed 1 (shares of each tensor dropped), got "
            + formatNumber(out["beta"].get<double>()) + " + " + formatNumber(out["gamma"].get<double>()));
    if (spec.weights && !out.contains("weights"))
        out["weights"] = nullptr; // all 1
    return out;
}

std::size_t minimumRunsToMerge(const std::string& method)
{
    const auto it = methodSpecs().find(method);
    if (it == methodSpecs().end())
        throw InputError("merge method '" + method + "' is unknown; expected one of " + methodList());
    return it->second.minimumRuns;
}

MergeOutcome mergeRuns(Workspace& ws, const PluginRegistry& plugins, const MergeRequest& request)
{
    MergeJob job(ws, plugins, request);
    job.resolveParameters();
    job.checkParents();
    job.loadStates();
    job.chooseValidationSet();
    job.merge();
    job.recordRun();
    try {
        job.writeAdapter();
        job.measure();
        job.finish();
    } catch (const std::exception& e) {
        job.fail(e.what());
        throw;
    }
    return job.outcome();
}

} // namespace tunebench
