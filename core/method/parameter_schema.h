#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

// One hyperparameter a method takes: what the Run Setup form shows and what a
// YAML config is checked against.
struct ParameterSpec {
    enum class Type { Integer, Number, Boolean, String, StringList, Choice, IntegerList };

    std::string name; // canonical key, e.g. "r"
    std::vector<std::string> aliases; // other keys users write, e.g. "lora_r"
    Type type = Type::Number;
    nlohmann::json defaultValue; // null: required
    std::optional<double> minimum; // Integer, Number and each item of IntegerList
    std::optional<double> maximum;
    std::vector<std::string> choices; // Choice (and allowed StringList items, when given)
    std::string help;
};

std::string_view toString(ParameterSpec::Type type);

// A method's parameters, declared by its plugin as JSON:
//   [{"name": "r", "aliases": ["lora_r"], "type": "integer", "default": 8,
//     "minimum": 1, "maximum": 4096, "help": "rank of the update"}, ...]
// Types: integer, number, boolean, string, string_list, choice (with "choices"),
// integer_list (e.g. token ids).
class ParameterSchema {
public:
    ParameterSchema() = default;
    explicit ParameterSchema(std::vector<ParameterSpec> specs);

    // Throws InputError naming `owner` (the plugin) and the entry at fault.
    static ParameterSchema fromJson(const nlohmann::json& json, std::string_view owner);
    nlohmann::json toJson() const;

    const std::vector<ParameterSpec>& specs() const { return m_specs; }
    const ParameterSpec* find(std::string_view nameOrAlias) const;

    // Takes this schema's keys (by name or alias) out of `config`, checks their
    // types and ranges, fills defaults, and returns them under their canonical
    // names. Keys of other schemas stay in config, so the caller can report
    // whatever nobody took. Integers are accepted for numbers, a single string
    // for a string list, a single integer for an integer list, and
    // "1e-4"-style strings are not numbers. Throws
    // InputError "<context>: field 'x': expected ..., got ..." (and for a
    // required value that is missing, or a key given twice through aliases).
    nlohmann::json resolve(nlohmann::json& config, std::string_view context) const;

private:
    std::vector<ParameterSpec> m_specs;
};

} // namespace tunebench
