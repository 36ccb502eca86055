#pragma once

#include "core/sweep/sweep_spec.h"

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

namespace tunebench {

// One run's early-stopping metric as recorded so far.
struct SweepCurve {
    std::int64_t runId = 0;
    std::vector<std::pair<std::int64_t, double>> values; // (step, value), steps rising
    bool active = false; // running now: the only runs that can be stopped
};

// A run's value at a judged step: its last value at or before the step, once the run has recorded the metric
// at or after it (so that a run is judged on what it had at that step, with the step behind it). nullopt
// before that.
std::optional<double> valueAtStep(const SweepCurve& curve, std::int64_t step);

// The active runs to stop now, by the rule, at the rule's steps. `judged` holds the (run, step) pairs
// already judged and gains those judged now; a run is judged at a step once, as soon as enough runs
// (min_runs) have a value there.
//   median: stop a run whose value is worse than the median of the other runs' values at the step
//     (min_runs other runs needed).
//   successive_halving: at each step, of the n runs with a value there (itself included, n >= min_runs),
//     the best ceil(n / reduction_factor) continue and the rest stop (asynchronous halving: each run is
//     ranked among those that have reached the step so far).
std::vector<std::int64_t> runsToStop(const SweepEarlyStopping& rule, const std::vector<SweepCurve>& curves,
    std::set<std::pair<std::int64_t, std::int64_t>>& judged);

} // namespace tunebench
