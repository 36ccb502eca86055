#include "command_line.h"
#include "commands.h"

#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>

namespace tunebench::cli {

namespace {

// Calls `handle(lineText, lineNumber)` for each line of FILE; a final newline
// ends the file rather than starting an empty line.
template <typename Handle> void forEachLine(const std::string& file, Handle handle)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(file + ": cannot be opened for reading");
    std::string line;
    std::size_t number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        handle(line, number);
    }
}

int tokenize(const std::vector<std::string>& args)
{
    CommandLine cl(
        "tunebench-cli tokenize --tokenizer DIR --input FILE [--add-special-tokens] [--decode [--skip-special-tokens]]",
        "Encodes text with a Hugging Face tokenizer (tokenizer.json, or vocab.json + merges.txt).\n"
        "FILE holds one JSON string per line; prints one JSON array of token ids per line, in order.\n"
        "With --decode, FILE holds one JSON array of ids per line and one JSON string is printed per line.",
        {},
        { { "tokenizer", "DIR", "the model or tokenizer folder", true },
            { "input", "FILE", "one JSON string (or, with --decode, one array of ids) per line", true },
            { "add-special-tokens", "",
                "apply the post-processor (e.g. BOS for Llama), as transformers'"
                " add_special_tokens=True does" },
            { "decode", "", "decode arrays of ids instead of encoding strings" },
            { "skip-special-tokens", "", "with --decode: leave special tokens out of the text" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const Tokenizer tokenizer = Tokenizer::fromFolder(cl.required("tokenizer"));
    const std::string file = cl.required("input");
    const bool decode = cl.has("decode");
    const bool addSpecial = cl.has("add-special-tokens");
    const bool skipSpecial = cl.has("skip-special-tokens");
    std::string out;
    // Lines already encoded are printed before an error on a later line is reported.
    struct FlushOnExit {
        std::string& out;
        ~FlushOnExit() { std::cout << out << std::flush; }
    } flushOnExit { out };
    forEachLine(file, [&](const std::string& line, std::size_t number) {
        const std::string where = file + ":" + std::to_string(number);
        const nlohmann::json value = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (!decode) {
            if (!value.is_string())
                throw InputError(
                    where + ": expected a JSON string, got " + (line.empty() ? "an empty line" : line.substr(0, 60)));
            std::vector<std::int32_t> ids;
            try {
                ids = tokenizer.encode(value.get_ref<const std::string&>(), addSpecial);
            } catch (const InputError& e) {
                throw InputError(where + ": " + e.what());
            }
            // Written directly: a JSON array value of ten million ids would take 16 bytes an id.
            out += '[';
            for (std::size_t i = 0; i < ids.size(); ++i) {
                if (i)
                    out += ',';
                out += std::to_string(ids[i]);
                if (out.size() > (1 << 20)) {
                    std::cout << out;
                    out.clear();
                }
            }
            out += ']';
        } else {
            if (!value.is_array())
                throw InputError(where + ": expected a JSON array of token ids, got "
                    + (line.empty() ? "an empty line" : line.substr(0, 60)));
            std::vector<std::int32_t> ids;
            for (const auto& id : value) {
                if (!id.is_number_integer() || id.get<std::int64_t>() < INT32_MIN || id.get<std::int64_t>() > INT32_MAX)
                    throw InputError(where + ": expected token ids (whole numbers), got " + id.dump());
                ids.push_back(static_cast<std::int32_t>(id.get<std::int64_t>()));
            }
            out += nlohmann::json(tokenizer.decode(ids, skipSpecial))
                       .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
        }
        out += '\n';
        if (out.size() > (1 << 20)) {
            std::cout << out;
            out.clear();
        }
    });
    return 0;
}

const CommandRegistration kRegistration { {
    { { "tokenize" }, "encode (or decode) lines of text with a model's tokenizer", tokenize },
} };

} // namespace

} // namespace tunebench::cli
