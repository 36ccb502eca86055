#pragma once

#include "core/template/value.h"

#include <optional>
#include <string>

namespace tunebench::jinja {

// The arguments of Python's json.dumps that transformers' tojson filter passes on.
struct JsonDumpOptions {
    bool ensureAscii = false;
    std::optional<std::string> indent; // nullopt: one line; otherwise newlines and this per level
    std::optional<std::string> itemSeparator; // default ", " (one line) or "," (indented)
    std::optional<std::string> keySeparator; // default ": "
    bool sortKeys = false;
};

// json.dumps(value, ...) byte for byte: Python's float repr, NaN/Infinity, keys of
// type int/float/bool/None turned into strings, \uXXXX escapes (surrogate pairs
// under ensure_ascii). Throws TypeError (RuntimeProblem) for values JSON cannot
// hold (undefined, a generator, a namespace ...).
std::string dumpJson(const Value& value, const JsonDumpOptions& options);

} // namespace tunebench::jinja
