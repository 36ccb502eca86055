#pragma once

#include "core/template/template.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

// A template as a folder stores it, not parsed: what a GGUF file carries.
struct ChatTemplateText {
    std::string name; // "default" for a single template
    std::string source;
};

// A model's chat template, rendered exactly as transformers' apply_chat_template
// (tokenize=False) renders it: Jinja2's sandbox with trim_blocks and lstrip_blocks,
// tojson without HTML escaping, raise_exception, strftime_now, and the tokenizer's
// special tokens (bos_token, eos_token ...) as variables.
//
// Immutable after loading; render() is const and safe from several threads at once.
class ChatTemplate {
public:
    // The template of a model or tokenizer folder: chat_template.jinja, else
    // `chat_template` in tokenizer_config.json (a string, or a list of {name, template}
    // objects from which `name` picks one; with "default", a conversation with tools
    // gets the one named tool_use where there is one, as apply_chat_template does).
    // Special tokens come from tokenizer_config.json, overridden by
    // special_tokens_map.json as transformers does. Throws InputError naming the file
    // and field (no template, unknown name, wrong type) or a jinja::TemplateError for a
    // template that does not parse.
    static ChatTemplate fromFolder(const std::filesystem::path& dir, const std::string& name = "default");

    // fromFolder() when the folder has a template (a non-null `chat_template` in tokenizer_config.json, or
    // chat_template.jinja), else nothing: what training and evaluation use to format chat records if they can.
    // Throws as textsInFolder() and fromFolder() do.
    static std::optional<ChatTemplate> fromFolderIfPresent(const std::filesystem::path& dir);

    // The templates a folder holds as text, in the order written, from the files fromFolder() reads, with the
    // precedence of llama.cpp's converter (what a GGUF file gets): tokenizer_config.json's `chat_template` (a
    // string is "default"; a list gives its entries), else chat_template.jinja as "default". (fromFolder() takes
    // chat_template.jinja first, as transformers 5 does when it loads the tokenizer.) Empty when there is none. Throws InputError naming the file and field when
    // tokenizer_config.json or its `chat_template` is malformed. The templates are not parsed.
    static std::vector<ChatTemplateText> textsInFolder(const std::filesystem::path& dir);

    // The same from tokenizer_config.json's parsed content; origin names it in errors.
    static ChatTemplate fromConfig(
        const nlohmann::ordered_json& config, const std::string& origin, const std::string& name = "default");

    // A template text with its special tokens given directly ({"bos_token": "<s>", ...};
    // values may be strings or AddedToken objects with a "content" field).
    ChatTemplate(const std::string& source, std::string origin,
        const nlohmann::ordered_json& specialTokens = nlohmann::ordered_json::object());

    // The names a tokenizer_config.json offers ("default" for a plain string).
    static std::vector<std::string> templateNames(const nlohmann::ordered_json& config);

    // Renders a conversation. messages: the list of {role, content, ...} objects;
    // extra: further template variables (tools, documents, enable_thinking ...), which
    // override special tokens. `tools` and `documents` are none unless given, as in
    // transformers. Throws jinja::TemplateError (an InputError) from the template,
    // e.g. ErrorKind::Raised with the template's own message for raise_exception().
    std::string render(const nlohmann::ordered_json& messages, bool addGenerationPrompt,
        const nlohmann::ordered_json& extra = nlohmann::ordered_json::object()) const;

    // Renders one request object {"messages": [...], "add_generation_prompt": bool,
    // "tools": [...], ...: other keys become template variables}, as apply_chat_template
    // does (which, unlike render(), refuses an empty conversation). Throws InputError
    // naming `where` (e.g. "chats.jsonl:3") for a request of the wrong shape.
    std::string renderRequest(const nlohmann::ordered_json& request, const std::string& where) const;

    const std::string& source() const { return m_source; }
    const jinja::Variables& specialTokens() const { return m_specialTokens; }

    // Bounds against runaway templates (defaults: jinja::RenderLimits{}).
    void setLimits(const jinja::RenderLimits& limits) { m_limits = limits; }

private:
    static ChatTemplate fromField(const nlohmann::ordered_json& field, const std::string& file, const std::string& name,
        const nlohmann::ordered_json& tokens);

    std::string m_source;
    jinja::Template m_template;
    std::optional<jinja::Template> m_toolUse; // for conversations with tools (see fromFolder)
    jinja::Variables m_specialTokens;
    jinja::RenderLimits m_limits;
};

} // namespace tunebench
