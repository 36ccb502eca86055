#pragma once

#include <nlohmann/json_fwd.hpp>

#include <filesystem>
#include <string>
#include <string_view>

namespace tunebench {

// Parses YAML into JSON with YAML 1.2 core-schema scalars: unquoted true/false,
// null/~, integers and floats become JSON booleans, null and numbers; quoted
// scalars stay strings. Throws InputError "SOURCE:LINE:COLUMN: what was wrong".
nlohmann::json yamlToJson(std::string_view text, std::string_view sourceName);
nlohmann::json readYamlOrJsonFile(const std::filesystem::path& path);

// Writes JSON as block-style YAML that yamlToJson reads back to the same value.
std::string jsonToYaml(const nlohmann::json& value);

} // namespace tunebench
