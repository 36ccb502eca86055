#include "core/util/text.h"

#include <sstream>

namespace tunebench {

std::string formatNumber(double v, int precision)
{
    std::ostringstream out;
    out.precision(precision);
    out << v;
    return out.str();
}

std::string trimmed(const std::string& s)
{
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos)
        return {};
    const auto last = s.find_last_not_of(" \t\r\n");
    return s.substr(first, last - first + 1);
}

} // namespace tunebench
