#pragma once

#include <cstddef>
#include <limits>
#include <span>

namespace tunebench::stats {

// Mean, spread and a 95% confidence interval of a metric across runs (usually the
// seeds of one configuration). NaN where a value is undefined.
struct Summary {
    std::size_t n = 0;
    double mean = std::numeric_limits<double>::quiet_NaN();
    double std = std::numeric_limits<double>::quiet_NaN(); // sample standard deviation (n - 1)
    double ci95Low = std::numeric_limits<double>::quiet_NaN();
    double ci95High = std::numeric_limits<double>::quiet_NaN();
};

// The values are taken as given (a NaN among them makes every field NaN): callers
// leave out the runs that lack the metric. The interval is Student's t interval,
// mean +- t(0.975, n-1) std / sqrt(n); with n < 2 std and the interval are NaN
// (n = 0: the mean too).
Summary describe(std::span<const double> values);

// P(T <= t) for Student's t with df > 0 degrees of freedom (df = infinity: the
// standard normal). NaN for df <= 0 or a NaN argument.
double studentTCdf(double t, double df);

// P(T > |t|) + P(T < -|t|), computed without the cancellation of 1 - cdf, so tiny
// p-values keep their relative accuracy.
double studentTTwoSidedP(double t, double df);

// The p-quantile of Student's t (the inverse of studentTCdf): NaN outside 0 < p < 1
// or for df <= 0; about 1e-12 relative accuracy.
double studentTQuantile(double p, double df);

} // namespace tunebench::stats
