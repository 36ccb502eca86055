// An adapter's form in a Hugging Face PEFT folder (adapter_config.json beside
// adapter_model.safetensors), as PEFT hands its tuner-specific saving and
// loading to each tuner: a plugin whose descriptor names a peftType converts
// its own state and parameters to that form (Adapter::toPeft) and takes such a
// folder back (Adapter::fromPeft). core/export/peft_adapter writes and reads
// the files and the fields every PEFT type shares (peft_type, task_type,
// base_model_name_or_path, modules_to_save ...); the plugin owns the rest.
#pragma once

#include <nlohmann/json.hpp>

#include <ATen/core/Tensor.h>

#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class CausalLM;

using AdapterState = std::vector<std::pair<std::string, at::Tensor>>;

// What a plugin exports: the fields of adapter_config.json its PEFT type has
// (r, lora_alpha, target_modules ... for LORA) and the tensors under PEFT's
// names ("base_model.model.<module>.lora_A.weight", "prompt_embeddings").
struct PeftForm {
    nlohmann::json config = nlohmann::json::object();
    AdapterState tensors;
};

// A PEFT folder offered to a plugin whose descriptor names the folder's
// peft_type.
struct PeftImport {
    std::string peftType; // "LORA"
    const nlohmann::json& config; // adapter_config.json, whole
    const CausalLM& model; // the model it is to be attached to (resolves target_modules patterns)
    std::string label; // the config file's path: messages start with it
    // false: every plugin of the folder's peft_type is asked, and exactly one
    // may claim it (lora, not rslora, takes LORA with use_rslora); true: the
    // caller already chose this plugin (init_adapter: the run's own adapter),
    // which takes the folder whenever its tensors mean the same to it.
    bool chosen = false;
};

// --- Helpers for plugins' fromPeft/toPeft ---

// "base_model.model." + module: where PEFT puts a layer's tensors.
std::string peftModulePrefix(const std::string& module);

// A target_modules-like field of a PEFT config as a list of module names: a list
// stays as it is (PEFT and Tunebench match names alike); a string is PEFT's
// regular expression over whole module names ("all-linear" kept), turned into
// the names of the model's linear layers it matches. Throws InputError
// "<label>: field '<field>' ..." for another type or a pattern matching nothing.
nlohmann::json peftModuleList(
    const nlohmann::json& value, const std::string& field, const CausalLM& model, const std::string& label);

// Throws InputError "<label>: field '<field>' is <value>; <why>" when the config
// sets field to anything but null, false or an empty list/object.
void peftRefuseSet(
    const nlohmann::json& config, const std::string& field, const std::string& label, const std::string& why);

// config[field] when it is a number, else InputError "<label>: field '<field>' must be a number".
nlohmann::json peftNumber(const nlohmann::json& config, const std::string& field, const std::string& label);

// PEFT's prompt-learning types (PROMPT_TUNING, PREFIX_TUNING ...): num_virtual_tokens, after checking that the
// folder is for a decoder-only model (num_transformer_submodules 1).
nlohmann::json peftVirtualTokens(const PeftImport& folder);

// The tensor named name in state, or nullptr.
const at::Tensor* findStateTensor(const AdapterState& state, const std::string& name);
// The same, or InputError "<method> state: no tensor '<name>'".
const at::Tensor& requireStateTensor(const AdapterState& state, const std::string& name, const std::string& method);

} // namespace tunebench
