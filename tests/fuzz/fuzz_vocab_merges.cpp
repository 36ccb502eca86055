// libFuzzer target: a tokenizer folder whose first file is vocab.json (see folder_input.h).
// Build and run: scripts/fuzz --targets vocab_merges.

#include "tokenizer_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkTokenizerFolder(data, size, "vocab.json");
    return 0;
}
