#include "command_line.h"
#include "commands.h"

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

namespace tunebench::cli {

namespace {

using ordered_json = nlohmann::ordered_json;

std::string readFile(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path + ": cannot open file");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

ChatTemplate loadTemplate(const CommandLine& cl)
{
    const auto tokenizer = cl.value("tokenizer");
    const auto templateFile = cl.value("template");
    if (tokenizer && templateFile)
        throw UsageError("give --tokenizer or --template, not both");
    if (!tokenizer && !templateFile)
        throw UsageError("missing --tokenizer DIR (or --template FILE)");
    if (tokenizer) {
        if (cl.has("special-tokens"))
            throw UsageError("--special-tokens goes with --template; a tokenizer folder has its own");
        return ChatTemplate::fromFolder(*tokenizer, cl.value("name").value_or("default"));
    }
    if (cl.has("name"))
        throw UsageError("--name picks one of a tokenizer's named templates; it does not go with --template");
    ordered_json tokens = ordered_json::object();
    if (const auto special = cl.value("special-tokens")) {
        tokens = ordered_json::parse(*special, nullptr, false);
        if (!tokens.is_object())
            throw UsageError("--special-tokens: expected a JSON object such as {\"bos_token\": \"<s>\"}");
    }
    return ChatTemplate(readFile(*templateFile), *templateFile, tokens);
}

int chatTemplate(const std::vector<std::string>& args)
{
    CommandLine cl(
        "tunebench-cli chat-template --tokenizer DIR --input FILE [--name NAME] [--keep-going]\n"
        "       tunebench-cli chat-template --template FILE [--special-tokens JSON] --input FILE [--keep-going]",
        "Renders conversations with a model's chat template, as transformers'\n"
        "apply_chat_template(tokenize=False) does. FILE has one JSON object per line:\n"
        "  {\"messages\": [{\"role\": ..., \"content\": ...}, ...], \"add_generation_prompt\": true|false}\n"
        "optionally with \"tools\", \"documents\" and other keys, which become template variables\n"
        "(e.g. \"enable_thinking\": false). Prints one JSON string per line, the rendered text.\n"
        "The template is tokenizer_config.json's chat_template (or chat_template.jinja) in DIR.",
        {},
        { { "tokenizer", "DIR", "model or tokenizer folder with tokenizer_config.json" },
            { "input", "FILE", "JSONL file of conversations", true },
            { "name", "NAME", "which of several named templates (default: \"default\")" },
            { "template", "FILE", "a Jinja template file instead of a tokenizer folder" },
            { "special-tokens", "JSON", "with --template: special tokens, e.g. {\"bos_token\": \"<s>\"}" },
            { "keep-going", "", "print {\"error\": ...} for a conversation that fails and go on" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const ChatTemplate chat = loadTemplate(cl);
    const std::string inputPath = cl.required("input");
    std::ifstream in(inputPath, std::ios::binary);
    if (!in)
        throw InputError(inputPath + ": cannot open file");
    const bool keepGoing = cl.has("keep-going");
    int failures = 0;
    std::string line;
    for (std::size_t lineNumber = 1; std::getline(in, line); ++lineNumber) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        const std::string where = inputPath + ":" + std::to_string(lineNumber);
        try {
            ordered_json request;
            try {
                request = ordered_json::parse(line);
            } catch (const nlohmann::json::parse_error& e) {
                throw InputError(where + ": not valid JSON (" + e.what() + ")");
            }
            std::cout << ordered_json(chat.renderRequest(request, where)).dump() << '\n';
        } catch (const jinja::TemplateError& e) {
            if (!keepGoing)
                throw InputError(where + ": " + e.what());
            ++failures;
            std::cout << ordered_json { { "error", e.message() }, { "where", std::string(e.what()) } }.dump() << '\n';
        } catch (const InputError& e) {
            if (!keepGoing)
                throw;
            ++failures;
            std::cout << ordered_json { { "error", std::string(e.what()) } }.dump() << '\n';
        }
    }
    std::cout.flush();
    return failures == 0 ? 0 : 1;
}

const CommandRegistration kRegistration { {
    { { "chat-template" }, "render conversations with a model's chat template", chatTemplate },
} };

} // namespace

} // namespace tunebench::cli
