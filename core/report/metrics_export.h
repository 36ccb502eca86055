#pragma once

// Metrics of runs as CSV or JSON, for spreadsheets and notebooks. No Qt.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

class Database;

// One recorded value: the columns of the export.
struct MetricRow {
    std::int64_t runId = 0;
    std::string runName;
    std::string metric;
    std::int64_t step = 0;
    double value = 0;
    double time = 0; // seconds since the epoch, when the value was recorded
    double elapsed = 0; // seconds since the run's first recorded value
};

// Every value of the given runs (in that order), by metric name then step.
// With metrics non-empty only those names. Throws InputError for a run id the
// store does not have.
std::vector<MetricRow> collectMetricRows(
    Database& db, const std::vector<std::int64_t>& runIds, const std::vector<std::string>& metrics = {});

// "run,run_name,metric,step,value,time,elapsed_s" then one line per row (RFC 4180: a
// field with a comma, quote, CR or LF is quoted, quotes doubled; lines end in CRLF).
// Numbers use the shortest text that reads back to the same double; NaN is "nan".
std::string metricsToCsv(const std::vector<MetricRow>& rows);
// A JSON array of objects with the same keys as the CSV columns; NaN and infinities are null.
std::string metricsToJson(const std::vector<MetricRow>& rows);

// One CSV field, quoted where RFC 4180 needs it.
std::string csvField(std::string_view text);
// The shortest decimal text that parses back to exactly value ("0.1", "1e-05", "nan", "inf").
std::string shortestDouble(double value);

} // namespace tunebench
