// A trained reward model as a scorer of token sequences: the final hidden state of each sequence's last token
// through the scalar head, as objective reward_model trains it (plugins/reward_model_objective). It is read from
// a run trained with that objective (its base model, its adapter, the head in objective.safetensors) or from a
// Hugging Face sequence-classification folder (<Base>ForSequenceClassification, num_labels 1, score.weight).
#pragma once

#include "core/model/model_loader.h"

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class Adapter;
class CausalLM;
class PluginRegistry;

// Where a reward model's files are.
struct RewardModelSource {
    std::string label; // "run 3" or the folder, for messages
    std::filesystem::path modelFolder; // the base model (a run's) or the sequence-classification folder
    std::filesystem::path adapterDir; // a run's adapter folder; empty for a folder
    std::filesystem::path headFile; // the safetensors file holding score.weight
    bool sequenceClassification = false; // modelFolder is a sequence-classification folder
};

// Resolves `value`: digits name a run of the workspace (runs/<id>: adapter/ and objective.safetensors with
// score.weight), anything else a sequence-classification folder. Checks the files without loading the model;
// throws InputError starting with `key` for a missing run or folder, a run not trained with objective
// reward_model, or a folder whose config.json is not a sequence-classification model with num_labels 1.
RewardModelSource resolveRewardModel(
    const std::string& value, const std::filesystem::path& workspace, const std::string& key);

// Throws InputError starting with `key` when the tokenizer of `folder` differs from the policy's (policyFolder):
// the sizes, or the first id whose token differs, naming both folders.
void checkSameTokenizer(
    const std::filesystem::path& folder, const std::filesystem::path& policyFolder, const std::string& key);

class RewardModelScorer {
public:
    // Loads the model (frozen) and its head; plugins attach a run's adapter.
    RewardModelScorer(const RewardModelSource& source, const PluginRegistry* plugins, const LoadOptions& options);
    ~RewardModelScorer();

    // The reward of each sequence (token ids, at least one each), batchSize sequences per forward pass
    // (right-padded, masked).
    std::vector<double> score(const std::vector<std::vector<std::int32_t>>& sequences, std::int64_t batchSize);

    const CausalLM& model() const { return *m_model; }
    const at::Tensor& head() const { return m_head; }

private:
    std::unique_ptr<CausalLM> m_model;
    std::unique_ptr<Adapter> m_adapter;
    at::Tensor m_head; // [1, H] float32 on the model's device
};

} // namespace tunebench
