#pragma once

#include "core/template/ast.h"
#include "core/template/value.h"

#include <cstddef>

namespace tunebench::jinja {

// Python's arithmetic on template values: int overflow past 64 bits is refused
// (Unsupported) rather than wrapped; str/list repetition and concatenation are
// refused past maxSize bytes or items (Limit). Throws RuntimeProblem.
Value binaryOperation(BinaryOp op, const Value& left, const Value& right, std::size_t maxSize);
Value negate(const Value& operand);
Value unaryPlus(const Value& operand);
// Concatenation of two strings with markupsafe's rule: a Markup side escapes the other.
Value concatStrings(const Value& left, const Value& right);

} // namespace tunebench::jinja
