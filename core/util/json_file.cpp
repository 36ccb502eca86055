#include "core/util/json_file.h"

#include "core/util/error.h"

#include <fstream>
#include <sstream>

namespace tunebench {

nlohmann::json readJsonFile(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(file.string() + ": cannot open");
    std::ostringstream text;
    text << in.rdbuf();
    try {
        return nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
        throw InputError(file.string() + ": not valid JSON: " + e.what());
    }
}

} // namespace tunebench
