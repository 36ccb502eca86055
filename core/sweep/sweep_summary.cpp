#include "core/sweep/sweep_summary.h"

#include "core/stats/describe.h"
#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/sweep/sweep_store.h"
#include "core/util/error.h"

#include <cmath>
#include <map>
#include <vector>

namespace tunebench {

namespace {

using nlohmann::json;

using stats::describe;

json number(double v)
{
    return std::isfinite(v) ? json(v) : json(nullptr);
}

} // namespace

json sweepSummary(Database& db, std::int64_t sweepId)
{
    SweepStore sweeps(db);
    const auto sweep = sweeps.find(sweepId);
    if (!sweep)
        throw InputError("no sweep with id " + std::to_string(sweepId));
    const json config = json::parse(sweep->configJson, nullptr, false);
    const std::string metric = config.is_object() ? config.value("metric", "eval_loss") : "eval_loss";
    const bool maximize = config.is_object() && config.value("direction", "min") == "max";

    RunStore runs(db);
    MetricQuery metrics(db);
    std::map<std::int64_t, std::vector<SweepRunLink>> byPoint;
    for (const SweepRunLink& l : sweeps.runs(sweepId))
        byPoint[l.pointIndex].push_back(l);

    json points = json::array();
    json best = nullptr;
    double bestValue = 0;
    for (const SweepPointRecord& p : sweeps.points(sweepId)) {
        json ids = json::array(), finished = json::array(), stopped = json::array();
        std::map<std::string, std::vector<double>> finals;
        for (const SweepRunLink& l : byPoint[p.index]) {
            ids.push_back(l.runId);
            if (l.stoppedEarly) {
                stopped.push_back(l.runId);
                continue;
            }
            const auto run = runs.find(l.runId);
            if (!run || run->status != RunStatus::Finished)
                continue;
            finished.push_back(l.runId);
            for (const MetricSummary& m : metrics.summary(l.runId))
                finals[m.name].push_back(m.last);
        }
        json stats = json::object();
        for (const auto& [name, values] : finals) {
            const auto s = describe(values);
            stats[name] = { { "n", s.n }, { "mean", number(s.mean) }, { "std", number(s.std) },
                { "ci95", json::array({ number(s.ci95Low), number(s.ci95High) }) } };
        }
        const json params = json::parse(p.paramsJson, nullptr, false);
        if (auto it = finals.find(metric); it != finals.end()) {
            const double mean = describe(it->second).mean;
            if (std::isfinite(mean) && (best.is_null() || (maximize ? mean > bestValue : mean < bestValue))) {
                bestValue = mean;
                best = { { "index", p.index }, { "params", params }, { "value", mean } };
            }
        }
        points.push_back({ { "index", p.index }, { "params", params }, { "runs", ids }, { "finished", finished },
            { "stopped_early", stopped }, { "metrics", stats } });
    }
    return { { "id", sweep->id }, { "name", sweep->name }, { "file", sweep->file }, { "status", sweep->status },
        { "metric", metric }, { "direction", maximize ? "max" : "min" }, { "points", points }, { "best", best } };
}

} // namespace tunebench
