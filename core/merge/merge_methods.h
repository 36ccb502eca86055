#pragma once

// Model merging over named state dicts (HF parameter name -> tensor), as pure
// tensor functions: uniform and greedy soups, task arithmetic, TIES, Model
// Breadcrumbs and LiNeS. Every function checks that the dicts hold the same
// names with the same shapes and throws InputError naming the first tensor
// that differs. Results are new tensors; the inputs are not changed.

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

using StateDict = std::map<std::string, at::Tensor>;

// tau_i = theta_i - theta_base, per tensor.
StateDict taskVector(const StateDict& base, const StateDict& tuned);

// Uniform soup: theta = sum_i w_i theta_i / sum_i w_i (weights empty: all 1,
// the plain average). Weights must be >= 0 with a positive sum.
StateDict uniformSoup(const std::vector<StateDict>& models, const std::vector<double>& weights = {});

// Task arithmetic: theta = theta_base + lambda * sum_i w_i tau_i (weights
// empty: all 1).
StateDict taskArithmetic(
    const StateDict& base, const std::vector<StateDict>& tuned, double lambda, const std::vector<double>& weights = {});

// TIES, step 1 (trim): keeps the round(density * n) entries of largest
// magnitude of one tensor of n entries and zeroes the rest (ties in magnitude
// broken by position, the earlier entry kept). density in [0, 1].
at::Tensor tiesTrim(const at::Tensor& tau, double density);
// TIES, steps 2 and 3 for one tensor: the elected sign s = sgn(sum_i t_i) of
// the trimmed vectors t_i (the sign of the summed mass), then the disjoint
// mean: per entry, the mean of the t_i whose sign equals s (0 where none does,
// or where s = 0).
at::Tensor tiesElectAndMean(const std::vector<at::Tensor>& trimmed);
// TIES: theta = theta_base + lambda * disjointMean(elect(trim(w_i tau_i, density))),
// trimming each tensor of each task vector on its own.
StateDict ties(const StateDict& base, const std::vector<StateDict>& tuned, double density, double lambda,
    const std::vector<double>& weights = {});

// Model Breadcrumbs mask of one tensor (per layer, each weight tensor on its
// own): entries ranked by magnitude; the round(beta * n) largest and the
// round(gamma * n) smallest are dropped (ties broken by position), the rest
// kept. Returns a bool tensor of tau's shape. beta, gamma >= 0, beta + gamma <= 1.
at::Tensor breadcrumbsMask(const at::Tensor& tau, double beta, double gamma);
// Model Breadcrumbs: theta = theta_base + lambda * sum_i mask(tau_i) * w_i tau_i.
StateDict breadcrumbs(const StateDict& base, const std::vector<StateDict>& tuned, double beta, double gamma,
    double lambda, const std::vector<double>& weights = {});

// Where a tensor sits in depth for LiNeS: its transformer block (0-based,
// "model.layers.N." or GPT-2's "transformer.h.N."), before the blocks (input
// embeddings: embed_tokens, wte, wpe) or after them (final norm, lm_head).
struct LayerPosition {
    enum class Kind { BeforeBlocks, Block, AfterBlocks };
    Kind kind = Kind::AfterBlocks;
    std::int64_t block = 0;
};
LayerPosition layerPosition(const std::string& name);
// LiNeS scale of a tensor: lambda(l) = alpha + beta * (l - 1) / (L - 1) for
// block l = 1..L (block index + 1; with L = 1 the block gets alpha + beta);
// tensors before the blocks get alpha (l = 1), tensors after them alpha + beta (l = L).
double linesScale(const LayerPosition& position, std::int64_t numLayers, double alpha, double beta);
// LiNeS: theta = theta_base + lambda(l) * sum_i w_i tau_i, lambda(l) by depth
// (linesScale). With one run this is LiNeS applied to that fine-tuning.
StateDict lines(const StateDict& base, const std::vector<StateDict>& tuned, std::int64_t numLayers, double alpha,
    double beta, const std::vector<double>& weights = {});

// Greedy soup: ingredients sorted by validation loss (ascending; ties keep
// the given order); the soup starts with the best and each next ingredient is
// kept when the uniform soup with it has a validation loss not above the
// soup's without it. evaluate(theta) returns the validation loss of a model
// with those weights.
struct GreedySoupStep {
    std::size_t ingredient = 0; // index into the given models
    double ingredientLoss = 0; // the ingredient alone
    double soupLoss = 0; // the soup with it (the first: the ingredient alone)
    bool kept = false;
};
struct GreedySoupResult {
    StateDict merged;
    std::vector<std::size_t> kept; // indices into the given models, in the order added
    std::vector<GreedySoupStep> steps; // in the order tried
    double loss = 0; // of the final soup
};
GreedySoupResult greedySoup(
    const std::vector<StateDict>& models, const std::function<double(const StateDict&)>& evaluate);

} // namespace tunebench
