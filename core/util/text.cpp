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

} // namespace tunebench
