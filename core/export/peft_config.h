// The fields of a PEFT adapter_config.json as Tunebench imports them, checked without a model or LibTorch:
// the same checks, in the same order and with the same messages, as readPeftAdapter()
// (core/export/peft_adapter.cpp) makes before it needs the model, so that it can call this and the checks
// are fuzzed on their own (tests/fuzz: peft_adapter_config).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace tunebench {

class PluginRegistry;

struct PeftConfigFields {
    std::string peftType; // LORA, IA3, PROMPT_TUNING, PREFIX_TUNING
    std::string adapter; // lora, dora, ia3, prompt_tuning, prefix_tuning
    // The plugin's parameters before its schema resolves them. target_modules and feedforward_modules stay as
    // written (a list of names, or a regular expression the caller matches against the model's linear layers):
    // use moduleListField() on them.
    nlohmann::json params = nlohmann::json::object();
};

// Reads adapter_config.json's text; label names the file in errors. Throws InputError for anything but a JSON
// object.
nlohmann::json parsePeftConfigText(const std::string& text, const std::string& label);

// Checks the fields (peft_type, task_type, the refused features: modules_to_save, rank_pattern, alpha_pattern,
// layers_to_transform, layer_replication, lora_bias, exclude_modules, target_parameters, bias,
// num_transformer_submodules; the numbers r, lora_alpha, num_virtual_tokens) and maps them to the plugin.
// Throws InputError "LABEL: field 'x' ..." (a field of the wrong JSON type too).
PeftConfigFields checkPeftConfigFields(const nlohmann::json& config, const std::string& label);

// target_modules / feedforward_modules without a model: a list of strings stays; "all-linear" becomes
// ["all-linear"]; any other string must be an ECMAScript regular expression (returned as a string, for the
// caller to match). Throws InputError naming the field otherwise.
nlohmann::json moduleListField(const nlohmann::json& value, const std::string& field, const std::string& label);

// checkPeftConfigFields(), then the plugin's schema resolves the parameters (with each regular expression
// replaced by ["all-linear"], as a model would resolve it to some list): what an import would accept up to
// matching the model. Throws InputError naming the label.
nlohmann::json resolvePeftConfig(const nlohmann::json& config, const std::string& label, const PluginRegistry& plugins,
    PeftConfigFields* fields = nullptr);

} // namespace tunebench
