#pragma once

#include "core/template/value.h"

#include <string>
#include <string_view>

namespace tunebench::jinja {

// Python's str(value): what {{ value }} prints ("None", "True", "1.5", "['a', 1]";
// an undefined value prints as nothing).
std::string toPythonStr(const Value& value);
// Python's repr(value) ("'a'", "[1, 'x']", "{'k': None}").
std::string toPythonRepr(const Value& value);
// repr() of a float: the shortest text that reads back the same double, in
// Python's layout ("1.0", "1e-05", "1e+16", "inf", "nan").
std::string formatPythonFloat(double d);
// repr() of a string: quotes chosen and characters escaped as Python does.
std::string reprPythonString(std::string_view text);
// markupsafe.escape: & < > " ' as HTML entities.
std::string escapeHtml(std::string_view text);

} // namespace tunebench::jinja
