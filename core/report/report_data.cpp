#include "core/report/report_data.h"

#include "core/report/environment.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

namespace tunebench {

namespace {

bool contains(const std::string& text, const char* part)
{
    return text.find(part) != std::string::npos;
}

void flattenInto(const nlohmann::json& value, const std::string& prefix, std::map<std::string, std::string>& out)
{
    if (value.is_object() && !value.empty()) {
        for (const auto& [key, child] : value.items())
            flattenInto(child, prefix.empty() ? key : prefix + "." + key, out);
        return;
    }
    out[prefix.empty() ? std::string("(config)") : prefix]
        = value.is_string() ? value.get<std::string>() : value.dump();
}

ReportMetric summarise(const std::string& name, const std::vector<MetricPoint>& points)
{
    ReportMetric m;
    m.name = name;
    m.count = static_cast<std::int64_t>(points.size());
    m.direction = metricDirection(name);
    if (points.empty())
        return m;
    m.final = points.back().value;
    m.finalStep = points.back().step;
    if (m.direction == MetricDirection::None)
        return m;
    for (const MetricPoint& p : points) {
        if (p.value != p.value) // NaN is never best
            continue;
        const bool better = !m.best || (m.direction == MetricDirection::Lower ? p.value < *m.best : p.value > *m.best);
        if (better) {
            m.best = p.value;
            m.bestStep = p.step;
        }
    }
    return m;
}

nlohmann::json lastEvent(const std::vector<EventRecord>& events, const std::string& kind)
{
    for (auto it = events.rbegin(); it != events.rend(); ++it) {
        if (it->kind == kind)
            return nlohmann::json::parse(it->payloadJson, nullptr, false);
    }
    return nullptr;
}

// The run's seed: the key named seed wherever the configuration keeps it (`seed` as a run is recorded flat,
// `training.seed` in a run file), the one the grouping leaves out.
std::string seedOf(const std::map<std::string, std::string>& flat)
{
    for (const auto& [path, value] : flat) {
        const auto dot = path.rfind('.');
        if ((dot == std::string::npos ? path : path.substr(dot + 1)) == "seed")
            return value;
    }
    return {};
}

// Seed groups and their statistics; flat holds each run's flattened configuration.
void collectSeedGroups(ReportData& data, const std::vector<std::map<std::string, std::string>>& flat)
{
    std::vector<std::string> keys;
    for (std::size_t i = 0; i < data.runs.size(); ++i) {
        std::string key;
        for (const auto& [path, value] : flat[i]) {
            const auto dot = path.rfind('.');
            if ((dot == std::string::npos ? path : path.substr(dot + 1)) == "seed" || path == "name")
                continue;
            key += path + "=" + value + "\n";
        }
        const auto it = std::find(keys.begin(), keys.end(), key);
        if (it == keys.end()) {
            keys.push_back(key);
            data.groups.push_back({ data.runs[i].run.adapter + " / " + data.runs[i].run.objective, {}, {} });
        }
        data.groups[static_cast<std::size_t>(std::find(keys.begin(), keys.end(), key) - keys.begin())].runIds.push_back(
            data.runs[i].run.id);
    }
    for (ReportGroup& group : data.groups) {
        for (const std::string& name : data.metricNames()) {
            if (name == "lr")
                continue; // a setting more than a result
            ReportGroupMetric m;
            m.name = name;
            for (std::size_t i = 0; i < data.runs.size(); ++i) {
                const ReportRun& r = data.runs[i];
                if (std::find(group.runIds.begin(), group.runIds.end(), r.run.id) == group.runIds.end())
                    continue;
                for (const ReportMetric& metric : r.metrics) {
                    if (metric.name == name && metric.count > 0) {
                        m.finals.push_back(metric.final);
                        m.seeds.push_back(seedOf(flat[i]));
                    }
                }
            }
            if (m.finals.empty())
                continue;
            m.summary = stats::describe(m.finals);
            group.metrics.push_back(std::move(m));
        }
    }
    for (std::size_t g = 1; g < data.groups.size(); ++g) {
        for (const ReportGroupMetric& mine : data.groups[g].metrics) {
            for (const ReportGroupMetric& first : data.groups[0].metrics) {
                if (first.name == mine.name)
                    data.groupTests.push_back(
                        { g, mine.name, stats::compareSeedGroups(mine.finals, mine.seeds, first.finals, first.seeds) });
            }
        }
    }
}

} // namespace

MetricDirection metricDirection(const std::string& name)
{
    if (contains(name, "loss") || contains(name, "perplexity") || contains(name, "ppl") || contains(name, "kl")
        || contains(name, "self_bleu") || contains(name, "seconds") || contains(name, "zero_std"))
        return MetricDirection::Lower;
    if (contains(name, "accuracy") || contains(name, "reward") || contains(name, "margin")
        || contains(name, "tokens_per_s") || contains(name, "samples_per_s") || name == "mfu"
        || contains(name, "distinct") || contains(name, "ead") || contains(name, "entropy")
        || contains(name, "embedding") || contains(name, "diversity"))
        return MetricDirection::Higher;
    return MetricDirection::None;
}

std::map<std::string, std::string> flattenJson(const nlohmann::json& value)
{
    std::map<std::string, std::string> out;
    flattenInto(value, "", out);
    return out;
}

std::vector<std::int64_t> parseRunIds(const std::string& text, const std::string& what)
{
    std::vector<std::int64_t> ids;
    std::size_t begin = 0;
    while (begin <= text.size()) {
        const std::size_t end = std::min(text.find(',', begin), text.size());
        const std::string part = text.substr(begin, end - begin);
        std::size_t used = 0;
        long long id = 0;
        try {
            id = std::stoll(part, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (part.empty() || used != part.size() || id <= 0)
            throw InputError(what + ": expected run ids separated by commas (e.g. 3 or 3,5), got '" + text + "'");
        ids.push_back(id);
        begin = end + 1;
    }
    return ids;
}

std::size_t ReportData::differenceCount() const
{
    return static_cast<std::size_t>(
        std::count_if(config.begin(), config.end(), [](const ConfigRow& r) { return r.differs; }));
}

std::vector<std::string> ReportData::metricNames() const
{
    std::set<std::string> names;
    for (const ReportRun& r : runs) {
        for (const ReportMetric& m : r.metrics)
            names.insert(m.name);
    }
    // What a reader looks at first leads; the rest (diversity/*, forgetting/*, ...) by name.
    static const char* const kLeading[] = { "loss", "eval_loss", "lr", "grad_norm", "tokens_per_s" };
    std::vector<std::string> out;
    for (const char* name : kLeading) {
        if (names.erase(name))
            out.emplace_back(name);
    }
    out.insert(out.end(), names.begin(), names.end());
    return out;
}

namespace {

void collectPipelines(Workspace& workspace, ReportData& data)
{
    PipelineStore pipelines(workspace.db());
    RunStore runs(workspace.db());
    std::set<std::int64_t> seen;
    for (const ReportRun& r : data.runs) {
        const auto stage = pipelines.stageOf(r.run.id);
        if (!stage || !seen.insert(stage->first).second)
            continue;
        const auto record = pipelines.find(stage->first);
        if (!record)
            continue;
        ReportPipeline p;
        p.pipeline = *record;
        p.stages = pipelines.stages(record->id);
        for (const PipelineStageRecord& s : p.stages) {
            const auto run = s.runId ? runs.find(*s.runId) : std::nullopt;
            p.runStatus.push_back(run ? std::optional<RunStatus>(run->status) : std::nullopt);
        }
        p.matrix = pipelines.matrix(record->id);
        p.measures = continualMeasures(p.matrix);
        data.pipelines.push_back(std::move(p));
    }
}

} // namespace

std::vector<std::vector<double>> matrixQuality(const ForgettingMatrix& matrix)
{
    std::vector<std::vector<double>> q(matrix.rows.size(), std::vector<double>(matrix.columns.size(), NAN));
    for (std::size_t c = 0; c < matrix.columns.size(); ++c) {
        double low = INFINITY, high = -INFINITY;
        for (const auto& row : matrix.rows) {
            if (c < row.size() && std::isfinite(row[c])) {
                low = std::min(low, row[c]);
                high = std::max(high, row[c]);
            }
        }
        for (std::size_t r = 0; r < matrix.rows.size(); ++r) {
            const double v = c < matrix.rows[r].size() ? matrix.rows[r][c] : NAN;
            if (!std::isfinite(v))
                continue;
            const double up = high > low ? (v - low) / (high - low) : 1.0;
            q[r][c] = matrix.columns[c].higherIsBetter || high <= low ? up : 1.0 - up;
        }
    }
    return q;
}

// Long for a reason: the report's sections gathered from the store in the order the report shows them.
ReportData collectReportData(Workspace& workspace, const std::vector<std::int64_t>& runIds)
{
    if (runIds.empty())
        throw InputError("a report needs at least one run");
    ReportData data;
    data.workspace = workspace.root().string();
    data.createdAt = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    RunStore runs(workspace.db());
    DatasetStore datasets(workspace.db());
    ArtifactStore artifacts(workspace.db());
    MetricQuery metrics(workspace.db());
    std::set<std::int64_t> seen;
    for (std::int64_t id : runIds) {
        if (!seen.insert(id).second)
            throw InputError("run " + std::to_string(id) + " is named twice");
        const auto record = runs.find(id);
        if (!record)
            throw InputError("no run with id " + std::to_string(id) + " in workspace " + workspace.root().string());
        ReportRun r;
        r.run = *record;
        r.config = nlohmann::json::parse(record->configJson, nullptr, false);
        if (r.config.is_discarded())
            r.config = record->configJson;

        std::optional<std::int64_t> datasetId = record->datasetId;
        std::set<std::int64_t> visited; // a damaged store with a cycle must not loop
        while (datasetId && visited.insert(*datasetId).second) {
            const auto d = datasets.find(*datasetId);
            if (!d)
                break;
            r.lineage.push_back(*d);
            datasetId = d->parentId;
        }

        for (const std::string& name : metrics.names(id)) {
            auto points = metrics.series(id, name);
            r.metrics.push_back(summarise(name, points));
            r.series.emplace(name, std::move(points));
        }

        std::vector<SampleRecord> samples = artifacts.samples(id);
        if (!samples.empty()) {
            std::int64_t first = samples.front().step;
            std::int64_t last = samples.front().step;
            for (const SampleRecord& s : samples) {
                first = std::min(first, s.step);
                last = std::max(last, s.step);
            }
            for (std::int64_t step : { first, last }) {
                std::size_t taken = 0;
                for (const SampleRecord& s : samples) {
                    if (s.step == step && taken < kSamplesPerStep) {
                        r.samples.push_back(s);
                        ++taken;
                    }
                }
                if (first == last)
                    break;
            }
        }

        const std::vector<EventRecord> events = runs.events(id);
        r.startEvent = lastEvent(events, "start");
        r.finishedEvent = lastEvent(events, "finished");
        data.runs.push_back(std::move(r));
    }

    std::vector<std::map<std::string, std::string>> flat;
    std::set<std::string> keys;
    for (const ReportRun& r : data.runs) {
        flat.push_back(flattenJson(r.config));
        for (const auto& [k, v] : flat.back())
            keys.insert(k);
    }
    for (const std::string& key : keys) {
        ConfigRow row;
        row.key = key;
        for (const auto& f : flat) {
            auto it = f.find(key);
            row.values.push_back(it == f.end() ? std::nullopt : std::optional<std::string>(it->second));
        }
        row.differs
            = std::adjacent_find(row.values.begin(), row.values.end(), std::not_equal_to<>()) != row.values.end();
        data.config.push_back(std::move(row));
    }
    collectSeedGroups(data, flat);
    collectPipelines(workspace, data);
    data.environment = describeEnvironment();
    return data;
}

} // namespace tunebench
