#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class Database;

struct MetricPoint {
    std::int64_t step = 0;
    double value = 0;
    double time = 0;
};

struct MetricSummary {
    std::string name;
    std::int64_t count = 0;
    double last = 0;
    std::int64_t lastStep = 0;
    double min = 0;
    double max = 0;
};

// Read side of the metrics table (writes go through BatchWriter).
class MetricQuery {
public:
    explicit MetricQuery(const Database& db);

    // The metric's points of one run by step; with afterStep only the newer ones.
    std::vector<MetricPoint> series(
        std::int64_t runId, const std::string& name, std::optional<std::int64_t> afterStep = std::nullopt) const;
    // Names of the metrics a run has recorded, sorted.
    std::vector<std::string> names(std::int64_t runId) const;
    // Count, last, min and max of every metric of a run, sorted by name.
    std::vector<MetricSummary> summary(std::int64_t runId) const;
    std::int64_t count(std::int64_t runId) const;

private:
    const Database& m_db;
};

} // namespace tunebench
