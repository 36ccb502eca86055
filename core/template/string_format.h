#pragma once

#include "core/template/callable.h"
#include "core/template/value.h"

#include <string>

namespace tunebench::jinja {

class Evaluator;

// Python's printf-style `format % args` (a tuple gives several arguments, a dict
// named ones). Throws RuntimeProblem: TypeError as Python would, Unsupported for
// conversions this interpreter lacks.
std::string percentFormat(const std::string& format, const Value& args);
// Python's str.format with {} / {0} / {name}, attribute and index fields and the
// common format specs (fill, align, sign, width, precision; s d f e g x o b %).
std::string braceFormat(Evaluator& evaluator, const std::string& format, const CallArgs& args);

} // namespace tunebench::jinja
