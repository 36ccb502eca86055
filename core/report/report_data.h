#pragma once

// What a report on one run or a comparison of runs holds, read from the store
// and the run folders. No Qt: ui/report renders it as HTML, PDF or Markdown.

#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_store.h"
#include "core/stats/compare.h"
#include "core/stats/describe.h"
#include "core/store/artifacts.h"
#include "core/store/datasets.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class Workspace;

// Which way a metric improves, from its name: losses, perplexities, KL and
// self-BLEU fall; accuracies, rewards, margins, throughput and diversity rise;
// others (lr, grad_norm) have no "best".
enum class MetricDirection { Lower, Higher, None };
MetricDirection metricDirection(const std::string& name);

struct ReportMetric {
    std::string name;
    std::int64_t count = 0;
    double final = 0;
    std::int64_t finalStep = 0;
    MetricDirection direction = MetricDirection::None;
    std::optional<double> best; // the min or max by direction; none without a direction
    std::int64_t bestStep = 0;
};

struct ReportRun {
    RunRecord run;
    nlohmann::json config; // the run's configuration (an object; a non-JSON text is kept as a string)
    // The run's dataset first, then its parent, up to the imported one.
    std::vector<DatasetRecord> lineage;
    std::vector<ReportMetric> metrics;
    std::map<std::string, std::vector<MetricPoint>> series;
    // Samples of the first and the last step that stored any (at most kSamplesPerStep each).
    std::vector<SampleRecord> samples;
    nlohmann::json startEvent; // the trainer's "start" event (parameter counts, examples), null if none
    nlohmann::json finishedEvent;
};

// One key of the flattened configurations and its value in each run (none where a run lacks it).
struct ConfigRow {
    std::string key;
    std::vector<std::optional<std::string>> values;
    bool differs = false;
};

// A metric's final values over the runs of one seed group (runs whose
// configurations differ only in keys named "seed" and in their name).
struct ReportGroupMetric {
    std::string name;
    std::vector<double> finals; // per run of the group that recorded it
    std::vector<std::string> seeds; // those runs' training.seed ("" when none)
    stats::Summary summary; // mean, sample std and 95% t interval
};
struct ReportGroup {
    std::string method; // "lora / sft"
    std::vector<std::int64_t> runIds;
    std::vector<ReportGroupMetric> metrics;
};
// A later group against the first, on one metric: paired by seed or Welch
// (stats::compareSeedGroups).
struct ReportGroupTest {
    std::size_t group = 0; // index into groups, compared against groups[0]
    std::string metric;
    stats::GroupTest test;
};

// A pipeline (core/pipeline) one of the report's runs is a stage of: its stages as a chain of runs (each stage's
// run, the run it started from, its model folder) and its forgetting matrix with the continual-learning measures.
struct ReportPipeline {
    PipelineRecord pipeline;
    std::vector<PipelineStageRecord> stages;
    std::vector<std::optional<RunStatus>> runStatus; // per stage; none without a run (or a deleted one)
    ForgettingMatrix matrix;
    std::vector<ContinualMeasures> measures;
};

struct ReportData {
    std::vector<ReportRun> runs;
    std::vector<ReportPipeline> pipelines; // in the order their first run appears
    std::vector<ReportGroup> groups; // in the order their first run appears
    std::vector<ReportGroupTest> groupTests; // each group after the first against the first, per shared metric
    std::vector<ConfigRow> config; // every key, sorted
    std::vector<std::pair<std::string, std::string>> environment;
    std::string workspace;
    double createdAt = 0;

    std::size_t differenceCount() const;
    // Every metric name recorded by any of the runs: loss, eval_loss, lr, grad_norm, tokens_per_s first, the rest
    // sorted.
    std::vector<std::string> metricNames() const;
};

constexpr std::size_t kSamplesPerStep = 6;

// Reads everything a report on runIds (one or more, in that order) shows. Throws
// InputError for an empty list, a repeated or an unknown run id.
ReportData collectReportData(Workspace& workspace, const std::vector<std::int64_t>& runIds);

// {"a": {"b": 1}, "c": [1, 2]} -> {"a.b": "1", "c": "[1,2]"}; strings lose their quotes.
std::map<std::string, std::string> flattenJson(const nlohmann::json& value);

// Each cell's quality within its column, for colouring a forgetting matrix: 0 at the column's worst value, 1 at its
// best (a column falling with quality, such as a loss, inverted), 1 for a column of one value, NaN where missing.
std::vector<std::vector<double>> matrixQuality(const ForgettingMatrix& matrix);

// "1,2,5" -> {1, 2, 5}; throws InputError naming what (e.g. "--runs") for anything else.
std::vector<std::int64_t> parseRunIds(const std::string& text, const std::string& what);

} // namespace tunebench
