#include "core/stats/describe.h"

#include <cmath>

namespace tunebench::stats {

Summary describe(std::span<const double> values)
{
    Summary s;
    s.n = values.size();
    if (values.empty())
        return s;
    double sum = 0.0;
    for (double v : values)
        sum += v;
    s.mean = sum / static_cast<double>(s.n);
    if (s.n < 2)
        return s;
    // Two passes: the sum of squared deviations from the mean does not cancel the
    // way sum(x^2) - n mean^2 does for metrics far from zero.
    double squares = 0.0;
    for (double v : values)
        squares += (v - s.mean) * (v - s.mean);
    s.std = std::sqrt(squares / static_cast<double>(s.n - 1));
    const double half = studentTQuantile(0.975, static_cast<double>(s.n - 1)) * s.std / std::sqrt(double(s.n));
    s.ci95Low = s.mean - half;
    s.ci95High = s.mean + half;
    return s;
}

} // namespace tunebench::stats
