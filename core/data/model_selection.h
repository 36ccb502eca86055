// Selections that need a model: diversity across k-means clusters of
// embeddings, and loss-based learnability. They return indices into the
// records; writeDerivedDataset (dataset_select.h) records the result.
#pragma once

#include "core/data/dataset_format.h"

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

class Workspace;
struct DatasetRecord;

// Diversity-centric selection. Embeddings: the final hidden state (after the
// last norm) of the model in modelDir, mean-pooled over the tokens of
// RecordTexts::all() (first maxTokens tokens, no special tokens) and scaled to
// unit length. k-means (k-means++ seeding, Lloyd iterations until no record
// changes cluster or 100 rounds) groups them; then `keep` records are drawn
// round-robin across clusters (each round one random unpicked member of every
// cluster that has one left), so small clusters are represented as well as
// large ones.
struct ClusterOptions {
    std::filesystem::path modelDir;
    int clusters = 8;
    std::size_t keep = 0;
    std::uint64_t seed = 1;
    std::int64_t maxTokens = 256;
};
struct ClusterSelection {
    std::vector<std::size_t> indices;
    std::vector<int> assignment; // cluster of every record
    std::vector<std::int64_t> clusterSizes;
};
at::Tensor embedTexts(
    const std::filesystem::path& modelDir, const std::vector<std::string>& texts, std::int64_t maxTokens);
// Plain k-means on rows of points [N, D] (float); returns each row's cluster.
std::vector<int> kMeans(const at::Tensor& points, int k, std::uint64_t seed, int maxRounds = 100);
ClusterSelection selectByClusters(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const ClusterOptions& options);

// Loss-based learnability. For every record, loss = the mean cross-entropy
// of the model in modelDir over the record's trained tokens (the response
// tokens, as the trainer's ExampleEncoder lays them out with the model's chat
// template when it has one; preference data uses prompt and chosen/completion
// as an instruction pair), truncated at cutoffLen tokens. It is measured under
// the base model (before) and again after a short tune on the same records
// (after): `steps` Adam steps (lr, betas 0.9/0.999, no weight decay) of
// full-parameter training on batches of batchSize records drawn with the seed.
// learnability = before - after: how much the model learns the record quickly;
// the `keep` records with the highest learnability are kept (ties: earlier
// record first). High-loss records that the tune does not reduce (noise) and
// records the base model already knows (low loss) both score low.
struct LearnabilityOptions {
    std::filesystem::path modelDir;
    std::size_t keep = 0;
    int steps = 10;
    double lr = 1e-4;
    int batchSize = 4;
    std::int64_t cutoffLen = 512;
    std::uint64_t seed = 1;
};
struct LearnabilitySelection {
    std::vector<std::size_t> indices;
    std::vector<double> lossBefore;
    std::vector<double> lossAfter;
};
LearnabilitySelection selectByLearnability(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const LearnabilityOptions& options);

// Runs a selection method by name on a workspace dataset and writes the
// result as a derived dataset (lineage: parent id, the method's name, the
// parameters as used, defaults filled in). Methods and parameters (JSON keys):
//   random        count | fraction, seed (1)
//   length        min (0), max (unbounded), tokenizer (a folder; words without)
//   dedup         (none)
//   minhash       threshold (0.8), permutations (128), bands (32), shingle (3), seed (1)
//   kmeans        model, clusters (8), count | fraction, seed (1), max_tokens (256)
//   learnability  model, count | fraction, steps (10), lr (1e-4), batch_size (4),
//                 cutoff_len (512), seed (1)
// name defaults to "<parent name>-<method>". Throws InputError for an unknown
// method or dataset, a missing or ill-typed parameter, or an empty result.
bool isSelectionMethod(const std::string& method);
std::string selectionMethodList(); // "random, length, ..."
DatasetRecord selectDataset(Workspace& workspace, std::int64_t id, const std::string& method,
    const nlohmann::json& params, const std::string& name = {});

} // namespace tunebench
