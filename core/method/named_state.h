#pragma once

#include "core/method/adapter.h"

#include <string_view>
#include <vector>

namespace tunebench {

// State of an adapter that trains a list of named tensors (its own, or chosen
// model parameters): the tensors themselves, detached.
AdapterState namedState(const std::vector<NamedParameter>& params);

// Copies a saved state into the named tensors, in place and without recording
// gradients. Throws InputError "<method> state: ..." naming a missing tensor
// or a shape that differs.
void restoreNamedState(const std::vector<NamedParameter>& params, const AdapterState& state, std::string_view method);

} // namespace tunebench
