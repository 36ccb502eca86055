#include "core/demo/demo_result.h"

#include "core/stats/compare.h"
#include "core/stats/describe.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <set>
#include <sstream>

namespace tunebench::demo {

namespace {

// Characters, not bytes: the table holds "±".
std::size_t utf8Width(const std::string& s)
{
    return static_cast<std::size_t>(
        std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string fixed(double v, int digits)
{
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

// The measures summarised across seeds, with their JSON names: the fixed ones, then the evaluation tasks'
// metrics the runs have.
struct Measure {
    std::string name;
    std::function<double(const DemoRun&)> value; // NaN where a run lacks it
};

std::vector<Measure> measuresOf(const std::vector<DemoRun>& runs)
{
    std::vector<Measure> out {
        { "target_loss", [](const DemoRun& r) { return r.targetLoss; } },
        { "target_accuracy", [](const DemoRun& r) { return r.targetAccuracy; } },
        { "reference_delta_loss", [](const DemoRun& r) { return r.referenceDeltaLoss; } },
        { "reference_kl", [](const DemoRun& r) { return r.referenceKl; } },
        { "distinct_2", [](const DemoRun& r) { return r.distinct2; } },
    };
    std::set<std::string> keys;
    for (const DemoRun& r : runs) {
        for (const auto& [key, value] : r.evaluation)
            keys.insert(key);
    }
    for (const std::string& key : keys) {
        out.push_back({ "eval/" + key, [key](const DemoRun& r) {
                           const auto it = r.evaluation.find(key);
                           return it == r.evaluation.end() ? std::numeric_limits<double>::quiet_NaN() : it->second;
                       } });
    }
    return out;
}

// Runs of one preset over several seeds, in the order the presets came.
struct SeedGroup {
    std::string name;
    std::vector<const DemoRun*> runs;
    std::vector<double> values(const Measure& m) const
    {
        std::vector<double> v;
        for (const DemoRun* r : runs)
            v.push_back(m.value(*r));
        return v;
    }
    // Both groups name a seed for every run and the same seeds: pair the runs by seed.
    bool pairsWith(const SeedGroup& other) const
    {
        if (runs.size() != other.runs.size())
            return false;
        for (std::size_t i = 0; i < runs.size(); ++i) {
            if (!runs[i]->seed || !other.runs[i]->seed || *runs[i]->seed != *other.runs[i]->seed)
                return false;
        }
        return true;
    }
};

std::vector<SeedGroup> seedGroups(const std::vector<DemoRun>& runs)
{
    std::vector<SeedGroup> groups;
    for (const DemoRun& r : runs) {
        const std::string& name = r.group.empty() ? r.name : r.group;
        auto it = std::find_if(groups.begin(), groups.end(), [&](const SeedGroup& g) { return g.name == name; });
        if (it == groups.end())
            it = groups.insert(groups.end(), SeedGroup { name, {} });
        it->runs.push_back(&r);
    }
    std::erase_if(groups, [](const SeedGroup& g) { return g.runs.size() < 2; });
    // Paired tests need the runs in the same seed order.
    for (SeedGroup& g : groups)
        std::stable_sort(g.runs.begin(), g.runs.end(),
            [](const DemoRun* a, const DemoRun* b) { return a->seed.value_or(0) < b->seed.value_or(0); });
    return groups;
}

stats::GroupTest compareGroups(const SeedGroup& a, const SeedGroup& b, const Measure& m)
{
    const std::vector<double> va = a.values(m);
    const std::vector<double> vb = b.values(m);
    return a.pairsWith(b) ? stats::pairedTest(va, vb) : stats::welchTest(va, vb);
}

nlohmann::json finiteOrNull(double v)
{
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}

std::string plusMinus(const stats::Summary& s, int digits)
{
    return fixed(s.mean, digits) + " ± " + (std::isfinite(s.std) ? fixed(s.std, digits) : "-") + " ["
        + (std::isfinite(s.ci95Low) ? fixed(s.ci95Low, digits) + ", " + fixed(s.ci95High, digits) : "-") + "]";
}

std::string aligned(const std::vector<std::vector<std::string>>& rows, std::size_t leftColumns)
{
    std::vector<std::size_t> width(rows.front().size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], utf8Width(row[i]));
    }
    std::string out;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        for (std::size_t i = 0; i < rows[k].size(); ++i) {
            const std::string& cell = rows[k][i];
            const std::string pad(width[i] - utf8Width(cell), ' ');
            if (i)
                out += "  ";
            out += i < leftColumns ? cell + pad : pad + cell;
        }
        out += "\n";
        if (k == 0) {
            std::size_t total = 0;
            for (std::size_t w : width)
                total += w + 2;
            out += std::string(total - 2, '-') + "\n";
        }
    }
    return out;
}

std::string optionalCell(const nlohmann::json& v)
{
    return v.is_number() ? fixed(v.get<double>(), 4) : std::string("-");
}

// GRPO's reward and group diversity, first steps against last, and the pipeline's forgetting matrix.
std::string extraSections(const std::vector<DemoRun>& runs, const std::optional<DemoPipeline>& pipeline)
{
    std::string out;
    std::vector<std::vector<std::string>> grpo { { "GRPO run", "reward_mean before", "after", "distinct_2 before",
        "after" } };
    for (const DemoRun& r : runs) {
        if (!r.rewardBefore)
            continue;
        grpo.push_back({ r.name, fixed(*r.rewardBefore, 3), fixed(*r.rewardAfter, 3),
            r.groupDistinct2Before ? fixed(*r.groupDistinct2Before, 3) : "-",
            r.groupDistinct2After ? fixed(*r.groupDistinct2After, 3) : "-" });
    }
    if (grpo.size() > 1) {
        out += "\nGRPO: reward and distinct-2 of the sampled groups, first steps -> last steps\n";
        out += aligned(grpo, 1);
    }
    if (pipeline) {
        out += "\nPipeline " + std::to_string(pipeline->id) + " (" + pipeline->name
            + "): forgetting matrix (row: after stage; column: a stage's held-out task)\n";
        std::vector<std::vector<std::string>> m { { "" } };
        for (const std::string& c : pipeline->columns)
            m.front().push_back(c);
        for (std::size_t j = 0; j < pipeline->rows.size(); ++j) {
            std::vector<std::string> row { j == 0 ? std::string("demo model")
                                                  : "after "
                        + (j - 1 < pipeline->stages.size()
                                ? pipeline->stages[j - 1] + " (run " + std::to_string(pipeline->runIds[j - 1]) + ")"
                                : std::string("?")) };
            for (double v : pipeline->rows[j])
                row.push_back(std::isfinite(v) ? fixed(v, 4) : "-");
            m.push_back(std::move(row));
        }
        out += aligned(m, 1);
        for (const nlohmann::json& r : pipeline->measures)
            out += std::string(r.value("direction", "") == "max" ? "higher" : "lower") + " is better, after stage "
                + std::to_string(r.value("after_stage", 0)) + ": average " + optionalCell(r["average"])
                + ", backward transfer " + optionalCell(r["bwt"]) + ", forgetting " + optionalCell(r["forgetting"])
                + ", forward transfer " + optionalCell(r["fwt"]) + "\n";
    }
    return out;
}

} // namespace

nlohmann::json DemoResult::toJson() const
{
    nlohmann::json rows = nlohmann::json::array();
    for (const DemoRun& r : runs) {
        nlohmann::json row = { { "name", r.name }, { "group", r.group.empty() ? r.name : r.group },
            { "adapter", r.adapter }, { "objective", r.objective }, { "target_loss", r.targetLoss },
            { "reference_delta_loss", r.referenceDeltaLoss }, { "distinct_2", r.distinct2 },
            { "trainable_share", r.trainableShare } };
        if (r.seed)
            row["seed"] = *r.seed;
        if (!r.evaluation.empty())
            row["evaluation"] = r.evaluation;
        if (r.baseWeightMiB)
            row["base_weight_mib"] = *r.baseWeightMiB;
        if (!r.quantizeBase.empty())
            row["quantize_base"] = r.quantizeBase;
        if (r.rewardBefore)
            row["reward_mean"] = { { "before", *r.rewardBefore }, { "after", *r.rewardAfter } };
        if (r.groupDistinct2Before)
            row["group_distinct_2"] = { { "before", *r.groupDistinct2Before }, { "after", *r.groupDistinct2After } };
        rows.push_back(std::move(row));
    }
    nlohmann::json out = { { "runs", rows } };
    if (pipeline) {
        nlohmann::json matrix = nlohmann::json::array();
        for (const auto& row : pipeline->rows) {
            nlohmann::json values = nlohmann::json::array();
            for (double v : row)
                values.push_back(finiteOrNull(v));
            matrix.push_back(values);
        }
        out["pipeline"] = { { "id", pipeline->id }, { "name", pipeline->name }, { "file", pipeline->file.string() },
            { "stages", pipeline->stages }, { "runs", pipeline->runIds }, { "columns", pipeline->columns },
            { "matrix", matrix }, { "measures", pipeline->measures } };
    }
    const std::vector<SeedGroup> groups = seedGroups(runs);
    const std::vector<Measure> measures = measuresOf(runs);
    if (groups.empty())
        return out;
    nlohmann::json groupRows = nlohmann::json::array();
    for (const SeedGroup& g : groups) {
        nlohmann::json seeds = nlohmann::json::array();
        nlohmann::json names = nlohmann::json::array();
        for (const DemoRun* r : g.runs) {
            seeds.push_back(r->seed ? nlohmann::json(*r->seed) : nlohmann::json(nullptr));
            names.push_back(r->name);
        }
        nlohmann::json metrics = nlohmann::json::object();
        for (const Measure& m : measures) {
            const stats::Summary s = stats::describe(g.values(m));
            metrics[m.name] = { { "n", s.n }, { "mean", finiteOrNull(s.mean) }, { "std", finiteOrNull(s.std) },
                { "ci95", { finiteOrNull(s.ci95Low), finiteOrNull(s.ci95High) } } };
        }
        groupRows.push_back({ { "name", g.name }, { "n", g.runs.size() }, { "seeds", seeds }, { "runs", names },
            { "metrics", metrics } });
    }
    out["groups"] = groupRows;
    nlohmann::json comparisons = nlohmann::json::array();
    for (std::size_t i = 0; i < groups.size(); ++i) {
        for (std::size_t j = i + 1; j < groups.size(); ++j) {
            nlohmann::json metrics = nlohmann::json::object();
            for (const Measure& m : measures) {
                const stats::GroupTest t = compareGroups(groups[i], groups[j], m);
                metrics[m.name] = { { "test", stats::testKindName(t.kind) },
                    { "difference", finiteOrNull(t.difference) },
                    { "ci95", { finiteOrNull(t.differenceInterval.low), finiteOrNull(t.differenceInterval.high) } },
                    { "p", finiteOrNull(t.p) }, { "effect_size", finiteOrNull(t.effectSize) },
                    { "effect", t.effectName }, { "verdict", stats::verdictText(t.verdict) } };
            }
            comparisons.push_back({ { "a", groups[i].name }, { "b", groups[j].name }, { "metrics", metrics } });
        }
    }
    out["comparisons"] = comparisons;
    return out;
}

std::string DemoResult::table() const
{
    const std::vector<std::string> header { "name", "run", "adapter", "objective", "target_loss", "target_acc",
        "ref_delta_loss", "ref_kl", "distinct_2", "trainable", "base_MiB", "intruders" };
    std::vector<std::vector<std::string>> rows { header };
    // The evaluation tasks' metrics: the run's value, with its change from the model it started from.
    std::set<std::string> evaluationKeys;
    for (const DemoRun& r : runs) {
        for (const auto& [key, value] : r.evaluation)
            evaluationKeys.insert(key);
    }
    for (const std::string& key : evaluationKeys)
        rows.front().push_back(key + " (change)");
    for (const DemoRun& r : runs) {
        rows.push_back({ r.name, std::to_string(r.runId), r.adapter, r.objective, fixed(r.targetLoss, 3),
            fixed(r.targetAccuracy, 2), fixed(r.referenceDeltaLoss, 3), fixed(r.referenceKl, 3), fixed(r.distinct2, 3),
            fixed(100 * r.trainableShare, 2) + "%",
            r.baseWeightMiB ? fixed(*r.baseWeightMiB, 2) + (r.quantizeBase.empty() ? "" : " " + r.quantizeBase) : "-",
            r.intruderDimensions ? std::to_string(static_cast<std::int64_t>(std::lround(*r.intruderDimensions)))
                                 : "-" });
        for (const std::string& key : evaluationKeys) {
            const auto value = r.evaluation.find(key);
            const auto base = r.evaluationBase.find(key);
            std::string cell = value == r.evaluation.end() ? "-" : fixed(value->second, 3);
            if (value != r.evaluation.end() && base != r.evaluationBase.end()) {
                const double change = value->second - base->second;
                cell += " (" + std::string(change >= 0 ? "+" : "") + fixed(change, 3) + ")";
            }
            rows.back().push_back(cell);
        }
    }
    std::string out = aligned(rows, 4) + extraSections(runs, pipeline);
    const std::vector<SeedGroup> groups = seedGroups(runs);
    const std::vector<Measure> measures = measuresOf(runs);
    if (groups.empty())
        return out;
    out += "\nAcross seeds: mean ± std [95% t interval]\n";
    std::vector<std::vector<std::string>> summary { { "group", "n" } };
    for (const Measure& m : measures)
        summary.front().push_back(m.name);
    for (const SeedGroup& g : groups) {
        std::vector<std::string> row { g.name, std::to_string(g.runs.size()) };
        for (const Measure& m : measures)
            row.push_back(plusMinus(stats::describe(g.values(m)), 3));
        summary.push_back(std::move(row));
    }
    out += aligned(summary, 1);
    out += "\nBetween groups (a - b; paired t test when both ran the same seeds, else Welch's):\n";
    std::vector<std::vector<std::string>> tests { { "a", "b", "measure", "difference", "95% interval", "p", "effect",
        "verdict" } };
    for (std::size_t i = 0; i < groups.size(); ++i) {
        for (std::size_t j = i + 1; j < groups.size(); ++j) {
            for (const Measure& m : measures) {
                const stats::GroupTest t = compareGroups(groups[i], groups[j], m);
                const bool haveInterval = std::isfinite(t.differenceInterval.low);
                tests.push_back({ groups[i].name, groups[j].name, m.name, fixed(t.difference, 3),
                    haveInterval
                        ? "[" + fixed(t.differenceInterval.low, 3) + ", " + fixed(t.differenceInterval.high, 3) + "]"
                        : "-",
                    std::isfinite(t.p) ? fixed(t.p, 3) : "-",
                    std::isfinite(t.effectSize) ? t.effectName + " " + fixed(t.effectSize, 2) : "-",
                    stats::testKindName(t.kind) + ": " + stats::verdictText(t.verdict) });
            }
        }
    }
    out += aligned(tests, 3);
    return out;
}

} // namespace tunebench::demo
