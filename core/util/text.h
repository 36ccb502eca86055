// Small text helpers for messages.
#pragma once

#include <string>

namespace tunebench {

// v as an ostream prints it with the given significant digits ("0.5", "1e-05", "3"), for error messages.
std::string formatNumber(double v, int precision = 6);

// s without leading and trailing spaces, tabs, carriage returns and newlines.
std::string trimmed(const std::string& s);

} // namespace tunebench
