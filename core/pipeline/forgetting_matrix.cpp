#include "core/pipeline/forgetting_matrix.h"

#include <algorithm>
#include <cmath>

namespace tunebench {

bool lowerIsBetter(const std::string& metric)
{
    return metric.find("loss") != std::string::npos || metric == "perplexity" || metric == "bits_per_byte";
}

std::vector<ContinualMeasures> continualMeasures(const ForgettingMatrix& m)
{
    // The last row after the base whose columns of stages up to it are all there.
    std::size_t k = 0;
    for (std::size_t j = 1; j < m.rows.size(); ++j) {
        bool complete = m.rows[j].size() == m.columns.size();
        for (std::size_t c = 0; complete && c < m.columns.size(); ++c)
            complete = m.columns[c].stage > j || std::isfinite(m.rows[j][c]);
        if (complete)
            k = j;
    }
    std::vector<ContinualMeasures> out;
    if (k == 0)
        return out;
    auto value = [&](std::size_t row, std::size_t c) {
        return row < m.rows.size() && c < m.rows[row].size() ? m.rows[row][c] : NAN;
    };
    for (const bool higher : { true, false }) {
        const double sign = higher ? 1.0 : -1.0;
        ContinualMeasures r;
        r.higherIsBetter = higher;
        r.afterStage = k;
        double sum = 0, bwt = 0, forgetting = 0, fwt = 0;
        std::size_t earlier = 0, later = 0, fwtCount = 0;
        for (std::size_t c = 0; c < m.columns.size(); ++c) {
            const MatrixColumn& col = m.columns[c];
            if (col.higherIsBetter != higher || col.stage > k || col.stage == 0)
                continue;
            ++r.columns;
            sum += value(k, c);
            if (col.stage < k) {
                ++earlier;
                bwt += sign * (value(k, c) - value(col.stage, c));
                double best = -INFINITY;
                for (std::size_t l = 1; l < k; ++l)
                    best = std::max(best, sign * value(l, c));
                forgetting += best - sign * value(k, c);
            }
            if (col.stage > 1) {
                ++later;
                const double before = value(col.stage - 1, c);
                const double base = value(0, c);
                if (std::isfinite(before) && std::isfinite(base)) {
                    fwt += sign * (before - base);
                    ++fwtCount;
                }
            }
        }
        if (r.columns == 0)
            continue;
        r.average = sum / static_cast<double>(r.columns);
        if (earlier > 0) {
            r.bwt = bwt / static_cast<double>(earlier);
            r.forgetting = forgetting / static_cast<double>(earlier);
        }
        if (later > 0 && fwtCount == later)
            r.fwt = fwt / static_cast<double>(fwtCount);
        out.push_back(r);
    }
    return out;
}

} // namespace tunebench
