#pragma once

#include "core/template/evaluator.h"

namespace tunebench::jinja {

// Jinja2's default globals that templates use: range (with the sandbox's
// 100000-item limit), dict, namespace and joiner; cycler and lipsum report
// themselves unsupported when called.
void addJinjaGlobals(Scope& scope);

} // namespace tunebench::jinja
