// The fuzz entry point for tokenizer folders (tokenizer.json, or vocab.json + merges.txt, with
// tokenizer_config.json, config.json and added_tokens.json; see folder_input.h for how one input
// holds several files), shared by the libFuzzer binaries (fuzz_tokenizer_json, fuzz_vocab_merges)
// and the regression test of the normal build (tests/tokenizer/test_fuzz_regressions.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tunebench::fuzz {

enum class TokenizerVerdict { Loaded, Rejected };

// Writes the folder and loads it with Tokenizer::fromFolder. A tokenizer that loads must encode and
// decode a fixed set of texts (ASCII, accents, CJK, emoji, its own special tokens) with every id below
// vocabSize(), encodePair and decode with and without special tokens, without throwing (an InputError
// is allowed from encode only for a tokenizer that cannot represent the text). Loading may throw
// InputError only, with a message that names one of the files. Anything else aborts with a message.
// firstFile: "tokenizer.json" or "vocab.json".
TokenizerVerdict checkTokenizerFolder(const std::uint8_t* data, std::size_t size, const std::string& firstFile);

} // namespace tunebench::fuzz
