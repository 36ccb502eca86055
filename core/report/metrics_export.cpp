#include "core/report/metrics_export.h"

#include "core/store/database.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

namespace tunebench {

std::vector<MetricRow> collectMetricRows(
    Database& db, const std::vector<std::int64_t>& runIds, const std::vector<std::string>& metrics)
{
    RunStore runs(db);
    MetricQuery query(db);
    std::vector<MetricRow> out;
    for (std::int64_t id : runIds) {
        const auto run = runs.find(id);
        if (!run)
            throw InputError("no run with id " + std::to_string(id) + " in the workspace");
        std::vector<std::string> names = query.names(id);
        if (!metrics.empty()) {
            std::vector<std::string> kept;
            for (const std::string& m : metrics) {
                if (std::find(names.begin(), names.end(), m) != names.end())
                    kept.push_back(m);
            }
            names = kept;
        }
        const std::size_t first = out.size();
        double start = std::numeric_limits<double>::infinity();
        for (const std::string& name : names) {
            for (const MetricPoint& p : query.series(id, name)) {
                out.push_back({ id, run->name, name, p.step, p.value, p.time, 0 });
                start = std::min(start, p.time);
            }
        }
        for (std::size_t i = first; i < out.size(); ++i)
            out[i].elapsed = out[i].time - start;
    }
    return out;
}

std::string shortestDouble(double value)
{
    if (std::isnan(value))
        return "nan";
    if (std::isinf(value))
        return value > 0 ? "inf" : "-inf";
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}

std::string csvField(std::string_view text)
{
    if (text.find_first_of(",\"\r\n") == std::string_view::npos)
        return std::string(text);
    std::string out = "\"";
    for (char c : text) {
        if (c == '"')
            out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string metricsToCsv(const std::vector<MetricRow>& rows)
{
    std::string out = "run,run_name,metric,step,value,time,elapsed_s\r\n";
    for (const MetricRow& r : rows) {
        out += std::to_string(r.runId);
        out += ',';
        out += csvField(r.runName);
        out += ',';
        out += csvField(r.metric);
        out += ',';
        out += std::to_string(r.step);
        out += ',';
        out += shortestDouble(r.value);
        out += ',';
        out += shortestDouble(r.time);
        out += ',';
        out += shortestDouble(r.elapsed);
        out += "\r\n";
    }
    return out;
}

std::string metricsToJson(const std::vector<MetricRow>& rows)
{
    auto number = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
    nlohmann::json out = nlohmann::json::array();
    for (const MetricRow& r : rows) {
        out.push_back({ { "run", r.runId }, { "run_name", r.runName }, { "metric", r.metric }, { "step", r.step },
            { "value", number(r.value) }, { "time", number(r.time) }, { "elapsed_s", number(r.elapsed) } });
    }
    return out.dump(1) + "\n";
}

} // namespace tunebench
