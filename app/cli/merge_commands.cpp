#include "command_line.h"
#include "commands.h"

#include "core/merge/run_merge.h"
#include "core/method/plugin_registry.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <sstream>

namespace tunebench::cli {

namespace {

const char* const kNumberFlags[] = { "scaling", "density", "beta", "gamma", "alpha" };

double parseNumber(const std::string& flag, const std::string& text)
{
    std::size_t used = 0;
    double value = 0;
    try {
        value = std::stod(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used == 0 || used != text.size() || !std::isfinite(value))
        throw UsageError("--" + flag + ": expected a number, got '" + text + "'");
    return value;
}

std::vector<std::string> splitCommas(const std::string& flag, const std::string& text)
{
    std::vector<std::string> out;
    std::stringstream in(text);
    std::string item;
    while (std::getline(in, item, ','))
        out.push_back(item);
    if (!text.empty() && text.back() == ',')
        out.push_back({});
    for (const std::string& s : out) {
        if (s.empty())
            throw UsageError("--" + flag + ": an empty item in '" + text + "'; expected a comma-separated list");
    }
    if (out.empty())
        throw UsageError("--" + flag + ": expected a comma-separated list");
    return out;
}

int mergeCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli merge --workspace DIR --runs ID,ID[,...] --method METHOD [--name NAME] "
                   "[--weights W,W] [--scaling L] [--density K] [--beta B] [--gamma G] [--alpha A] "
                   "[--eval-dataset FILE|ID]",
        "Merges finished runs trained on one base model into a new run (its adapter: the merged full weights),\n"
        "recorded with its lineage (method, parameters, parents, base model). Methods (task vectors\n"
        "tau_i = theta_i - theta_base, per tensor):\n"
        "  soup             weighted average of the runs' weights (--weights; default uniform)\n"
        "  greedy_soup      runs by validation loss, each added to the average only when the loss does not rise\n"
        "  task_arithmetic  theta_base + L * sum w_i tau_i (--scaling L, 1.0)\n"
        "  ties             trim each tau_i to its top K share by magnitude (--density K, 0.2), elect the sign of\n"
        "                   the summed mass, mean of the agreeing entries, times L (--scaling, 1.0)\n"
        "  breadcrumbs      drop the largest B (--beta, 0.01) and smallest G (--gamma, 0.85) share of each tensor of\n"
        "                   each tau_i, theta_base + L * sum (--scaling, 1.0)\n"
        "  lines            theta_base + (A + B (l-1)/(L-1)) * sum w_i tau_i by layer depth l (--alpha 0.5, --beta "
        "0.5);\n"
        "                   embeddings scale by A, the final norm and head by A + B; works on one run\n"
        "Validation loss (greedy_soup's choice, the new run's eval_loss metric): --eval-dataset, else the\n"
        "parents' shared eval split (sft runs on one dataset with val_size > 0).\n"
        "Prints one JSON object: run_id, method, parents, params, base_model, eval_loss, ...",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "runs", "ID,ID", "the runs to merge (comma-separated ids)", true },
            { "method", "METHOD", "soup | greedy_soup | task_arithmetic | ties | breadcrumbs | lines", true },
            { "name", "NAME", "the new run's name (default merge-METHOD-IDS)" },
            { "weights", "W,W", "one weight per run (soup, task_arithmetic, ties, breadcrumbs, lines)" },
            { "scaling", "L", "scale of the merged task vector (task_arithmetic, ties, breadcrumbs)" },
            { "density", "K", "share of each task vector TIES keeps, in [0, 1]" },
            { "beta", "B", "breadcrumbs: largest share dropped; lines: depth slope of the scale" },
            { "gamma", "G", "breadcrumbs: smallest share dropped" },
            { "alpha", "A", "lines: scale of the shallowest layer" },
            { "eval-dataset", "FILE|ID", "dataset file or workspace dataset id for the validation loss" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    MergeRequest request;
    request.method = cl.required("method");
    const auto& methods = mergeMethods();
    if (std::find(methods.begin(), methods.end(), request.method) == methods.end()) {
        std::string list;
        for (const std::string& m : methods)
            list += (list.empty() ? "" : ", ") + m;
        throw UsageError("--method: expected one of " + list + ", got '" + request.method + "'");
    }
    for (const std::string& item : splitCommas("runs", cl.required("runs")))
        request.runIds.push_back(cl.integer("--runs", item));

    // Each flag checked on its own against the method, so an error names the flag.
    nlohmann::json params = nlohmann::json::object();
    auto check = [&](const std::string& flag, const std::string& key, const nlohmann::json& value) {
        try {
            resolveMergeParameters(request.method, { { key, value } });
        } catch (const InputError& e) {
            throw UsageError("--" + flag + ": " + e.what());
        }
        params[key] = value;
    };
    if (auto w = cl.value("weights")) {
        nlohmann::json list = nlohmann::json::array();
        for (const std::string& item : splitCommas("weights", *w))
            list.push_back(parseNumber("weights", item));
        if (list.size() != request.runIds.size())
            throw UsageError("--weights: " + std::to_string(list.size()) + " weights for "
                + std::to_string(request.runIds.size()) + " runs; give one weight per run");
        check("weights", "weights", list);
    }
    for (const char* flag : kNumberFlags) {
        if (auto v = cl.value(flag))
            check(flag, flag, parseNumber(flag, *v));
    }
    try {
        resolveMergeParameters(request.method, params); // what single flags cannot show: beta + gamma
    } catch (const InputError& e) {
        throw UsageError(std::string("--beta/--gamma: ") + e.what());
    }
    request.params = params;
    request.name = cl.value("name").value_or("");
    request.evalDataset = cl.value("eval-dataset").value_or("");
    request.log = [](const std::string& line) { std::cerr << line << std::endl; };

    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("merge runs");
    const MergeOutcome outcome = mergeRuns(ws, defaultPluginRegistry(), request);
    std::cout << outcome.summary.dump() << std::endl;
    return 0;
}

const CommandRegistration kRegistration { {
    { { "merge" }, "merge finished runs into a new run (soups, task arithmetic, TIES, breadcrumbs, LiNeS)",
        mergeCommand },
} };

} // namespace

} // namespace tunebench::cli
