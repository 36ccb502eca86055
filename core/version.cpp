#include "core/version.h"

#include "core/device_memory.h"
#include "core/tunebench_config.h"

#include <ATen/Context.h>
#include <sqlite3.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/version.h>

namespace tunebench {

std::string tunebenchVersion()
{
    return TUNEBENCH_VERSION_STRING;
}

std::string torchVersion()
{
    std::string v = TORCH_VERSION;
    if (builtWithCuda())
        v += std::string(" with CUDA ") + cudaBuildVersion();
    else
        v += ", CPU only";
    return v;
}

std::string sqliteVersion()
{
    return sqlite3_libversion();
}

bool cudaAvailable()
{
    return at::hasCUDA();
}

} // namespace tunebench
