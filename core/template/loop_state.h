#pragma once

#include "core/template/value.h"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::jinja {

// The `loop` variable of a for loop: position, neighbours, cycle()/changed(), and for
// a loop marked `recursive`, a call that renders the loop body over other items.
struct LoopState {
    std::vector<Value> items; // after the loop's `if` filter
    std::size_t index0 = 0;
    std::size_t depth0 = 0;
    std::optional<std::vector<Value>> lastChanged;
    // Set only for `recursive` loops: renders the loop over an iterable at depth0 + 1.
    std::function<std::string(const Value& iterable, std::size_t depth0)> recurse;

    std::size_t length() const { return items.size(); }
};

} // namespace tunebench::jinja
