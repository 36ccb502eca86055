// The teacher of knowledge distillation: a second model folder, loaded once and frozen, that must share
// the trained model's tokenizer (same ids for the same tokens) and logit width.
#pragma once

#include "core/model/model_loader.h"

#include <filesystem>
#include <memory>

namespace tunebench {

class CausalLM;
class Tokenizer;

// Loads the teacher from folder (parameters without gradients). Throws InputError naming the key
// `teacher` when the folder does not load, or when its tokenizer or vocabulary differs from the
// student's: the sizes, or the first id whose token differs.
std::unique_ptr<CausalLM> loadTeacher(const std::filesystem::path& folder, const CausalLM& student,
    const Tokenizer& studentTokenizer, const LoadOptions& options);

} // namespace tunebench
