#pragma once

#include <string>

namespace tunebench {

std::string tunebenchVersion();
// The LibTorch this binary was built against and whether it has CUDA:
// "1.13.1, CPU only" or "2.11.0 with CUDA 13.0".
std::string torchVersion();
std::string sqliteVersion();
// Whether LibTorch sees a usable CUDA device right now.
bool cudaAvailable();

} // namespace tunebench
