#pragma once

#include "core/template/callable.h"
#include "core/template/value.h"

#include <string_view>

namespace tunebench::jinja {

class Evaluator;

// Whether `name` is a filter this interpreter runs, a Jinja2 builtin filter it
// lacks, or not a Jinja2 filter at all (the parser reports the last two).
Support filterSupport(std::string_view name);

// Applies a builtin filter (Jinja2's, with transformers' tojson) to input. Throws
// RuntimeProblem: TypeError where Jinja2 raises, Unsupported for an unknown name.
Value callFilter(Evaluator& evaluator, std::string_view name, const Value& input, const CallArgs& args);

} // namespace tunebench::jinja
