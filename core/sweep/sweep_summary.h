#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>

namespace tunebench {

class Database;

// What `tunebench-cli sweep show` prints and the Sweep page shows:
//   {"id", "name", "file", "status", "metric", "direction",
//    "points": [{"index", "params": {...}, "runs": [ids], "finished": [ids], "stopped_early": [ids],
//                "metrics": {NAME: {"n", "mean", "std", "ci95": [low, high]}}}],
//    "best": {"index", "params", "value"} or null}
// A point's metrics are over its finished runs, each run's final value of the metric (the value at its
// highest step); std is the sample standard deviation, ci95 the 95% t-interval of the mean (core/stats);
// both null with one run. Runs stopped early by the sweep are listed, not counted: they did not train to
// the end. `best` is the point with the best mean of the sweep's metric in its direction.
// Throws InputError when there is no such sweep.
nlohmann::json sweepSummary(Database& db, std::int64_t sweepId);

} // namespace tunebench
