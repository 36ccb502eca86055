#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>
#include <string>

namespace tunebench::stats {

// How an interval was computed; every result names its method so that a table
// never shows a bootstrap interval as if it were a t interval.
enum class IntervalMethod {
    StudentT, // mean +- t(1 - alpha/2, df) * standard error
    Bootstrap, // percentile bootstrap over resampled means (BootstrapOptions)
};
std::string intervalMethodName(IntervalMethod method); // "t" or "bootstrap"

struct Interval {
    double low = std::numeric_limits<double>::quiet_NaN();
    double high = std::numeric_limits<double>::quiet_NaN();
    double level = 0.95;
    IntervalMethod method = IntervalMethod::StudentT;
    bool contains(double v) const { return low <= v && v <= high; }
};

struct BootstrapOptions {
    int resamples = 10000;
    std::uint64_t seed = 1; // the same seed and values give the same interval on every platform
    double level = 0.95;
};

// The mean's interval: Student's t (NaN bounds for n < 2) or the percentile
// bootstrap (NaN bounds for n < 2 as well: one value has no spread to resample).
Interval meanInterval(
    std::span<const double> values, IntervalMethod method, const BootstrapOptions& bootstrap = {}, double level = 0.95);

enum class TestKind {
    Welch, // independent groups, unequal variances (Welch-Satterthwaite df)
    Paired, // a[i] and b[i] belong together (the same seed): a one-sample t test on a - b
};
std::string testKindName(TestKind kind); // "welch" or "paired"

// The rule for "can these runs conclude anything?" (docs/architecture.md, Statistics):
// - TooFewRuns: fewer than kMinimumRunsPerGroup runs in a group (pairs when paired),
//   or no spread at all, so no t statistic: the numbers are shown, no conclusion.
// - NoDifferenceShown: the 95% interval of the difference contains 0 (with the t
//   method, the same as p >= 0.05): the groups are not shown to differ.
// - Difference: the interval excludes 0.
enum class Verdict { TooFewRuns, NoDifferenceShown, Difference };
std::string verdictText(Verdict verdict); // "too few runs", "no difference shown", "difference"
constexpr std::size_t kMinimumRunsPerGroup = 3;

struct GroupTest {
    TestKind kind = TestKind::Welch;
    std::size_t nA = 0;
    std::size_t nB = 0; // paired: both are the number of pairs
    double meanA = std::numeric_limits<double>::quiet_NaN();
    double meanB = std::numeric_limits<double>::quiet_NaN();
    double difference = std::numeric_limits<double>::quiet_NaN(); // mean(a) - mean(b) (paired: mean of a - b)
    double t = std::numeric_limits<double>::quiet_NaN();
    double df = std::numeric_limits<double>::quiet_NaN();
    double p = std::numeric_limits<double>::quiet_NaN(); // two-sided, from Student's t
    Interval differenceInterval; // 95% by the method asked for
    // Cohen's d: the difference over the pooled sd ((nA-1) sA^2 + (nB-1) sB^2) / (nA+nB-2)
    // for Welch; d_z, the mean difference over the sd of the differences, when paired.
    double effectSize = std::numeric_limits<double>::quiet_NaN();
    double hedgesG = std::numeric_limits<double>::quiet_NaN(); // d times the exact small-sample correction J(df)
    std::string effectName; // "d" or "d_z"
    Verdict verdict = Verdict::TooFewRuns;
    std::string reason; // the verdict in words, with the numbers that decided it
};

// Welch's t test of a against b.
GroupTest welchTest(std::span<const double> a, std::span<const double> b,
    IntervalMethod interval = IntervalMethod::StudentT, const BootstrapOptions& bootstrap = {});
// The paired t test on a[i] - b[i]; throws std::invalid_argument when the sizes differ.
GroupTest pairedTest(std::span<const double> a, std::span<const double> b,
    IntervalMethod interval = IntervalMethod::StudentT, const BootstrapOptions& bootstrap = {});

// Two seed groups compared: paired by seed when every seed is named once in each
// group and both groups name the same seeds (run i of one and its partner then
// shared data order and initialisation, so the seed's own effect cancels), else
// Welch's test. values[i] belongs to seeds[i]; an empty seed counts as unknown.
GroupTest compareSeedGroups(std::span<const double> a, std::span<const std::string> seedsA, std::span<const double> b,
    std::span<const std::string> seedsB, IntervalMethod interval = IntervalMethod::StudentT,
    const BootstrapOptions& bootstrap = {});

} // namespace tunebench::stats
