#include "core/model/linear_cross_entropy.h"

#include "core/util/error.h"

#include <ATen/ATen.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/csrc/autograd/custom_function.h>

#include <algorithm>
#include <string>

namespace tunebench {

namespace {

class LinearCrossEntropy final : public torch::autograd::Function<LinearCrossEntropy> {
public:
    static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& hidden, const at::Tensor& weight,
        const at::Tensor& targets, double smoothing, std::int64_t chunk)
    {
        // float32 whatever the surrounding autocast says: the point is exact logits.
        c10::impl::ExcludeDispatchKeyGuard noAutocast(c10::autocast_dispatch_keyset);
        const std::int64_t n = hidden.size(0);
        const std::int64_t vocab = weight.size(0);
        const bool hiddenGrad = hidden.requires_grad();
        const bool weightGrad = weight.requires_grad();
        const at::Tensor w = weight.to(at::kFloat);
        at::Tensor gradHidden = hiddenGrad ? at::zeros({ n, hidden.size(1) }, w.options()) : at::Tensor();
        at::Tensor gradWeight = weightGrad ? at::zeros_like(w) : at::Tensor();
        at::Tensor total = at::zeros({}, w.options());
        for (std::int64_t from = 0; from < n; from += chunk) {
            const std::int64_t rows = std::min(chunk, n - from);
            const at::Tensor h = hidden.narrow(0, from, rows).to(at::kFloat);
            const at::Tensor t = targets.narrow(0, from, rows);
            const at::Tensor valid = t.ne(-100);
            const at::Tensor safe = t.masked_fill(valid.logical_not(), 0).unsqueeze(1);
            const at::Tensor logits = at::matmul(h, w.t()); // [rows, V]
            const at::Tensor logSumExp = logits.logsumexp(1, true); // [rows, 1]
            const at::Tensor nll = (logSumExp - logits.gather(1, safe)).squeeze(1);
            at::Tensor loss = nll * (1.0 - smoothing);
            if (smoothing > 0)
                loss = loss + (logSumExp.squeeze(1) - logits.mean(1)) * smoothing;
            const at::Tensor validFloat = valid.to(at::kFloat);
            total += (loss * validFloat).sum();
            if (!hiddenGrad && !weightGrad)
                continue;
            // d loss / d logits = softmax - (1 - eps) onehot - eps / V, zero on ignored rows;
            // computed in place over the logits, which are not needed any more.
            at::Tensor grad = logits.sub_(logSumExp).exp_();
            if (smoothing > 0)
                grad.sub_(smoothing / static_cast<double>(vocab));
            grad.scatter_add_(1, safe, at::full({ rows, 1 }, -(1.0 - smoothing), grad.options()));
            grad.mul_(validFloat.unsqueeze(1));
            if (hiddenGrad)
                gradHidden.narrow(0, from, rows).copy_(at::matmul(grad, w));
            if (weightGrad)
                gradWeight.addmm_(grad.t(), h);
        }
        ctx->save_for_backward({ gradHidden, gradWeight });
        ctx->saved_data["hidden_dtype"] = static_cast<std::int64_t>(hidden.scalar_type());
        ctx->saved_data["weight_dtype"] = static_cast<std::int64_t>(weight.scalar_type());
        return total;
    }

    static torch::autograd::variable_list backward(
        torch::autograd::AutogradContext* ctx, torch::autograd::variable_list gradOutputs)
    {
        const auto saved = ctx->get_saved_variables();
        const at::Tensor& g = gradOutputs.at(0);
        const auto hiddenType = static_cast<at::ScalarType>(ctx->saved_data.at("hidden_dtype").toInt());
        const auto weightType = static_cast<at::ScalarType>(ctx->saved_data.at("weight_dtype").toInt());
        at::Tensor gradHidden = saved.at(0).defined() ? (saved.at(0) * g).to(hiddenType) : at::Tensor();
        at::Tensor gradWeight = saved.at(1).defined() ? (saved.at(1) * g).to(weightType) : at::Tensor();
        return { gradHidden, gradWeight, at::Tensor(), at::Tensor(), at::Tensor() };
    }
};

} // namespace

std::int64_t crossEntropyChunkTokens(std::int64_t vocabSize)
{
    return std::max<std::int64_t>(64, (std::int64_t(1) << 25) / std::max<std::int64_t>(vocabSize, 1));
}

at::Tensor linearCrossEntropySum(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
    double labelSmoothing, std::int64_t chunkTokens)
{
    if (hidden.dim() != 2 || weight.dim() != 2 || targets.dim() != 1 || hidden.size(1) != weight.size(1)
        || targets.size(0) != hidden.size(0))
        throw InputError("linear cross-entropy: hidden [N, H], weight [V, H] and targets [N] expected");
    if (chunkTokens < 1)
        throw InputError("linear cross-entropy: chunk of " + std::to_string(chunkTokens) + " tokens");
    const at::Tensor valid = targets.ne(-100);
    if (valid.any().item<bool>()) {
        const at::Tensor picked = targets.masked_select(valid);
        if (picked.min().item<std::int64_t>() < 0 || picked.max().item<std::int64_t>() >= weight.size(0))
            throw InputError(
                "linear cross-entropy: a target outside the vocabulary of " + std::to_string(weight.size(0)));
    }
    return LinearCrossEntropy::apply(hidden, weight, targets.to(at::kLong), labelSmoothing, chunkTokens);
}

} // namespace tunebench
