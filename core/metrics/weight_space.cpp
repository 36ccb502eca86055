#include "core/metrics/weight_space.h"

#include "core/model/model_weights.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

namespace tunebench {

namespace {

at::Tensor leftSingularVectors(const at::Tensor& matrix) // [m, r], by descending singular value
{
    return std::get<0>(at::linalg_svd(matrix, /*full_matrices=*/false));
}

} // namespace

double effectiveRank(const at::Tensor& matrix)
{
    const at::Tensor s = at::linalg_svdvals(matrix.to(at::kDouble));
    const double total = s.sum().item<double>();
    if (total <= 0.0)
        return 0.0;
    const at::Tensor p = s / total;
    const at::Tensor nonzero = p.masked_select(p > 0);
    const double entropy = -(nonzero * nonzero.log()).sum().item<double>();
    return std::exp(entropy);
}

std::int64_t intruderDimensions(const at::Tensor& base, const at::Tensor& tuned, std::int64_t topK, double threshold)
{
    const at::Tensor uBase = leftSingularVectors(base.to(at::kDouble)); // [m, r0]
    const at::Tensor uTuned = leftSingularVectors(tuned.to(at::kDouble)); // [m, r1]
    const std::int64_t k = std::min<std::int64_t>(topK, uTuned.size(1));
    if (k <= 0)
        return 0;
    // Columns are unit vectors, so |U_tuned[:, :k]^T U_base| holds the cosines. [k, r0]
    const at::Tensor cosines = uTuned.narrow(1, 0, k).t().matmul(uBase).abs();
    const at::Tensor best = std::get<0>(cosines.max(1));
    return (best < threshold).sum().item<std::int64_t>();
}

WeightSpaceReport compareWeights(const ModelWeights& base, const ModelWeights& tuned, const WeightSpaceOptions& options)
{
    WeightSpaceReport report;
    const auto baseNames = base.names();
    double totalUpdate = 0;
    double totalBase = 0;
    for (const std::string& name : baseNames) {
        if (!tuned.contains(name)) {
            report.onlyInBase.push_back(name);
            continue;
        }
        const at::Tensor w0 = base.tensor(name).to(at::kDouble);
        const at::Tensor w1 = tuned.tensor(name).to(at::kDouble);
        if (w0.sizes() != w1.sizes())
            throw InputError("tensor '" + name + "' has shape " + c10::str(w0.sizes()) + " in the base model ("
                + base.fileOf(name).string() + ") but " + c10::str(w1.sizes()) + " in the tuned one ("
                + tuned.fileOf(name).string() + ")");
        if (!at::isFloatingType(w0.scalar_type()))
            continue;
        TensorUpdate u;
        u.name = name;
        u.shape = w0.sizes().vec();
        const at::Tensor delta = w1 - w0;
        u.baseNorm = w0.norm().item<double>();
        u.updateNorm = delta.norm().item<double>();
        u.matrix = w0.dim() == 2;
        if (u.matrix && u.updateNorm > 0) {
            u.effectiveRank = effectiveRank(delta);
            u.intruders = intruderDimensions(w0, w1, options.intruderTopK, options.intruderThreshold);
        }
        totalUpdate += u.updateNorm * u.updateNorm;
        totalBase += u.baseNorm * u.baseNorm;
        report.changedTensors += u.updateNorm > 0 ? 1 : 0;
        report.intruderDimensions += u.intruders;
        report.tensors.push_back(std::move(u));
    }
    for (const std::string& name : tuned.names()) {
        if (!base.contains(name))
            report.onlyInTuned.push_back(name);
    }
    report.totalUpdateNorm = std::sqrt(totalUpdate);
    report.totalBaseNorm = std::sqrt(totalBase);
    return report;
}

} // namespace tunebench
