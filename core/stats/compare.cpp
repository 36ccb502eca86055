#include "core/stats/compare.h"

#include "core/stats/describe.h"
#include "core/util/splitmix64.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <stdexcept>
#include <vector>

namespace tunebench::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

double mean(std::span<const double> values)
{
    double sum = 0.0;
    for (double v : values)
        sum += v;
    return values.empty() ? kNaN : sum / static_cast<double>(values.size());
}

double variance(std::span<const double> values, double m)
{
    if (values.size() < 2)
        return kNaN;
    double squares = 0.0;
    for (double v : values)
        squares += (v - m) * (v - m);
    return squares / static_cast<double>(values.size() - 1);
}

// Uniform in [0, n): 53 random bits scaled, a bias below 2^-40 for the sample sizes here.
std::size_t randomIndex(SplitMix64& random, std::size_t n)
{
    return std::min(n - 1, static_cast<std::size_t>(random.unit() * static_cast<double>(n)));
}

double resampledMean(std::span<const double> values, SplitMix64& random)
{
    double sum = 0.0;
    for (std::size_t i = 0; i < values.size(); ++i)
        sum += values[randomIndex(random, values.size())];
    return sum / static_cast<double>(values.size());
}

// The q-quantile of sorted values, interpolated linearly between order statistics
// (Hyndman & Fan's type 7, numpy's default).
double quantileOfSorted(const std::vector<double>& sorted, double q)
{
    const double position = q * static_cast<double>(sorted.size() - 1);
    const auto below = static_cast<std::size_t>(std::floor(position));
    const std::size_t above = std::min(below + 1, sorted.size() - 1);
    return sorted[below] + (position - static_cast<double>(below)) * (sorted[above] - sorted[below]);
}

// Percentile interval of the resampled statistic: the resampled means of a
// (minus those of b when b is given, the groups resampled independently).
Interval bootstrapInterval(
    std::span<const double> a, std::span<const double> b, bool withB, const BootstrapOptions& options)
{
    Interval out;
    out.level = options.level;
    out.method = IntervalMethod::Bootstrap;
    if (a.size() < 2 || (withB && b.size() < 2) || options.resamples < 1)
        return out;
    SplitMix64 random(options.seed);
    std::vector<double> statistics;
    statistics.reserve(static_cast<std::size_t>(options.resamples));
    for (int i = 0; i < options.resamples; ++i) {
        double s = resampledMean(a, random);
        if (withB)
            s -= resampledMean(b, random);
        statistics.push_back(s);
    }
    std::sort(statistics.begin(), statistics.end());
    const double alpha = 1.0 - options.level;
    out.low = quantileOfSorted(statistics, alpha / 2.0);
    out.high = quantileOfSorted(statistics, 1.0 - alpha / 2.0);
    return out;
}

Interval tInterval(double centre, double standardError, double df, double level)
{
    Interval out;
    out.level = level;
    out.method = IntervalMethod::StudentT;
    const double half = studentTQuantile(0.5 + level / 2.0, df) * standardError;
    if (std::isfinite(half)) {
        out.low = centre - half;
        out.high = centre + half;
    }
    return out;
}

// Hedges' exact correction J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2)).
double hedgesCorrection(double df)
{
    if (!(df > 1.0))
        return kNaN;
    return std::exp(std::lgamma(df / 2.0) - 0.5 * std::log(df / 2.0) - std::lgamma((df - 1.0) / 2.0));
}

std::string format(double v)
{
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.3g", v);
    return buffer;
}

void decide(GroupTest& test)
{
    const std::size_t n = std::min(test.nA, test.nB);
    const std::string unit = test.kind == TestKind::Paired ? "pairs" : "runs per group";
    if (n < kMinimumRunsPerGroup) {
        test.verdict = Verdict::TooFewRuns;
        test.reason = std::to_string(n) + " " + unit + ", fewer than " + std::to_string(kMinimumRunsPerGroup)
            + ": too few to conclude";
    } else if (!std::isfinite(test.t) || std::isnan(test.differenceInterval.low)) {
        test.verdict = Verdict::TooFewRuns;
        test.reason = "no spread between the runs: no test possible";
    } else if (test.differenceInterval.contains(0.0)) {
        test.verdict = Verdict::NoDifferenceShown;
        test.reason = "the 95% " + intervalMethodName(test.differenceInterval.method) + " interval of the difference ["
            + format(test.differenceInterval.low) + ", " + format(test.differenceInterval.high)
            + "] contains 0 (p = " + format(test.p) + "): no difference shown";
    } else {
        test.verdict = Verdict::Difference;
        test.reason = "the 95% " + intervalMethodName(test.differenceInterval.method) + " interval of the difference ["
            + format(test.differenceInterval.low) + ", " + format(test.differenceInterval.high)
            + "] excludes 0 (p = " + format(test.p) + ")";
    }
}

} // namespace

std::string intervalMethodName(IntervalMethod method)
{
    return method == IntervalMethod::Bootstrap ? "bootstrap" : "t";
}

std::string testKindName(TestKind kind)
{
    return kind == TestKind::Paired ? "paired" : "welch";
}

std::string verdictText(Verdict verdict)
{
    switch (verdict) {
    case Verdict::TooFewRuns:
        return "too few runs";
    case Verdict::NoDifferenceShown:
        return "no difference shown";
    case Verdict::Difference:
        return "difference";
    }
    return {};
}

Interval meanInterval(
    std::span<const double> values, IntervalMethod method, const BootstrapOptions& bootstrap, double level)
{
    if (method == IntervalMethod::Bootstrap) {
        BootstrapOptions options = bootstrap;
        options.level = level;
        return bootstrapInterval(values, {}, false, options);
    }
    const double m = mean(values);
    const double n = static_cast<double>(values.size());
    return tInterval(m, std::sqrt(variance(values, m) / n), n - 1.0, level);
}

GroupTest welchTest(
    std::span<const double> a, std::span<const double> b, IntervalMethod interval, const BootstrapOptions& bootstrap)
{
    GroupTest test;
    test.kind = TestKind::Welch;
    test.effectName = "d";
    test.nA = a.size();
    test.nB = b.size();
    test.meanA = mean(a);
    test.meanB = mean(b);
    test.difference = test.meanA - test.meanB;
    const double nA = static_cast<double>(a.size());
    const double nB = static_cast<double>(b.size());
    const double varA = variance(a, test.meanA);
    const double varB = variance(b, test.meanB);
    const double seA = varA / nA;
    const double seB = varB / nB;
    const double standardError = std::sqrt(seA + seB);
    if (standardError > 0.0) {
        test.t = test.difference / standardError;
        // Welch-Satterthwaite.
        test.df = (seA + seB) * (seA + seB) / (seA * seA / (nA - 1.0) + seB * seB / (nB - 1.0));
        test.p = studentTTwoSidedP(test.t, test.df);
    }
    const double pooledDf = nA + nB - 2.0;
    const double pooledSd = std::sqrt(((nA - 1.0) * varA + (nB - 1.0) * varB) / pooledDf);
    if (pooledSd > 0.0) {
        test.effectSize = test.difference / pooledSd;
        test.hedgesG = test.effectSize * hedgesCorrection(pooledDf);
    }
    test.differenceInterval = interval == IntervalMethod::Bootstrap
        ? bootstrapInterval(a, b, true, bootstrap)
        : tInterval(test.difference, standardError, test.df, 0.95);
    decide(test);
    return test;
}

GroupTest pairedTest(
    std::span<const double> a, std::span<const double> b, IntervalMethod interval, const BootstrapOptions& bootstrap)
{
    if (a.size() != b.size())
        throw std::invalid_argument("paired test: " + std::to_string(a.size()) + " values against "
            + std::to_string(b.size()) + " (each run needs its partner with the same seed)");
    GroupTest test;
    test.kind = TestKind::Paired;
    test.effectName = "d_z";
    test.nA = test.nB = a.size();
    test.meanA = mean(a);
    test.meanB = mean(b);
    std::vector<double> differences(a.size());
    for (std::size_t i = 0; i < a.size(); ++i)
        differences[i] = a[i] - b[i];
    test.difference = mean(differences);
    const double n = static_cast<double>(a.size());
    const double sd = std::sqrt(variance(differences, test.difference));
    const double standardError = sd / std::sqrt(n);
    test.df = n - 1.0;
    if (standardError > 0.0) {
        test.t = test.difference / standardError;
        test.p = studentTTwoSidedP(test.t, test.df);
        test.effectSize = test.difference / sd;
        test.hedgesG = test.effectSize * hedgesCorrection(test.df);
    }
    test.differenceInterval = interval == IntervalMethod::Bootstrap
        ? bootstrapInterval(differences, {}, false, bootstrap)
        : tInterval(test.difference, standardError, test.df, 0.95);
    decide(test);
    return test;
}

GroupTest compareSeedGroups(std::span<const double> a, std::span<const std::string> seedsA, std::span<const double> b,
    std::span<const std::string> seedsB, IntervalMethod interval, const BootstrapOptions& bootstrap)
{
    const std::set<std::string> setA(seedsA.begin(), seedsA.end());
    const std::set<std::string> setB(seedsB.begin(), seedsB.end());
    const bool paired = seedsA.size() == a.size() && seedsB.size() == b.size() && !setA.count(std::string())
        && setA.size() == seedsA.size() && setB.size() == seedsB.size() && setA == setB;
    if (!paired)
        return welchTest(a, b, interval, bootstrap);
    std::vector<double> x(a.begin(), a.end());
    std::vector<double> y;
    for (const std::string& seed : seedsA)
        y.push_back(b[static_cast<std::size_t>(std::find(seedsB.begin(), seedsB.end(), seed) - seedsB.begin())]);
    return pairedTest(x, y, interval, bootstrap);
}

} // namespace tunebench::stats
