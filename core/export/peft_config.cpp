#include "core/export/peft_config.h"

#include "core/method/plugin_registry.h"
#include "core/util/error.h"

#include <regex>

namespace tunebench {

namespace {

// As readPeftAdapter(): a set feature is refused unless null, empty or false.
void refuseSet(const nlohmann::json& config, const std::string& field, const std::string& label, const std::string& why)
{
    auto it = config.find(field);
    if (it == config.end() || it->is_null())
        return;
    if ((it->is_object() || it->is_array()) && it->empty())
        return;
    if (it->is_boolean() && !it->get<bool>())
        return;
    throw InputError(label + ": field '" + field + "' is "
        + it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "; " + why);
}

std::string show(const nlohmann::json& value)
{
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

PeftConfigFields checkFields(const nlohmann::json& config, const std::string& label)
{
    if (!config.is_object())
        throw InputError(label + ": not a JSON object; expected a PEFT adapter folder's adapter_config.json");
    if (!config.contains("peft_type") || !config["peft_type"].is_string())
        throw InputError(label + ": field 'peft_type' is missing; expected LORA, IA3, PROMPT_TUNING or PREFIX_TUNING");
    PeftConfigFields r;
    r.peftType = config["peft_type"].get<std::string>();
    if (config.contains("task_type") && !config["task_type"].is_null() && config["task_type"] != "CAUSAL_LM")
        throw InputError(label + ": field 'task_type' is " + show(config["task_type"])
            + "; only CAUSAL_LM adapters apply to Tunebench's models");
    refuseSet(config, "modules_to_save", label, "extra trained copies of whole modules are not imported");

    auto number = [&](const char* field) {
        if (!config.contains(field) || !config[field].is_number())
            throw InputError(label + ": field '" + std::string(field) + "' must be a number");
        return config[field];
    };
    if (r.peftType == "LORA") {
        for (const char* f : { "rank_pattern", "alpha_pattern" })
            refuseSet(config, f, label, "per-layer ranks and alphas are not imported");
        refuseSet(config, "layers_to_transform", label, "LoRA on a subset of layers is not imported");
        refuseSet(config, "layer_replication", label, "layer replication is not imported");
        refuseSet(config, "lora_bias", label, "LoRA biases are not imported");
        refuseSet(config, "exclude_modules", label, "excluded modules are not imported");
        refuseSet(config, "target_parameters", label, "LoRA on parameters is not imported");
        if (config.value("bias", std::string("none")) != "none")
            throw InputError(label + ": field 'bias' is " + show(config["bias"]) + "; only \"none\" is imported");
        r.adapter = config.value("use_dora", false) ? "dora" : "lora";
        r.params = { { "r", number("r") }, { "lora_alpha", number("lora_alpha") },
            { "lora_dropout", config.value("lora_dropout", 0.0) },
            { "target_modules", config.value("target_modules", nlohmann::json()) },
            { "use_rslora", config.value("use_rslora", false) } };
    } else if (r.peftType == "IA3") {
        r.adapter = "ia3";
        r.params = { { "target_modules", config.value("target_modules", nlohmann::json()) },
            { "feedforward_modules",
                config.contains("feedforward_modules") && !config["feedforward_modules"].is_null()
                    ? config["feedforward_modules"]
                    : nlohmann::json::array() } };
        refuseSet(config, "exclude_modules", label, "excluded modules are not imported");
    } else if (r.peftType == "PROMPT_TUNING") {
        r.adapter = "prompt_tuning";
        if (config.value("num_transformer_submodules", 1) != 1)
            throw InputError(label + ": field 'num_transformer_submodules' must be 1 for a causal language model");
        r.params = { { "num_virtual_tokens", number("num_virtual_tokens") }, { "prompt_tuning_init", "random" } };
    } else if (r.peftType == "PREFIX_TUNING") {
        r.adapter = "prefix_tuning";
        if (config.value("num_transformer_submodules", 1) != 1)
            throw InputError(label + ": field 'num_transformer_submodules' must be 1 for a causal language model");
        r.params = { { "num_virtual_tokens", number("num_virtual_tokens") }, { "prefix_projection", false } };
    } else {
        throw InputError(label + ": field 'peft_type' is '" + r.peftType
            + "'; Tunebench imports LORA (also rsLoRA and DoRA), IA3, PROMPT_TUNING and PREFIX_TUNING");
    }
    return r;
}

} // namespace

nlohmann::json parsePeftConfigText(const std::string& text, const std::string& label)
{
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw InputError(label + ": not a JSON object; expected a PEFT adapter folder's adapter_config.json");
    return j;
}

PeftConfigFields checkPeftConfigFields(const nlohmann::json& config, const std::string& label)
{
    try {
        return checkFields(config, label);
    } catch (const nlohmann::json::exception& e) {
        // A field of the wrong JSON type (null where a bool belongs, ...), as readPeftAdapter() reports it.
        throw InputError(label + ": a field has the wrong type: " + e.what());
    }
}

nlohmann::json moduleListField(const nlohmann::json& value, const std::string& field, const std::string& label)
{
    if (value.is_array()) {
        for (const auto& v : value) {
            if (!v.is_string())
                throw InputError(label + ": field '" + field + "' must be a list of module names");
        }
        return value;
    }
    if (!value.is_string())
        throw InputError(label + ": field '" + field + "' must be a list of module names or a regular expression");
    const std::string pattern = value.get<std::string>();
    if (pattern == "all-linear")
        return nlohmann::json::array({ "all-linear" });
    // libstdc++'s regex compiler reads a back-reference or repeat count into a long without an overflow check
    // (undefined behaviour past 18 digits); no module name needs such numbers.
    std::size_t digits = 0;
    for (const char c : pattern) {
        digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
        if (digits > 9)
            throw InputError(label + ": field '" + field + "': not a usable regular expression: a number of more "
                + "than 9 digits in '" + pattern + "'");
    }
    try {
        std::regex re(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        throw InputError(label + ": field '" + field + "': not a regular expression: " + e.what());
    }
    return pattern;
}

nlohmann::json resolvePeftConfig(
    const nlohmann::json& config, const std::string& label, const PluginRegistry& plugins, PeftConfigFields* fields)
{
    PeftConfigFields r = checkPeftConfigFields(config, label);
    for (const char* field : { "target_modules", "feedforward_modules" }) {
        if (!r.params.contains(field))
            continue;
        const nlohmann::json list = moduleListField(r.params[field], field, label);
        r.params[field] = list.is_string() ? nlohmann::json::array({ "all-linear" }) : list;
    }
    nlohmann::json params = r.params;
    nlohmann::json resolved;
    try {
        resolved = plugins.require(PluginKind::Adapter, r.adapter).schema.resolve(params, label);
    } catch (const InputError& e) {
        const std::string what = e.what();
        throw InputError(what.rfind(label, 0) == 0 ? what : label + ": " + what);
    }
    if (fields)
        *fields = std::move(r);
    return resolved;
}

} // namespace tunebench
