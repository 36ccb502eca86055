// Student's t distribution, written out rather than taken from a library: core has
// no statistics dependency, and the few functions needed are short.
//
// The tail probability is the regularized incomplete beta function,
//   P(|T| > t) = I_x(df/2, 1/2) with x = df / (df + t^2),
// evaluated by its continued fraction (modified Lentz), and the quantile solves
// tail(t) = p by Newton steps on log tail(t), kept inside a bisection bracket.

#include "core/stats/describe.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace tunebench::stats {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kEpsilon = 1e-16;
constexpr double kTiny = 1e-300; // keeps Lentz's denominators away from zero

// The continued fraction of I_x(a, b) without its prefactor; converges fast for
// x < (a + 1) / (a + b + 2).
double betaContinuedFraction(double a, double b, double x)
{
    double c = 1.0;
    double d = 1.0 - (a + b) * x / (a + 1.0);
    if (std::abs(d) < kTiny)
        d = kTiny;
    d = 1.0 / d;
    double f = d;
    for (int m = 1; m <= 10000; ++m) {
        // Even term: m (b - m) x / ((a + 2m - 1)(a + 2m)).
        double coefficient = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        d = 1.0 + coefficient * d;
        c = 1.0 + coefficient / c;
        d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
        c = std::abs(c) < kTiny ? kTiny : c;
        f *= d * c;
        // Odd term: -(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)).
        coefficient = -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0));
        d = 1.0 + coefficient * d;
        c = 1.0 + coefficient / c;
        d = 1.0 / (std::abs(d) < kTiny ? kTiny : d);
        c = std::abs(c) < kTiny ? kTiny : c;
        const double step = d * c;
        f *= step;
        if (std::abs(step - 1.0) < kEpsilon)
            break;
    }
    return f;
}

// I_x(a, b), with y = 1 - x given separately so that neither loses digits to 1 - x.
double regularizedIncompleteBeta(double a, double b, double x, double y)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    const double logPrefactor
        = a * std::log(x) + b * std::log(y) + std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b);
    if (x < (a + 1.0) / (a + b + 2.0))
        return std::exp(logPrefactor) * betaContinuedFraction(a, b, x) / a;
    return 1.0 - std::exp(logPrefactor) * betaContinuedFraction(b, a, y) / b;
}

// P(T > t) for t >= 0.
double upperTail(double t, double df)
{
    if (std::isinf(df))
        return 0.5 * std::erfc(t / std::numbers::sqrt2);
    if (std::isinf(t))
        return 0.0;
    const double t2 = t * t;
    // x = df / (df + t^2), 1 - x = t^2 / (df + t^2).
    return 0.5 * regularizedIncompleteBeta(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2));
}

double logDensity(double t, double df)
{
    if (std::isinf(df))
        return -0.5 * t * t - 0.5 * std::log(2.0 * std::numbers::pi);
    return std::lgamma(0.5 * (df + 1.0)) - std::lgamma(0.5 * df) - 0.5 * std::log(df * std::numbers::pi)
        - 0.5 * (df + 1.0) * std::log1p(t * t / df);
}

// The t >= 0 with upperTail(t) = p, for 0 < p < 0.5.
double upperQuantile(double p, double df)
{
    double low = 0.0;
    double high = 1.0;
    while (upperTail(high, df) > p) {
        low = high;
        high *= 2.0;
        if (std::isinf(high))
            return high;
    }
    double t = 0.5 * (low + high);
    const double logP = std::log(p);
    for (int iteration = 0; iteration < 400; ++iteration) {
        const double tail = upperTail(t, df);
        if (tail > p)
            low = t;
        else
            high = t;
        // g(t) = log tail(t) - log p is close to linear in the tails, where a plain
        // Newton step on tail(t) - p crawls; g'(t) = -density / tail.
        const double slope = -std::exp(logDensity(t, df)) / tail;
        double next = t - (std::log(tail) - logP) / slope;
        if (!(next > low && next < high) || !std::isfinite(next))
            next = 0.5 * (low + high);
        const double change = std::abs(next - t);
        t = next;
        if (change <= 1e-15 * std::max(1.0, t) || high - low <= 1e-15 * std::max(1.0, high))
            break;
    }
    return t;
}

} // namespace

double studentTCdf(double t, double df)
{
    if (std::isnan(t) || std::isnan(df) || df <= 0.0)
        return kNaN;
    const double tail = upperTail(std::abs(t), df);
    return t < 0.0 ? tail : 1.0 - tail;
}

double studentTTwoSidedP(double t, double df)
{
    if (std::isnan(t) || std::isnan(df) || df <= 0.0)
        return kNaN;
    return std::min(1.0, 2.0 * upperTail(std::abs(t), df));
}

double studentTQuantile(double p, double df)
{
    if (std::isnan(p) || std::isnan(df) || df <= 0.0 || p <= 0.0 || p >= 1.0)
        return kNaN;
    if (p == 0.5)
        return 0.0;
    // Solve in the smaller tail: p and 1 - p are both exact there, and the
    // distribution's symmetry gives the other side.
    return p < 0.5 ? -upperQuantile(p, df) : upperQuantile(1.0 - p, df);
}

} // namespace tunebench::stats
