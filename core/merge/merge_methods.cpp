#include "core/merge/merge_methods.h"

#include "core/util/error.h"
#include "core/util/text.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <numeric>
#include <regex>

namespace tunebench {

namespace {

std::string shapeText(const at::Tensor& t)
{
    return c10::str(t.sizes());
}

// Every dict in `others` holds exactly the names of `first`, with the same shapes.
void checkSameLayout(const StateDict& first, const std::vector<const StateDict*>& others)
{
    for (std::size_t i = 0; i < others.size(); ++i) {
        const StateDict& other = *others[i];
        for (const auto& [name, tensor] : first) {
            auto it = other.find(name);
            if (it == other.end())
                throw InputError("merge: model " + std::to_string(i + 1) + " has no tensor '" + name + "'");
            if (it->second.sizes() != tensor.sizes())
                throw InputError("merge: tensor '" + name + "' has shape " + shapeText(it->second) + " in model "
                    + std::to_string(i + 1) + ", expected " + shapeText(tensor));
        }
        for (const auto& [name, tensor] : other) {
            if (!first.count(name))
                throw InputError(
                    "merge: model " + std::to_string(i + 1) + " has tensor '" + name + "' that the base model lacks");
        }
    }
}

void checkBaseAndTuned(const StateDict& base, const std::vector<StateDict>& tuned)
{
    if (tuned.empty())
        throw InputError("merge: no models to merge");
    std::vector<const StateDict*> others;
    for (const auto& t : tuned)
        others.push_back(&t);
    checkSameLayout(base, others);
}

std::vector<double> weightsOrOnes(const std::vector<double>& weights, std::size_t n)
{
    if (weights.empty())
        return std::vector<double>(n, 1.0);
    if (weights.size() != n)
        throw InputError("merge: " + std::to_string(weights.size()) + " weights given for " + std::to_string(n)
            + " models; give one weight per model");
    for (double w : weights) {
        if (!std::isfinite(w))
            throw InputError("merge: weights must be finite numbers");
    }
    return weights;
}

void checkShare(const char* name, double value)
{
    if (!(value >= 0.0 && value <= 1.0))
        throw InputError(std::string("merge: ") + name + " must be in [0, 1], got " + formatNumber(value));
}

std::int64_t countOf(double share, std::int64_t n)
{
    return std::min<std::int64_t>(n, std::llround(share * static_cast<double>(n)));
}

// w_i * (theta_i - theta_base) for one tensor name.
std::vector<at::Tensor> weightedTaskTensors(const StateDict& base, const std::vector<StateDict>& tuned,
    const std::vector<double>& weights, const std::string& name)
{
    std::vector<at::Tensor> out;
    const at::Tensor& b = base.at(name);
    for (std::size_t i = 0; i < tuned.size(); ++i)
        out.push_back((tuned[i].at(name) - b).mul_(weights[i]));
    return out;
}

} // namespace

StateDict taskVector(const StateDict& base, const StateDict& tuned)
{
    checkSameLayout(base, { &tuned });
    at::NoGradGuard noGrad;
    StateDict out;
    for (const auto& [name, b] : base)
        out[name] = tuned.at(name) - b;
    return out;
}

StateDict uniformSoup(const std::vector<StateDict>& models, const std::vector<double>& weights)
{
    if (models.empty())
        throw InputError("merge: no models to average");
    std::vector<const StateDict*> others;
    for (std::size_t i = 1; i < models.size(); ++i)
        others.push_back(&models[i]);
    checkSameLayout(models.front(), others);
    const std::vector<double> w = weightsOrOnes(weights, models.size());
    double total = 0;
    for (double x : w) {
        if (x < 0)
            throw InputError("merge: soup weights must not be negative");
        total += x;
    }
    if (!(total > 0))
        throw InputError("merge: soup weights must have a positive sum");
    at::NoGradGuard noGrad;
    StateDict out;
    for (const auto& [name, first] : models.front()) {
        at::Tensor sum = at::zeros_like(first);
        for (std::size_t i = 0; i < models.size(); ++i)
            sum.add_(models[i].at(name), w[i] / total);
        out[name] = sum;
    }
    return out;
}

namespace {

// theta_base + lambda * sum_i keep(w_i tau_i), tensor by tensor: what task arithmetic (keep everything) and
// Breadcrumbs (keep the middle of each tensor's magnitudes) share.
template <class Keep>
StateDict addKeptTaskVectors(const StateDict& base, const std::vector<StateDict>& tuned, double lambda,
    const std::vector<double>& weights, Keep keep)
{
    checkBaseAndTuned(base, tuned);
    const std::vector<double> w = weightsOrOnes(weights, tuned.size());
    at::NoGradGuard noGrad;
    StateDict out;
    for (const auto& [name, b] : base) {
        at::Tensor sum = at::zeros_like(b);
        for (const at::Tensor& t : weightedTaskTensors(base, tuned, w, name))
            sum.add_(keep(t));
        out[name] = b + lambda * sum;
    }
    return out;
}

} // namespace

StateDict taskArithmetic(
    const StateDict& base, const std::vector<StateDict>& tuned, double lambda, const std::vector<double>& weights)
{
    return addKeptTaskVectors(base, tuned, lambda, weights, [](const at::Tensor& t) { return t; });
}

at::Tensor tiesTrim(const at::Tensor& tau, double density)
{
    checkShare("density", density);
    at::NoGradGuard noGrad;
    const at::Tensor flat = tau.reshape({ -1 });
    const std::int64_t keep = countOf(density, flat.numel());
    // Stable descending order of magnitude: among equal magnitudes the earlier entry comes first.
    const at::Tensor order = std::get<1>(at::sort(flat.abs(), /*stable=*/true, /*dim=*/0, /*descending=*/true));
    at::Tensor mask = at::zeros({ flat.numel() }, flat.options().dtype(at::kBool));
    mask.index_fill_(0, order.slice(0, 0, keep), true);
    return at::where(mask.view(tau.sizes()), tau, at::zeros_like(tau));
}

at::Tensor tiesElectAndMean(const std::vector<at::Tensor>& trimmed)
{
    if (trimmed.empty())
        throw InputError("merge: no task vectors to elect a sign from");
    at::NoGradGuard noGrad;
    const at::Tensor stacked = at::stack(trimmed); // [models, ...]
    const at::Tensor elected = at::sign(stacked.sum(0)); // the sign of the summed mass
    const at::Tensor agrees = (at::sign(stacked) == elected.unsqueeze(0)) & (stacked != 0); // [models, ...]
    const at::Tensor count = agrees.sum(0).to(stacked.scalar_type());
    const at::Tensor sum = at::where(agrees, stacked, at::zeros_like(stacked)).sum(0);
    return at::where(count > 0, sum / count.clamp_min(1), at::zeros_like(sum));
}

StateDict ties(const StateDict& base, const std::vector<StateDict>& tuned, double density, double lambda,
    const std::vector<double>& weights)
{
    checkBaseAndTuned(base, tuned);
    checkShare("density", density);
    const std::vector<double> w = weightsOrOnes(weights, tuned.size());
    at::NoGradGuard noGrad;
    StateDict out;
    for (const auto& [name, b] : base) {
        std::vector<at::Tensor> trimmed;
        for (const at::Tensor& t : weightedTaskTensors(base, tuned, w, name))
            trimmed.push_back(tiesTrim(t, density));
        out[name] = b + lambda * tiesElectAndMean(trimmed);
    }
    return out;
}

at::Tensor breadcrumbsMask(const at::Tensor& tau, double beta, double gamma)
{
    checkShare("beta", beta);
    checkShare("gamma", gamma);
    if (beta + gamma > 1.0 + 1e-12)
        throw InputError("merge: beta + gamma must not exceed 1 (they drop shares of the same tensor), got "
            + formatNumber(beta) + " + " + formatNumber(gamma));
    at::NoGradGuard noGrad;
    const at::Tensor flat = tau.reshape({ -1 });
    const std::int64_t n = flat.numel();
    const std::int64_t dropTop = countOf(beta, n);
    const std::int64_t dropBottom = std::min(countOf(gamma, n), n - dropTop);
    // Ascending order of magnitude, stable: entries at ranks [dropBottom, n - dropTop) stay.
    const at::Tensor order = std::get<1>(at::sort(flat.abs(), /*stable=*/true, /*dim=*/0, /*descending=*/false));
    at::Tensor mask = at::zeros({ n }, flat.options().dtype(at::kBool));
    mask.index_fill_(0, order.slice(0, dropBottom, n - dropTop), true);
    return mask.view(tau.sizes());
}

StateDict breadcrumbs(const StateDict& base, const std::vector<StateDict>& tuned, double beta, double gamma,
    double lambda, const std::vector<double>& weights)
{
    return addKeptTaskVectors(base, tuned, lambda, weights, [beta, gamma](const at::Tensor& t) {
        return at::where(breadcrumbsMask(t, beta, gamma), t, at::zeros_like(t));
    });
}

LayerPosition layerPosition(const std::string& name)
{
    static const std::regex block(R"((^|\.)(layers|h)\.(\d+)\.)");
    std::smatch m;
    if (std::regex_search(name, m, block))
        return { LayerPosition::Kind::Block, std::stoll(m[3].str()) };
    static const std::regex embedding(R"((^|\.)(embed_tokens|wte|wpe)\.)");
    if (std::regex_search(name, embedding))
        return { LayerPosition::Kind::BeforeBlocks, 0 };
    return { LayerPosition::Kind::AfterBlocks, 0 };
}

double linesScale(const LayerPosition& position, std::int64_t numLayers, double alpha, double beta)
{
    switch (position.kind) {
    case LayerPosition::Kind::BeforeBlocks:
        return alpha;
    case LayerPosition::Kind::AfterBlocks:
        return alpha + beta;
    case LayerPosition::Kind::Block:
        break;
    }
    if (position.block < 0 || position.block >= numLayers)
        throw InputError("merge: block " + std::to_string(position.block) + " is outside the model's "
            + std::to_string(numLayers) + " layers");
    if (numLayers == 1)
        return alpha + beta;
    return alpha + beta * static_cast<double>(position.block) / static_cast<double>(numLayers - 1);
}

StateDict lines(const StateDict& base, const std::vector<StateDict>& tuned, std::int64_t numLayers, double alpha,
    double beta, const std::vector<double>& weights)
{
    checkBaseAndTuned(base, tuned);
    if (numLayers < 1)
        throw InputError("merge: LiNeS needs the model's number of layers (at least 1)");
    const std::vector<double> w = weightsOrOnes(weights, tuned.size());
    at::NoGradGuard noGrad;
    StateDict out;
    for (const auto& [name, b] : base) {
        at::Tensor sum = at::zeros_like(b);
        for (const at::Tensor& t : weightedTaskTensors(base, tuned, w, name))
            sum.add_(t);
        out[name] = b + linesScale(layerPosition(name), numLayers, alpha, beta) * sum;
    }
    return out;
}

GreedySoupResult greedySoup(
    const std::vector<StateDict>& models, const std::function<double(const StateDict&)>& evaluate)
{
    if (models.empty())
        throw InputError("merge: no models for a greedy soup");
    std::vector<const StateDict*> others;
    for (std::size_t i = 1; i < models.size(); ++i)
        others.push_back(&models[i]);
    checkSameLayout(models.front(), others);
    std::vector<double> alone;
    for (const StateDict& m : models)
        alone.push_back(evaluate(m));
    std::vector<std::size_t> order(models.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return alone[a] < alone[b]; });

    GreedySoupResult r;
    r.kept = { order.front() };
    for (const auto& [name, tensor] : models[order.front()])
        r.merged[name] = tensor.clone();
    r.loss = alone[order.front()];
    r.steps.push_back({ order.front(), r.loss, r.loss, true });
    for (std::size_t k = 1; k < order.size(); ++k) {
        const std::size_t i = order[k];
        std::vector<StateDict> candidate;
        for (std::size_t j : r.kept)
            candidate.push_back(models[j]);
        candidate.push_back(models[i]);
        StateDict soup = uniformSoup(candidate);
        const double loss = evaluate(soup);
        const bool keep = loss <= r.loss;
        r.steps.push_back({ i, alone[i], loss, keep });
        if (keep) {
            r.kept.push_back(i);
            r.merged = std::move(soup);
            r.loss = loss;
        }
    }
    return r;
}

} // namespace tunebench
