#include "core/metrics/sample_measures.h"

#include "core/model/causal_lm.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>

namespace tunebench {

namespace {

at::Tensor idsTensor(const std::vector<std::int32_t>& ids, const CausalLM& model)
{
    std::vector<std::int64_t> wide(ids.begin(), ids.end());
    return at::tensor(wide, at::kLong).unsqueeze(0).to(model.device());
}

} // namespace

PooledEmbeddings meanPooledEmbeddings(const CausalLM& model, const std::vector<std::vector<std::int32_t>>& sequences)
{
    at::NoGradGuard noGrad;
    PooledEmbeddings out;
    const auto hidden = static_cast<std::size_t>(model.config().hiddenSize);
    for (const auto& ids : sequences) {
        if (ids.empty()) {
            out.rows.emplace_back(hidden, 0.0);
            continue;
        }
        ForwardInput in;
        in.inputIds = idsTensor(ids, model);
        in.outputHiddenStates = true;
        in.lastPositionOnly = true;
        const ForwardOutput o = model.forward(in);
        const at::Tensor pooled = o.hiddenStates.back()[0].to(at::kCPU, at::kDouble).mean(0).contiguous();
        const double* p = pooled.data_ptr<double>();
        out.rows.emplace_back(p, p + pooled.numel());
    }
    return out;
}

double meanPairwiseCosineDistance(const PooledEmbeddings& e, const std::vector<std::size_t>& indices)
{
    std::vector<const std::vector<double>*> rows;
    std::vector<double> norms;
    auto add = [&](const std::vector<double>& r) {
        double n = 0;
        for (double x : r)
            n += x * x;
        if (n > 0) {
            rows.push_back(&r);
            norms.push_back(std::sqrt(n));
        }
    };
    if (indices.empty()) {
        for (const auto& r : e.rows)
            add(r);
    } else {
        for (std::size_t i : indices)
            add(e.rows.at(i));
    }
    if (rows.size() < 2)
        return 0.0;
    double sum = 0;
    std::int64_t pairs = 0;
    for (std::size_t i = 0; i < rows.size(); ++i) {
        for (std::size_t j = i + 1; j < rows.size(); ++j) {
            double dot = 0;
            for (std::size_t k = 0; k < rows[i]->size(); ++k)
                dot += (*rows[i])[k] * (*rows[j])[k];
            sum += 1.0 - dot / (norms[i] * norms[j]);
            ++pairs;
        }
    }
    return sum / static_cast<double>(pairs);
}

EntropySum continuationEntropy(
    const CausalLM& model, const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& continuation)
{
    EntropySum r;
    if (prompt.empty() || continuation.empty())
        return r;
    at::NoGradGuard noGrad;
    std::vector<std::int32_t> ids = prompt;
    ids.insert(ids.end(), continuation.begin(), continuation.end() - 1);
    ForwardInput in;
    in.inputIds = idsTensor(ids, model);
    const at::Tensor logits = model.forward(in).logits[0].to(at::kCPU, at::kFloat);
    const auto from = static_cast<std::int64_t>(prompt.size()) - 1;
    const at::Tensor lp = at::log_softmax(logits.narrow(0, from, logits.size(0) - from), -1);
    r.sum = -(lp.exp() * lp).sum().item<double>();
    r.count = lp.size(0);
    return r;
}

} // namespace tunebench
