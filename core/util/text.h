// Small text helpers for messages.
#pragma once

#include <string>

namespace tunebench {

// v as an ostream prints it with the given significant digits ("0.5", "1e-05", "3"), for error messages.
std::string formatNumber(double v, int precision = 6);

} // namespace tunebench
