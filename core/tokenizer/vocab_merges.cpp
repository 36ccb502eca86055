#include "vocab_merges.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

namespace tunebench {

namespace {

std::string readFile(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(file.string() + ": cannot be opened for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

Vocabulary readVocabJson(const std::filesystem::path& file)
{
    const nlohmann::json root = nlohmann::json::parse(readFile(file), nullptr, false);
    if (root.is_discarded())
        throw InputError(file.string() + ": not valid JSON");
    if (!root.is_object())
        throw InputError(file.string() + ": expected an object of token: id");
    Vocabulary vocab;
    vocab.reserve(root.size());
    for (const auto& [token, id] : root.items()) {
        if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX)
            throw InputError(
                file.string() + ": token \"" + token + "\": expected an id (a whole number >= 0), got " + id.dump());
        vocab.emplace(token, static_cast<std::int32_t>(id.get<std::int64_t>()));
    }
    return vocab;
}

std::vector<std::pair<std::string, std::string>> readMergesTxt(const std::filesystem::path& file)
{
    const std::string text = readFile(file);
    std::vector<std::pair<std::string, std::string>> merges;
    std::size_t lineNo = 0;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t end = text.find('\n', pos);
        if (end == std::string::npos)
            end = text.size();
        std::string line = text.substr(pos, end - pos);
        pos = end + 1;
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.rfind("#version", 0) == 0)
            continue;
        if (line.empty() && pos >= text.size())
            continue; // the newline that ends the file
        const std::size_t space = line.find(' ');
        if (space == std::string::npos || space == 0 || space + 1 >= line.size()
            || line.find(' ', space + 1) != std::string::npos)
            throw InputError(file.string() + ":" + std::to_string(lineNo)
                + ": expected two tokens separated by one space, got \"" + line + "\"");
        merges.emplace_back(line.substr(0, space), line.substr(space + 1));
    }
    return merges;
}

} // namespace tunebench
