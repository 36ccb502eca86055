#pragma once

#include <string>

namespace tunebench {

std::string tunebenchVersion();
// The LibTorch this binary was built against, e.g. "1.13.1"; "+cuda" appended when it has CUDA.
std::string torchVersion();
std::string sqliteVersion();
// Whether LibTorch sees a usable CUDA device right now.
bool cudaAvailable();

} // namespace tunebench
