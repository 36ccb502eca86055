// The base model of a Hugging Face <Base>ForSequenceClassification folder (a reward model), for reading its final
// hidden states: loaded as <Base>ForCausalLM, the vocabulary projection it lacks left at zero and its `score.weight`
// accepted (read it with ModelWeights). Implemented beside loadCausalLM (model_loader.cpp).
#pragma once

#include "core/model/model_loader.h"

namespace tunebench {

// Throws InputError naming config.json's `architectures` when it is not a sequence-classification class of an
// architecture Tunebench reads (GPT-2's is not covered), and loadCausalLM's errors otherwise.
std::unique_ptr<CausalLM> loadSequenceClassifierBase(const std::filesystem::path& dir, const LoadOptions& options = {});

} // namespace tunebench
