#pragma once

// The validation loss a merge is judged by (greedy soups choose ingredients
// with it; a merged run records it as eval_loss): token-weighted mean
// next-token cross-entropy over the trained tokens of a dataset's records,
// encoded as the trainer encodes them (the model's chat template when it has
// one, responses only unless train_on_prompt, cut at cutoff_len).

#include "core/data/dataset_format.h"
#include "core/data/example_encoder.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class Workspace;

struct DatasetRecords {
    DatasetFormat format = DatasetFormat::Text;
    std::vector<nlohmann::json> records;
    std::string origin; // "dataset 3" or the file, for messages
};

// A workspace dataset when `fileOrId` is a whole number naming one (workspace
// given), else a file read and validated as an import would. Throws InputError
// naming the file and line of the first bad record, an unknown dataset id, or
// an empty dataset.
DatasetRecords loadDatasetRecordsFrom(const std::string& fileOrId, Workspace* workspace);

struct ValidationSet {
    std::vector<EncodedExample> examples;
    std::int32_t padId = 0;
    std::string origin;
    double labelSmoothing = 0.0;
};

struct ValidationOptions {
    std::int64_t cutoffLen = 1024;
    bool trainOnPrompt = false;
    double labelSmoothing = 0.0;
    // Indices of the records to use (a run's eval split); empty: all.
    std::vector<std::int64_t> subset;
};

// Encodes the records with the tokenizer and chat template of modelDir.
// Throws InputError when a record does not fit its format, or when no record
// keeps a trained token.
ValidationSet encodeValidationSet(
    const DatasetRecords& data, const std::filesystem::path& modelDir, const ValidationOptions& options);

// Token-weighted mean cross-entropy of the model over the set, without
// gradients, in batches of batchSize examples.
double validationLoss(const CausalLM& model, const ValidationSet& set, std::int64_t batchSize = 8);

} // namespace tunebench
