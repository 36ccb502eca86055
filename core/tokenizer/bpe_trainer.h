#pragma once

// Training a byte-level BPE tokenizer (GPT-2 style) on text, and writing it as a
// Hugging Face tokenizer folder (tokenizer.json + tokenizer_config.json) that
// Tokenizer::fromFolder and the `tokenizers` library load. No LibTorch.

#include "core/tokenizer/pattern.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tunebench {

struct BpeTrainerOptions {
    // Size of the vocabulary to reach: special tokens + the 256 byte symbols + merges.
    std::size_t vocabSize = 2048;
    // A pair is merged only while it occurs at least this often.
    std::int64_t minFrequency = 2;
    // Added tokens, given the first ids in this order (never produced by merges).
    std::vector<std::string> specialTokens;
};

// The learned model: every token in GPT-2's byte-to-character alphabet.
struct BpeModel {
    std::vector<std::string> specialTokens; // ids 0 .. n-1
    std::vector<std::string> vocab; // id -> token, specials first, then the 256 bytes in byte order, then merges
    std::vector<std::pair<std::string, std::string>> merges; // in rank order
};

// Counts the words of the texts it is given (GPT-2's pre-tokenisation: the
// split expression of the ByteLevel pre-tokenizer, bytes mapped to their
// printable stand-ins), then learns merges: each round merges the most
// frequent adjacent pair; ties go to the pair whose (left, right) token
// strings compare smallest by bytes, so the result depends only on the texts'
// word counts, never on the order they were given in or on hashing.
class BpeTrainer {
public:
    // Throws InputError when vocabSize cannot hold the specials and the 256 bytes,
    // or a special token is empty or given twice.
    explicit BpeTrainer(BpeTrainerOptions options);

    // Throws InputError for text that is not valid UTF-8.
    void addText(std::string_view text);
    // Words seen so far (each pre-tokenised piece's bytes) with their counts.
    const std::map<std::string, std::int64_t>& wordCounts() const { return m_words; }

    BpeModel train() const;

private:
    BpeTrainerOptions m_options;
    std::map<std::string, std::int64_t> m_words;
    std::shared_ptr<const Pattern> m_split;
};

struct TokenizerFolderOptions {
    std::string bosToken; // prepended by the post-processor when set
    std::string eosToken;
    std::string padToken;
    std::int64_t modelMaxLength = 2048;
};

// Writes tokenizer.json (ByteLevel pre-tokenizer and decoder, BPE model, the
// specials as added tokens, a TemplateProcessing post-processor that adds the
// BOS token) and tokenizer_config.json (bos/eos/pad roles) into dir (created).
// Throws InputError when a role names a token that is not a special token,
// Error when a file cannot be written.
void writeTokenizerFolder(
    const BpeModel& model, const std::filesystem::path& dir, const TokenizerFolderOptions& options);

} // namespace tunebench
