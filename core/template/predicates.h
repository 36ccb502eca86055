#pragma once

#include "core/template/callable.h"
#include "core/template/value.h"

#include <string_view>

namespace tunebench::jinja {

class Evaluator;

// Jinja2's `is` tests (defined, none, string, in, eq, divisibleby ...).
Support testSupport(std::string_view name);

// Runs the test `name` on input. Throws RuntimeProblem as Jinja2 raises (an unknown
// test name at run time, a TypeError inside a comparison).
bool callTest(Evaluator& evaluator, std::string_view name, const Value& input, const CallArgs& args);

// Python's `item in container`, consuming a generator up to the match.
bool containsValue(Evaluator& evaluator, const Value& container, const Value& item);

} // namespace tunebench::jinja
