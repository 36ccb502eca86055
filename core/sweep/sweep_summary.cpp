#include "core/sweep/sweep_summary.h"

#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/sweep/sweep_store.h"
#include "core/util/error.h"

#if __has_include("core/stats/describe.h")
#include "core/stats/describe.h"
#define TUNEBENCH_SWEEP_HAS_STATS 1
#endif

#include <cmath>
#include <limits>
#include <map>
#include <span>
#include <vector>

namespace tunebench {

namespace {

using nlohmann::json;

#ifndef TUNEBENCH_SWEEP_HAS_STATS
// Stand-in for core/stats/describe.h (the statistics branch) until it is merged: same API and definitions
// (sample std, 95% t-interval). Removed at the merge.
namespace fallback {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz).
double betaContinuedFraction(double a, double b, double x)
{
    const double tiny = 1e-300;
    double c = 1, d = 1 - (a + b) * x / (a + 1);
    d = 1 / (std::abs(d) < tiny ? tiny : d);
    double h = d;
    for (int m = 1; m <= 300; ++m) {
        const double m2 = 2.0 * m;
        double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
        d = 1 + num * d;
        d = 1 / (std::abs(d) < tiny ? tiny : d);
        c = 1 + num / c;
        c = std::abs(c) < tiny ? tiny : c;
        h *= d * c;
        num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
        d = 1 + num * d;
        d = 1 / (std::abs(d) < tiny ? tiny : d);
        c = 1 + num / c;
        c = std::abs(c) < tiny ? tiny : c;
        const double delta = d * c;
        h *= delta;
        if (std::abs(delta - 1) < 1e-15)
            break;
    }
    return h;
}

double incompleteBeta(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    const double front
        = std::exp(std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) + a * std::log(x) + b * std::log1p(-x));
    if (x < (a + 1) / (a + b + 2))
        return front * betaContinuedFraction(a, b, x) / a;
    return 1 - front * betaContinuedFraction(b, a, 1 - x) / b;
}

double studentTCdf(double t, double df)
{
    const double tail = 0.5 * incompleteBeta(df / 2, 0.5, df / (df + t * t));
    return t >= 0 ? 1 - tail : tail;
}

double studentTQuantile(double p, double df)
{
    double lo = -1e6, hi = 1e6;
    for (int i = 0; i < 400 && hi - lo > 1e-13 * std::max(1.0, std::abs(lo)); ++i) {
        const double mid = (lo + hi) / 2;
        (studentTCdf(mid, df) < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

struct Summary {
    std::size_t n = 0;
    double mean = kNaN, std = kNaN, ci95Low = kNaN, ci95High = kNaN;
};

Summary describe(std::span<const double> values)
{
    Summary s;
    s.n = values.size();
    if (s.n == 0)
        return s;
    double sum = 0;
    for (double v : values)
        sum += v;
    s.mean = sum / static_cast<double>(s.n);
    if (s.n < 2)
        return s;
    double squares = 0;
    for (double v : values)
        squares += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(squares / static_cast<double>(s.n - 1));
    const double half
        = studentTQuantile(0.975, static_cast<double>(s.n - 1)) * s.std / std::sqrt(static_cast<double>(s.n));
    s.ci95Low = s.mean - half;
    s.ci95High = s.mean + half;
    return s;
}

} // namespace fallback
using fallback::describe;
#else
using stats::describe;
#endif

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
