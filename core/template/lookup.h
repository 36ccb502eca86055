#pragma once

#include "core/template/value.h"

#include <string>
#include <vector>

namespace tunebench::jinja {

// Python's object protocols as Jinja2's sandboxed environment applies them. Each
// throws RuntimeProblem: ErrorKind::Undefined for an operation on an undefined
// value, TypeError where Python raises one that Jinja2 does not turn into undefined.

// obj.name: an attribute first (a str/dict/list method, a loop or namespace
// attribute), then an item; undefined when neither exists.
Value getAttribute(const Value& object, const std::string& name);
// obj[key]: an item first (negative indices count from the end), then, for a
// string key, an attribute; undefined when neither exists.
Value getItem(const Value& object, const Value& key);
// obj[start:stop:step] of a string (by code point), list, tuple or range; parts are
// int, bool or none, anything else gives undefined as in Jinja2.
Value sliceValue(const Value& object, const Value& start, const Value& stop, const Value& step);
// list(iter(value)): characters, dict keys, items; a generator's remaining items
// (consuming them); nothing for undefined.
std::vector<Value> iterateValue(const Value& value);

} // namespace tunebench::jinja
