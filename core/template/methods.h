#pragma once

#include "core/template/value.h"

#include <optional>
#include <string>

namespace tunebench::jinja {

// The Python attribute `name` of a str, dict, list or tuple that is a method, bound
// to receiver, as Jinja2's sandbox exposes it: the usual methods run; the mutating
// ones (list.append, dict.update ...) come back as an undefined value, as the
// immutable sandbox makes them; methods this interpreter lacks come back as a
// callable that reports itself unsupported. nullopt: the type has no such attribute.
std::optional<Value> lookupMethod(const Value& receiver, const std::string& name);

} // namespace tunebench::jinja
