// Derived datasets: split, selection and de-duplication. Every operation reads
// an imported (immutable) dataset and writes a new one whose store row records
// its lineage: the parent's id, the operation's name and its parameters.
#pragma once

#include "core/data/dataset_format.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class Workspace;
class Tokenizer;
struct DatasetRecord;

// The text a record shows a model, split into what it is given (prompt) and
// what it is trained to answer (response):
//   text                 prompt empty, response = text
//   instruction          prompt = instruction + "\n" + input (when present), response = output
//   chat                 prompt = the non-assistant turns, response = the assistant turns (joined by "\n")
//   preference           prompt, response = chosen (rejected in `alternative`)
//   unpaired_preference  prompt, response = completion
// Message lists are flattened to their contents joined by "\n".
struct RecordTexts {
    std::string prompt;
    std::string response;
    std::string alternative; // the rejected response of preference data
    std::string all() const; // prompt, response and alternative joined by "\n"
};
RecordTexts recordTexts(const nlohmann::json& record, DatasetFormat format);

// Writes records as a new dataset derived from parentId and records its lineage
// (parent, operation, params) in the store. The folder and the row appear
// together or not at all, as for an import. Throws InputError when records is
// empty (a dataset holds at least one record).
DatasetRecord writeDerivedDataset(Workspace& workspace, std::int64_t parentId,
    const std::vector<nlohmann::json>& records, const std::string& operation, const nlohmann::json& params,
    const std::string& name);

// The store row and records of a dataset; throws InputError naming the id when
// the workspace has no such dataset.
struct LoadedDataset {
    std::int64_t id = 0;
    std::string name;
    DatasetFormat format = DatasetFormat::Text;
    std::vector<nlohmann::json> records;
};
LoadedDataset loadDataset(Workspace& workspace, std::int64_t id);

// Train/eval split: a seeded shuffle, then the first round(ratio * n) records
// (at least one) go to eval and the rest to train, each keeping the parent's
// order. Returns {train, eval}. Throws InputError for a ratio outside (0, 1)
// or a dataset too small to give both parts a record.
std::pair<DatasetRecord, DatasetRecord> splitDataset(
    Workspace& workspace, std::int64_t id, double ratio, std::uint64_t seed);

// ---- Selection: each returns the indices of the records to keep, ascending. ----

// How many records a selection keeps: an absolute count or a fraction of n
// (rounded, at least 1). Throws InputError when neither or both are set or
// the value is out of range.
std::size_t selectionSize(std::size_t n, std::optional<std::int64_t> count, std::optional<double> fraction);

// A seeded uniform sample without replacement: the baseline every other
// selection should be compared with.
std::vector<std::size_t> selectRandom(std::size_t n, std::size_t keep, std::uint64_t seed);

// Records whose length (prompt + response tokens with a tokenizer, otherwise
// whitespace-separated words) lies in [minLength, maxLength].
std::vector<std::size_t> selectByLength(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer* tokenizer, std::int64_t minLength, std::int64_t maxLength);

// Drops records equal to an earlier one (same canonical JSON); keeps the first.
std::vector<std::size_t> dedupExact(const std::vector<nlohmann::json>& records);

// MinHash near-duplicate removal over word shingles of RecordTexts::all()
// (lower-cased, split on whitespace). Each record gets `permutations` minimum
// hashes (seeded 64-bit hash functions over the shingles); LSH with `bands`
// bands of permutations/bands rows proposes candidate pairs, and a record is
// dropped when its estimated Jaccard similarity (the share of equal minimum
// hashes) with an earlier kept record is at least `threshold`.
struct MinHashOptions {
    int shingleWords = 3;
    int permutations = 128;
    int bands = 32; // must divide permutations
    double threshold = 0.8;
    std::uint64_t seed = 1;
};
std::vector<std::vector<std::uint64_t>> minHashSignatures(
    const std::vector<std::string>& texts, const MinHashOptions& options);
double estimatedJaccard(const std::vector<std::uint64_t>& a, const std::vector<std::uint64_t>& b);
std::vector<std::size_t> dedupMinHash(
    const std::vector<nlohmann::json>& records, DatasetFormat format, const MinHashOptions& options);

} // namespace tunebench
