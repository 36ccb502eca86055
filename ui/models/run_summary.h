#pragma once

#include "core/stats/compare.h"
#include "core/store/metrics.h"

#include <QList>
#include <QString>
#include <QStringList>

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {
struct RunRecord;
}

namespace tunebench::ui {

// One run's metrics as the Compare page holds them.
struct RunMetrics {
    qint64 id = 0;
    QString label; // "#3 name (status)"
    QString name; // the run's name, what the plots write beside its point
    QString method; // methodLabel(): the adapter and objective, or the merge
    std::string configJson;
    std::optional<double> startedAt; // seconds since the epoch, as the store keeps it
    std::map<std::string, std::vector<MetricPoint>> series;
};

// "lora / sft", or "merge: ties" for a merged run (its lineage names the merge method).
QString methodLabel(const RunRecord& run);

// The key that runs differing only in their seed share: the flattened config
// without any key whose last part is "seed" (training.seed, data.seed, ...) and
// without the run's top-level "name".
QString seedGroupKey(const std::string& configJson);
// The run's training.seed (else the first key named "seed"), as written in its config; empty when none.
QString runSeed(const std::string& configJson);

// A metric across the runs of a seed group: core/stats' describe() with the
// interval's method named. NaN where undefined (std and the interval for n < 2).
struct MeanStd {
    double mean = std::numeric_limits<double>::quiet_NaN();
    double std = std::numeric_limits<double>::quiet_NaN(); // sample standard deviation (n - 1)
    int n = 0;
    double ciLow = std::numeric_limits<double>::quiet_NaN(); // 95%
    double ciHigh = std::numeric_limits<double>::quiet_NaN();
    stats::IntervalMethod ciMethod = stats::IntervalMethod::StudentT;
};
// The interval by Student's t, or by the percentile bootstrap (seeded, so the
// same runs always show the same interval).
MeanStd meanStd(const std::vector<double>& values, stats::IntervalMethod method = stats::IntervalMethod::StudentT);
// "1.05 ± 0.0707" (just the mean for one value) and "[0.41, 1.69] (t)" (empty for n < 2).
QString meanStdText(const MeanStd& m);
QString intervalText(const MeanStd& m);

// Whether a larger value of the metric is better (accuracies, rewards,
// throughput, diversity); losses, norms, perplexity and forgetting are better small.
bool higherIsBetter(const QString& metric);

struct SummaryRow {
    QString groupKey; // seedGroupKey of its runs
    QString group; // the runs' labels joined
    QString method; // the group's methodLabel
    QList<qint64> runs;
    QString metric;
    MeanStd finalValue; // over the runs of the group: each run's last value
    MeanStd bestValue; // each run's best value (min or max by higherIsBetter)
    std::vector<double> finals; // per run that has the metric, in the group's order
    QStringList seeds; // the same runs' seeds (runSeed)
};
// Groups runs by seedGroupKey (in the order they first appear) and, for each
// group and metric that at least one run of it recorded, the mean, spread and
// interval of the final and best values over the runs that have it.
std::vector<SummaryRow> summarizeBySeed(const std::vector<RunMetrics>& runs, const QStringList& metrics,
    stats::IntervalMethod method = stats::IntervalMethod::StudentT);

// Two seed groups' final values of one metric compared: paired by seed when both
// groups ran exactly the same seeds (each seed once), else Welch's test.
stats::GroupTest compareGroups(
    const SummaryRow& a, const SummaryRow& b, stats::IntervalMethod method = stats::IntervalMethod::StudentT);
// One line for the page and reports: test, difference, interval, p, effect size and the verdict.
QString groupTestText(const stats::GroupTest& test);

// What a run's task result is on the learning-versus-forgetting and Pareto views.
// The default target (defaultTargetMetric) is the demo's measured target
// accuracy, else its target loss, else the eval-loss improvement (first - final
// eval_loss); the train-loss drop is never chosen on its own, since a model can
// fit its training data and still learn nothing that transfers.
QString defaultTargetMetric(const std::vector<RunMetrics>& runs);
// The run's value for the target: "eval_loss" gives the improvement (first - final,
// none with fewer than two evaluations), any other metric its final value.
std::optional<double> targetValue(const RunMetrics& run, const QString& metric);
// "eval loss improvement (first − final eval_loss)" or "demo/target_accuracy (final)".
QString targetLabel(const QString& metric);
// Whether a larger target value is better (the improvement is; otherwise higherIsBetter).
bool targetHigherIsBetter(const QString& metric);

// A point per run and a point per seed group (means with std error bars).
struct LearningForgettingPoint {
    qint64 runId = 0;
    QString name;
    QString method;
    QString groupKey;
    double learning = 0; // the target value
    double forgetting = 0; // the final forgetting measure
};
struct PointGroup {
    QString groupKey;
    QString label; // the runs' names joined
    QString method;
    QList<qint64> runs;
    MeanStd x;
    MeanStd y;
};
struct LearningForgetting {
    QString learningMetric; // the target metric
    QString forgettingMetric; // "forgetting/delta_loss"
    std::vector<LearningForgettingPoint> points;
    std::vector<PointGroup> groups; // in the order their runs first appear
    QList<qint64> missing; // runs without the forgetting measure or the target
};
// target: empty for defaultTargetMetric(runs).
LearningForgetting learningVersusForgetting(const std::vector<RunMetrics>& runs, const QString& target = {});

// The Pareto view: one point per seed group, task gain (the target) against a
// cost that is better small: a forgetting measure, the run time ("time", seconds
// from the run's start to its last recorded point) or a memory metric.
inline const QString kTimeCost = QStringLiteral("time");
std::optional<double> costValue(const RunMetrics& run, const QString& cost);
struct ParetoView {
    QString target;
    QString cost;
    std::vector<PointGroup> groups; // x: cost, y: target
    std::vector<bool> onFront; // per group: no other group is at least as good on both and better on one
    QList<qint64> missing;
};
ParetoView paretoView(const std::vector<RunMetrics>& runs, const QString& target, const QString& cost);
// Indices not dominated: lower x is better; y better higher when yHigherIsBetter.
std::vector<bool> paretoFront(const std::vector<double>& xs, const std::vector<double>& ys, bool yHigherIsBetter);

// Parallel coordinates over the seed groups: one axis per numeric configuration
// key that differs between the groups (the seeds left out), then one per metric
// (the group's mean final value); a line per group.
struct ParallelAxis {
    QString name;
    bool isConfig = false;
    double min = 0;
    double max = 0;
};
struct ParallelLine {
    QString groupKey;
    QString label;
    QString method;
    std::vector<double> values; // per axis; NaN where the group lacks it
};
struct ParallelCoordinates {
    std::vector<ParallelAxis> axes;
    std::vector<ParallelLine> lines;
    // The value of line l on axis a scaled to [0, 1] by the axis' range (0.5 for a flat axis).
    double scaled(std::size_t line, std::size_t axis) const;
};
ParallelCoordinates parallelCoordinates(const std::vector<RunMetrics>& runs, const QStringList& metrics);

// The x value of each point under the Compare page's axis choices.
enum class XAxis { Step, Tokens, Time };
// Step: the step. Time: seconds since the run started (its startedAt, else its
// first recorded point). Tokens: tokens seen by that step, integrated from the
// tokens_per_s metric over the time between its points (nothing without it).
std::optional<std::vector<double>> xValues(const RunMetrics& run, const std::vector<MetricPoint>& points, XAxis axis);

} // namespace tunebench::ui
