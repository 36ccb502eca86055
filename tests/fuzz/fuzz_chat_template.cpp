// libFuzzer target: a chat template's text, parsed and rendered with fixed conversations.
// Build and run: scripts/fuzz --targets chat_template.

#include "chat_template_target.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size)
{
    tunebench::fuzz::checkChatTemplate(data, size);
    return 0;
}
