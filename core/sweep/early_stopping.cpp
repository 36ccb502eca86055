#include "core/sweep/early_stopping.h"

#include <algorithm>
#include <cmath>

namespace tunebench {

std::optional<double> valueAtStep(const SweepCurve& curve, std::int64_t step)
{
    if (curve.values.empty() || curve.values.back().first < step)
        return std::nullopt;
    std::optional<double> value;
    for (const auto& [s, v] : curve.values) {
        if (s > step)
            break;
        value = v;
    }
    return value;
}

std::vector<std::int64_t> runsToStop(const SweepEarlyStopping& rule, const std::vector<SweepCurve>& curves,
    std::set<std::pair<std::int64_t, std::int64_t>>& judged)
{
    std::vector<std::int64_t> stop;
    // "Worse" in the rule's direction; NaN (a diverged run) is worse than anything.
    auto worse = [&](double a, double b) {
        if (std::isnan(a))
            return !std::isnan(b);
        if (std::isnan(b))
            return false;
        return rule.maximize ? a < b : a > b;
    };
    for (const std::int64_t step : rule.steps) {
        for (const SweepCurve& curve : curves) {
            if (!curve.active || judged.count({ curve.runId, step })
                || std::find(stop.begin(), stop.end(), curve.runId) != stop.end())
                continue;
            const auto mine = valueAtStep(curve, step);
            if (!mine)
                continue;
            std::vector<double> others;
            for (const SweepCurve& other : curves) {
                if (other.runId == curve.runId)
                    continue;
                if (const auto v = valueAtStep(other, step))
                    others.push_back(*v);
            }
            if (rule.rule == SweepEarlyStopping::Rule::Median) {
                if (static_cast<std::int64_t>(others.size()) < rule.minRuns)
                    continue;
                judged.insert({ curve.runId, step });
                std::sort(others.begin(), others.end(), [&](double a, double b) { return worse(b, a); });
                const std::size_t n = others.size();
                // Sorted best first; the median of an even count is the mean of the middle two.
                const double median = n % 2 ? others[n / 2] : (others[n / 2 - 1] + others[n / 2]) / 2;
                if (worse(*mine, median))
                    stop.push_back(curve.runId);
            } else {
                const std::size_t n = others.size() + 1;
                if (static_cast<std::int64_t>(n) < rule.minRuns)
                    continue;
                judged.insert({ curve.runId, step });
                const auto keep = static_cast<std::size_t>(std::ceil(static_cast<double>(n) / rule.reductionFactor));
                const auto better = static_cast<std::size_t>(
                    std::count_if(others.begin(), others.end(), [&](double v) { return worse(*mine, v); }));
                if (better >= std::max<std::size_t>(1, keep))
                    stop.push_back(curve.runId);
            }
        }
    }
    return stop;
}

} // namespace tunebench
