#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

class ModelWeights;

// What fine-tuning did to the weights (METHODS.md, "Weight space").

// exp of the entropy of the normalised singular values (Roy & Vetterli's
// effective rank); 0 for a zero matrix. matrix: [m, n].
double effectiveRank(const at::Tensor& matrix);

// Among the top-k left singular vectors of `tuned`, those whose largest
// absolute cosine similarity with every left singular vector of `base` is
// below threshold: directions the tuned matrix has that the base never had
// (Shuttleworth et al., "LoRA vs full fine-tuning: an illusion of equivalence").
std::int64_t intruderDimensions(const at::Tensor& base, const at::Tensor& tuned, std::int64_t topK, double threshold);

struct WeightSpaceOptions {
    std::int64_t intruderTopK = 10;
    double intruderThreshold = 0.5;
};

struct TensorUpdate {
    std::string name;
    std::vector<std::int64_t> shape;
    double baseNorm = 0; // ||W0||_F
    double updateNorm = 0; // ||W - W0||_F
    double effectiveRank = 0; // of W - W0 (matrices only)
    std::int64_t intruders = 0; // matrices only
    bool matrix = false;
};

struct WeightSpaceReport {
    std::vector<TensorUpdate> tensors; // every tensor both models have, sorted by name
    double totalUpdateNorm = 0; // sqrt of the sum of squared update norms
    double totalBaseNorm = 0;
    std::int64_t changedTensors = 0;
    std::int64_t intruderDimensions = 0;
    std::vector<std::string> onlyInBase;
    std::vector<std::string> onlyInTuned;
};

// Compares two models' weights tensor by tensor, in float64 on the CPU.
// Throws InputError when a tensor has different shapes in the two models.
WeightSpaceReport compareWeights(
    const ModelWeights& base, const ModelWeights& tuned, const WeightSpaceOptions& options = {});

} // namespace tunebench
