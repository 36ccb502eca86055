#pragma once

#include "core/store/metrics.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::ui {

// One run's metrics as the Compare page holds them.
struct RunMetrics {
    qint64 id = 0;
    QString label;
    std::string configJson;
    std::optional<double> startedAt; // seconds since the epoch, as the store keeps it
    std::map<std::string, std::vector<MetricPoint>> series;
};

// The key that runs differing only in their seed share: the flattened config
// without any key whose last part is "seed" (training.seed, data.seed, ...).
QString seedGroupKey(const std::string& configJson);

struct MeanStd {
    double mean = 0;
    double std = 0; // sample standard deviation (n - 1); 0 for one value
    int n = 0;
};
MeanStd meanStd(const std::vector<double>& values);

// Whether a larger value of the metric is better (accuracies, rewards,
// throughput, diversity); losses, norms, perplexity and forgetting are better small.
bool higherIsBetter(const QString& metric);

struct SummaryRow {
    QString group; // the runs' labels joined
    QList<qint64> runs;
    QString metric;
    MeanStd finalValue; // over the runs of the group: each run's last value
    MeanStd bestValue; // each run's best value (min or max by higherIsBetter)
};
// Groups runs by seedGroupKey (in the order they first appear) and, for each
// group and metric that at least one run of it recorded, the mean and spread of
// the final and best values over the runs that have it.
std::vector<SummaryRow> summarizeBySeed(const std::vector<RunMetrics>& runs, const QStringList& metrics);

// The axes of the learning-versus-forgetting scatter.
struct LearningForgettingPoint {
    qint64 runId = 0;
    double learning = 0; // first minus final of the learning metric (a drop in loss is positive)
    double forgetting = 0; // the final forgetting measure
};
struct LearningForgetting {
    QString learningMetric; // "eval_loss" when every run recorded it, else "loss"
    QString forgettingMetric; // "forgetting/delta_loss"
    std::vector<LearningForgettingPoint> points;
    QList<qint64> missing; // runs without the forgetting measure or the learning metric
};
LearningForgetting learningVersusForgetting(const std::vector<RunMetrics>& runs);

// The x value of each point under the Compare page's axis choices.
enum class XAxis { Step, Tokens, Time };
// Step: the step. Time: seconds since the run started (its startedAt, else its
// first recorded point). Tokens: tokens seen by that step, integrated from the
// tokens_per_s metric over the time between its points (nothing without it).
std::optional<std::vector<double>> xValues(const RunMetrics& run, const std::vector<MetricPoint>& points, XAxis axis);

} // namespace tunebench::ui
