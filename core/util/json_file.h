#pragma once

#include <nlohmann/json.hpp>

#include <filesystem>

namespace tunebench {

// A JSON file's content. Throws InputError naming the file when it cannot be opened or is not valid JSON.
nlohmann::json readJsonFile(const std::filesystem::path& file);

} // namespace tunebench
