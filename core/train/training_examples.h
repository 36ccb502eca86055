// A run's examples: read from its dataset, encoded for its objective, split into train and
// eval, packed when asked; and the batches the trainer draws from them.
#pragma once

#include "core/method/objective.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

class ChatTemplate;
class Tokenizer;
class Workspace;
struct EncodedExample;
struct EncodedPreference;
struct EncodedPrompt;
struct TrainConfig;

class TrainingExamples {
public:
    // Reads the dataset (a workspace dataset by id, or a file validated as an import would),
    // encodes every record for the objective's kind of data, splits off val_size for
    // evaluation (seeded) and packs each split when packing is on. Throws InputError naming
    // the dataset and record for a record that does not fit, and when no example keeps a
    // response token within cutoff_len.
    TrainingExamples(const TrainConfig& config, Workspace* workspace, const Tokenizer& tokenizer,
        const ChatTemplate* chatTemplate, ObjectiveData kind);
    ~TrainingExamples();
    TrainingExamples(const TrainingExamples&) = delete;
    TrainingExamples& operator=(const TrainingExamples&) = delete;

    // Examples (packed rows when packing), train and eval together; train and eval index into them.
    std::int64_t size() const;
    const std::vector<std::int64_t>& train() const { return m_train; }
    const std::vector<std::int64_t>& eval() const { return m_eval; }

    std::int64_t truncated() const { return m_truncated; } // examples cut at cutoff_len
    std::int64_t withoutTarget() const { return m_withoutTarget; } // examples the cut left nothing to train
    std::int64_t packedRows() const { return m_packedRows; } // 0 without packing

    // The examples subset[idx[i]], collated (right-padded) on device, with their cached
    // reference numbers when setReferenceCache was called.
    ObjectiveBatch batch(
        const std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& subset, const at::Device& device) const;
    // [examples, K] precomputed reference numbers by example index (precompute_ref_log_probs).
    void setReferenceCache(at::Tensor cache) { m_referenceCache = std::move(cache); }

    // Tokens a batch holds (all sequences, padding excluded).
    static std::int64_t tokens(const ObjectiveBatch& batch);

private:
    void pack(std::int64_t cutoffLen);

    ObjectiveData m_kind;
    std::int32_t m_padId = 0;
    std::vector<EncodedExample> m_sequences;
    std::vector<EncodedPreference> m_preferences;
    std::vector<EncodedPrompt> m_prompts; // ObjectiveData::Prompts, with each record's fields
    std::vector<nlohmann::json> m_promptFields;
    std::vector<std::int64_t> m_train;
    std::vector<std::int64_t> m_eval;
    std::int64_t m_truncated = 0;
    std::int64_t m_withoutTarget = 0;
    std::int64_t m_packedRows = 0;
    at::Tensor m_referenceCache;
};

} // namespace tunebench
