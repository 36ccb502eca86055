// A reward model run (objective reward_model) as a Hugging Face sequence-classification folder, which
// AutoModelForSequenceClassification loads (and TRL's trainers take as a reward model): config.json with
// architectures <Base>ForSequenceClassification, num_labels 1 and pad_token_id; the base weights with the adapter
// folded in, without the vocabulary projection, and the run's scalar head as score.weight; the tokenizer files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace tunebench {

class PluginRegistry;

struct SequenceClassifierExport {
    std::string adapter; // the run's adapter plugin
    std::string architecture; // "LlamaForSequenceClassification"
    std::int64_t padTokenId = 0;
};

// runDir: runs/<id> (adapter/ and objective.safetensors with score.weight); baseModel: the run's base model folder;
// out is created. transformers reads the score at the last token that is not pad_token_id, Tunebench at the last
// token of the attention mask; pad_token_id is the tokenizer's padding token, else the first EOS id (transformers'
// convention), so the two agree on sequences that do not end with it. Throws InputError for a run not trained with
// objective reward_model, for GPT-2 (its sequence classifier names tensors otherwise) and for adapters that cannot
// be folded into weights (prompt and prefix tuning).
SequenceClassifierExport exportSequenceClassifier(const std::filesystem::path& baseModel,
    const std::filesystem::path& runDir, const std::filesystem::path& out, const PluginRegistry& plugins);

} // namespace tunebench
