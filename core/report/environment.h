#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tunebench {

// What the machine running this process is: versions, CPU, GPU, OS, as label/value
// pairs for a report ("Tunebench", "0.1.0"), ("LibTorch", "1.13.1"), ("CPU", "... (16 logical cores)") ...
std::vector<std::pair<std::string, std::string>> describeEnvironment();

} // namespace tunebench
