#pragma once

// What a run will train and the memory it needs, before it runs: the model
// folder checked the way a run loads it, the trainable parameters counted by
// attaching the adapter for real (core/train/adapter_attach.h, the trainer's
// path), and the memory estimate of docs/architecture.md ("Run Setup"). The
// Run Setup page and `tunebench-cli estimate` both report these.

#include "core/data/dataset_format.h"
#include "core/model/config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

class ChatTemplate;
class PluginRegistry;
class Tokenizer;
struct TrainConfig;

// Folders whose weight files take more than this are not loaded for an estimate (float32 weights are mapped, not
// copied, but other dtypes are converted); their parameters are counted from the file headers.
constexpr std::uintmax_t kEstimateLoadLimitBytes = 2ull << 30;

// What a model folder holds.
struct ModelFolderFacts {
    ModelConfig config;
    std::int64_t parameters = 0; // a tied output weight counted once
    std::uintmax_t weightFileBytes = 0;
    bool loadable = false; // weightFileBytes within the load limit: the model was loaded and can take an adapter
    bool chatTemplate = false; // a chat template that parses (ChatTemplate::fromFolderIfPresent)
};

// Checks a model folder as a run would load it: config.json read and validated, the weights opened (and the
// model loaded when they are within loadLimitBytes), the tokenizer and the chat template read. Throws InputError
// (or the loader's Error) naming the folder or file and the field at fault.
ModelFolderFacts inspectModelFolder(
    const std::filesystem::path& dir, std::uintmax_t loadLimitBytes = kEstimateLoadLimitBytes);

// A run's method as a configuration gives it: plugin names and their parameters, resolved here against the
// plugins' schemas (already resolved ones are taken as they are).
struct MethodChoice {
    std::string adapter;
    nlohmann::json adapterParams = nlohmann::json::object();
    std::string objective;
    nlohmann::json objectiveParams = nlohmann::json::object();
    std::uint64_t seed = 42; // the run's seed: adapters draw their initial tensors from it
};

// What the adapter trains on the model, and what the objective adds to memory.
struct TrainableCount {
    std::int64_t trainable = 0;
    std::int64_t total = 0; // the model's parameters with the adapter attached, as the trainer reports them
    bool adapterCanDisable = true;
    bool objectiveNeedsReference = false;
    bool pairwise = false; // chosen and rejected sequences per example
    std::int64_t teacherParameters = 0; // the objective's teacher model (distill), frozen beside the trained one
};

// Loads the model in modelDir and attaches the adapter for real, as a run does, then counts its parameter groups.
// A folder beyond the load limit (facts.loadable false) is not loaded: `full` trains every parameter there, and
// any other adapter is an InputError. Errors name "adapter NAME" or "objective NAME" and the field.
TrainableCount countTrainable(const std::filesystem::path& modelDir, const ModelFolderFacts& facts,
    const MethodChoice& method, const PluginRegistry& plugins);

// The training settings the memory depends on (TrainConfig's fields of the same names).
struct MemorySettings {
    std::int64_t batchSize = 8;
    std::int64_t cutoffLen = 1024;
    std::string optim = "adamw_torch";
    double sgdMomentum = 0;
    bool precomputeRefLogProbs = false;
    bool packing = false;
    int weightBytes = 4; // float32 on the CPU
    // Tokens per sequence in the largest batch (sequenceLengthForEstimate); 0: cutoffLen, as if every example
    // filled it. Never more than cutoffLen.
    std::int64_t sequenceLen = 0;
    std::int64_t effectiveSequenceLen() const;
    bool gradientCheckpointing = false; // only each layer's input is kept, plus one layer's rerun
    // The objective's chunked loss (SFT's loss_chunk_tokens): -1 when the loss makes all logits at once,
    // 0 for the automatic chunk (crossEntropyChunkTokens), else the chunk in tokens.
    std::int64_t lossChunkTokens = -1;
    // lossChunkTokens for an objective and its parameters (resolved or not).
    static std::int64_t lossChunkFor(const std::string& objective, const nlohmann::json& objectiveParams);

    static MemorySettings fromConfig(const TrainConfig& config);
};

// The sequence length activations are estimated at, and what it came from.
struct EstimateSequenceLength {
    std::int64_t tokens = 0;
    enum class Basis { CutoffLen, LongestExample, Packed } basis = Basis::CutoffLen;
    std::int64_t longest = 0; // the longest example, uncut (0 without lengths)
};

// Batches are padded to their longest sequence, so the peak is a batch holding the dataset's longest example:
// its length capped at cutoffLen (Basis::LongestExample). With packing, rows are filled up to cutoffLen (or to
// all the tokens there are, when they are fewer; Basis::Packed). exampleLengths are the examples' token counts as
// the run encodes them (special tokens and chat template included; for pairwise data the prompt with the longer
// response); without them, cutoffLen (Basis::CutoffLen).
EstimateSequenceLength sequenceLengthForEstimate(
    const std::vector<std::int64_t>& exampleLengths, std::int64_t cutoffLen, bool packing);

// The token count of every record as a run encodes it (ExampleEncoder with the model's tokenizer and chat
// template), uncut: for preference data the prompt with the longer response. Throws InputError naming the record
// that does not fit the format.
std::vector<std::int64_t> encodedExampleLengths(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer& tokenizer, const ChatTemplate* chatTemplate);

// The memory a run needs, by part (bytes).
struct MemoryEstimate {
    double weights = 0;
    double gradients = 0;
    double optimizer = 0;
    double reference = 0;
    double activations = 0;
    double teacher = 0; // a teacher model's weights and its logits (distill)
    double total() const { return weights + gradients + optimizer + reference + activations + teacher; }
};

// Whether the objective's reference model is a second copy of the weights: it needs one, the adapter cannot be
// switched off to give the base model, and its numbers are not precomputed.
bool needsReferenceCopy(const TrainableCount& count, const MemorySettings& settings);

// The estimate of docs/architecture.md ("Run Setup"): weights, gradients, optimiser state, a frozen reference copy
// and the activations saved for backward at the peak. An upper-end estimate, not a measurement.
MemoryEstimate estimateMemory(const ModelConfig& model, const TrainableCount& count, const MemorySettings& settings);

// A run's dry run: the model folder, the trainable count and the memory of a checked configuration.
struct RunEstimate {
    std::filesystem::path model;
    ModelFolderFacts facts;
    std::string adapter;
    std::string objective;
    TrainableCount count;
    MemorySettings settings;
    MemoryEstimate memory;
};

RunEstimate estimateRun(
    const TrainConfig& config, const PluginRegistry& plugins, std::uintmax_t loadLimitBytes = kEstimateLoadLimitBytes);

// {"model": {...facts}, "method": {...}, "parameters": {"trainable", "total"}, "memory": {... "total"},
//  "memory_settings": {...}}; bytes as whole numbers.
nlohmann::json toJson(const RunEstimate& estimate);

} // namespace tunebench
