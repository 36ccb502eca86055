#pragma once

#include "core/tokenizer/bpe.h"

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

// GPT-2's older tokenizer files: vocab.json (token -> id) and merges.txt (one
// "left right" pair per line, ranked by line, after an optional "#version" line).

// Throws InputError naming the file (and the token) on anything unexpected.
Vocabulary readVocabJson(const std::filesystem::path& file);
// Throws InputError naming FILE:LINE for a line that is not two tokens separated by one space.
std::vector<std::pair<std::string, std::string>> readMergesTxt(const std::filesystem::path& file);

} // namespace tunebench
