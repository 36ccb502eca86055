// libFuzzer target: a tokenizer folder whose first file is tokenizer.json (see folder_input.h).
// Build and run: scripts/fuzz --targets tokenizer_json.

#include "tokenizer_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkTokenizerFolder(data, size, "tokenizer.json");
    return 0;
}
