#pragma once

// An adapter attached to a model the way a run attaches it, and the count of
// what it trains: shared by the trainer's path and the run estimate, so the
// number Run Setup and `tunebench-cli estimate` show is the number a run reports.

#include "core/method/adapter.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace tunebench {

class CausalLM;
class PluginRegistry;

// Creates adapter `name` and attaches it to `model` as runTraining does: the model frozen first, then attach()
// with params (already resolved against the plugin's schema), seed and encodeText (the model's tokenizer, special
// tokens added). Throws InputError for an unknown plugin or parameters that do not fit the model.
std::unique_ptr<Adapter> attachAdapter(const PluginRegistry& plugins, const std::string& name, CausalLM& model,
    const nlohmann::json& params, std::uint64_t seed, const TextEncoder& encodeText);

// The elements the optimiser updates: every tensor of every parameter group, summed as the trainer sums them
// for its `trainable_parameters`.
std::int64_t trainableElements(const Adapter& adapter);

} // namespace tunebench
