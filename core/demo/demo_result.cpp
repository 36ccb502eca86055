#include "core/demo/demo_result.h"

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <sstream>

namespace tunebench::demo {

namespace {

std::string fixed(double v, int digits)
{
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

} // namespace

nlohmann::json DemoResult::toJson() const
{
    nlohmann::json rows = nlohmann::json::array();
    for (const DemoRun& r : runs) {
        rows.push_back({ { "name", r.name }, { "adapter", r.adapter }, { "objective", r.objective },
            { "target_loss", r.targetLoss }, { "reference_delta_loss", r.referenceDeltaLoss },
            { "distinct_2", r.distinct2 }, { "trainable_share", r.trainableShare } });
    }
    return { { "runs", rows } };
}

std::string DemoResult::table() const
{
    const std::vector<std::string> header { "name", "run", "adapter", "objective", "target_loss", "target_acc",
        "ref_delta_loss", "ref_kl", "distinct_2", "trainable", "intruders" };
    std::vector<std::vector<std::string>> rows { header };
    for (const DemoRun& r : runs) {
        rows.push_back({ r.name, std::to_string(r.runId), r.adapter, r.objective, fixed(r.targetLoss, 3),
            fixed(r.targetAccuracy, 2), fixed(r.referenceDeltaLoss, 3), fixed(r.referenceKl, 3), fixed(r.distinct2, 3),
            fixed(100 * r.trainableShare, 2) + "%",
            r.intruderDimensions ? std::to_string(static_cast<std::int64_t>(std::lround(*r.intruderDimensions)))
                                 : "-" });
    }
    std::vector<std::size_t> width(header.size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        for (std::size_t i = 0; i < rows[k].size(); ++i) {
            const std::string& cell = rows[k][i];
            const bool left = i < 4; // the names; numbers are right-aligned
            const std::string pad(width[i] - cell.size(), ' ');
            if (i)
                out += "  ";
            out += left ? cell + pad : pad + cell;
        }
        out += "\n";
        if (k == 0) {
            std::size_t total = 0;
            for (std::size_t w : width)
                total += w + 2;
            out += std::string(total - 2, '-') + "\n";
        }
    }
    return out;
}

} // namespace tunebench::demo
