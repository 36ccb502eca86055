#include "core/method/peft_form.h"

#include "core/method/adapter.h"

#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/util/error.h"

#include <regex>

namespace tunebench {

std::string peftModulePrefix(const std::string& module)
{
    return "base_model.model." + module;
}

nlohmann::json peftModuleList(
    const nlohmann::json& value, const std::string& field, const CausalLM& model, const std::string& label)
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
    // (undefined behaviour past 18 digits, found by fuzzing); no module name needs such numbers.
    std::size_t digits = 0;
    for (const char c : pattern) {
        digits = (c >= '0' && c <= '9') ? digits + 1 : 0;
        if (digits > 9)
            throw InputError(label + ": field '" + field + "': not a usable regular expression: a number of more "
                + "than 9 digits in '" + pattern + "'");
    }
    std::regex re;
    try {
        re = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        throw InputError(label + ": field '" + field + "': not a regular expression: " + e.what());
    }
    nlohmann::json names = nlohmann::json::array();
    for (const Linear* l : model.linears()) {
        if (std::regex_match(l->name(), re))
            names.push_back(l->name());
    }
    if (names.empty())
        throw InputError(
            label + ": field '" + field + "': the expression '" + pattern + "' matches no linear layer of this model");
    return names;
}

void peftRefuseSet(
    const nlohmann::json& config, const std::string& field, const std::string& label, const std::string& why)
{
    auto it = config.find(field);
    if (it == config.end() || it->is_null())
        return;
    if ((it->is_object() || it->is_array()) && it->empty())
        return;
    if (it->is_boolean() && !it->get<bool>())
        return;
    throw InputError(label + ": field '" + field + "' is " + it->dump() + "; " + why);
}

nlohmann::json peftNumber(const nlohmann::json& config, const std::string& field, const std::string& label)
{
    auto it = config.find(field);
    if (it == config.end() || !it->is_number())
        throw InputError(label + ": field '" + field + "' must be a number");
    return *it;
}

nlohmann::json peftVirtualTokens(const PeftImport& folder)
{
    if (folder.config.value("num_transformer_submodules", 1) != 1)
        throw InputError(folder.label + ": field 'num_transformer_submodules' must be 1 for a causal language model");
    return peftNumber(folder.config, "num_virtual_tokens", folder.label);
}

const at::Tensor* findStateTensor(const AdapterState& state, const std::string& name)
{
    for (const auto& [k, t] : state) {
        if (k == name)
            return &t;
    }
    return nullptr;
}

const at::Tensor& requireStateTensor(const AdapterState& state, const std::string& name, const std::string& method)
{
    if (const at::Tensor* t = findStateTensor(state, name))
        return *t;
    throw InputError(method + " state: no tensor '" + name + "'");
}

PeftForm Adapter::toPeft(const nlohmann::json&, const AdapterState&, const ModelConfig&) const
{
    throw InputError("this adapter has no PEFT form (its plugin names no peftType)");
}

} // namespace tunebench
