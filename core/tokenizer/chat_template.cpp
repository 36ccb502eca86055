#include "core/tokenizer/chat_template.h"

#include "core/template/callable.h"
#include "core/template/template_error.h"
#include "core/template/value_format.h"
#include "core/util/error.h"

#include <ctime>
#include <fstream>
#include <sstream>

namespace tunebench {

namespace {

using ordered_json = nlohmann::ordered_json;

// transformers' SPECIAL_TOKENS_ATTRIBUTES, in its order. Since transformers 5 its
// special_tokens_map (what templates see) leaves additional_special_tokens out.
constexpr const char* kSpecialTokenKeys[] = { "bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
    "cls_token", "mask_token" };

std::string readText(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open file");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

ordered_json readJson(const std::filesystem::path& path)
{
    const std::string text = readText(path);
    try {
        return ordered_json::parse(text);
    } catch (const nlohmann::json::parse_error& e) {
        throw InputError(path.string() + ": not valid JSON (" + e.what() + ")");
    }
}

// A token as a string: tokenizer configs store either the text or an AddedToken
// object with a "content" field. Empty means none.
std::string tokenText(const ordered_json& value, const std::string& where)
{
    if (value.is_null())
        return {};
    if (value.is_string())
        return value.get<std::string>();
    if (value.is_object() && value.contains("content") && value["content"].is_string())
        return value["content"].get<std::string>();
    throw InputError(where + ": expected a token string or an object with a \"content\" string, got " + value.dump());
}

// transformers' special_tokens_map: the special tokens that are set, as strings.
void collectSpecialTokens(const ordered_json& config, const std::string& origin, ordered_json& out)
{
    if (!config.is_object())
        return;
    for (const char* key : kSpecialTokenKeys) {
        if (!config.contains(key))
            continue;
        out[key] = tokenText(config[key], origin + ": field '" + key + "'");
    }
}

jinja::Variables specialTokenVariables(const ordered_json& tokens, const std::string& origin)
{
    jinja::Variables vars;
    if (!tokens.is_object())
        throw InputError(origin + ": special tokens must be a JSON object");
    for (auto it = tokens.begin(); it != tokens.end(); ++it) {
        const std::string where = origin + ": special token '" + it.key() + "'";
        if (it.value().is_array()) {
            ordered_json list = ordered_json::array();
            for (const auto& item : it.value())
                list.push_back(tokenText(item, where));
            if (!list.empty())
                vars.emplace_back(it.key(), jinja::Value::fromJson(list));
            continue;
        }
        const std::string text = tokenText(it.value(), where);
        if (!text.empty()) // transformers leaves out tokens that are not set
            vars.emplace_back(it.key(), jinja::Value::string(text));
    }
    return vars;
}

// A `chat_template` field's templates: a string is "default"; a list holds {name, template} objects.
std::vector<ChatTemplateText> templateTexts(const ordered_json& field, const std::string& origin)
{
    if (field.is_string())
        return { { "default", field.get<std::string>() } };
    if (!field.is_array())
        throw InputError(origin + ": field 'chat_template' must be a string or a list of {name, template} objects, got "
            + std::string(field.type_name()));
    std::vector<ChatTemplateText> texts;
    for (std::size_t i = 0; i < field.size(); ++i) {
        const ordered_json& entry = field[i];
        if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string() || !entry.contains("template")
            || !entry["template"].is_string())
            throw InputError(origin + ": chat_template[" + std::to_string(i)
                + "]: expected an object with string fields 'name' and 'template'");
        texts.push_back({ entry["name"].get<std::string>(), entry["template"].get<std::string>() });
    }
    return texts;
}

std::string selectTemplate(const ordered_json& field, const std::string& origin, const std::string& name)
{
    if (field.is_string() && name != "default")
        throw InputError(
            origin + ": field 'chat_template' holds a single template; there is no template named '" + name + "'");
    std::string names;
    for (const ChatTemplateText& t : templateTexts(field, origin)) {
        if (t.name == name)
            return t.source;
        names += (names.empty() ? "" : ", ") + t.name;
    }
    throw InputError(origin + ": field 'chat_template' has no template named '" + name + "' (it has: " + names + ")");
}

// tokenizer_config.json as an object, or an empty one when the folder has none.
ordered_json readTokenizerConfig(const std::filesystem::path& configPath)
{
    if (!std::filesystem::exists(configPath))
        return ordered_json::object();
    ordered_json config = readJson(configPath);
    if (!config.is_object())
        throw InputError(configPath.string() + ": expected a JSON object");
    return config;
}

bool hasTemplateField(const ordered_json& config)
{
    return config.contains("chat_template") && !config["chat_template"].is_null();
}

jinja::Value raiseException()
{
    return jinja::makeBuiltin("raise_exception", [](jinja::Evaluator&, const jinja::CallArgs& args) -> jinja::Value {
        const auto v = jinja::bindArguments("raise_exception", args, { { "message", {} } });
        throw jinja::RuntimeProblem(jinja::ErrorKind::Raised, jinja::toPythonStr(v[0]));
    });
}

jinja::Value strftimeNow()
{
    return jinja::makeBuiltin("strftime_now", [](jinja::Evaluator&, const jinja::CallArgs& args) {
        const auto v = jinja::bindArguments("strftime_now", args, { { "format", {} } });
        if (!v[0].isString())
            jinja::throwTypeError("strftime() argument 1 must be str, not " + v[0].typeName());
        const std::time_t now = std::time(nullptr);
        std::tm local {};
        localtime_r(&now, &local);
        std::string buffer(256 + v[0].str().size() * 8, '\0');
        const std::size_t n = std::strftime(buffer.data(), buffer.size(), v[0].str().c_str(), &local);
        buffer.resize(n);
        return jinja::Value::string(buffer);
    });
}

} // namespace

ChatTemplate::ChatTemplate(const std::string& source, std::string origin, const ordered_json& specialTokens)
    : m_source(source)
    , m_template(jinja::Template::parse(source, origin))
    , m_specialTokens(specialTokenVariables(specialTokens, origin))
{ }

std::vector<std::string> ChatTemplate::templateNames(const ordered_json& config)
{
    std::vector<std::string> names;
    if (!config.is_object() || !config.contains("chat_template"))
        return names;
    const ordered_json& field = config["chat_template"];
    if (field.is_string())
        names.push_back("default");
    else if (field.is_array())
        for (const auto& entry : field)
            if (entry.is_object() && entry.contains("name") && entry["name"].is_string())
                names.push_back(entry["name"].get<std::string>());
    return names;
}

ChatTemplate ChatTemplate::fromConfig(const ordered_json& config, const std::string& origin, const std::string& name)
{
    if (!config.is_object())
        throw InputError(origin + ": expected a JSON object");
    if (!config.contains("chat_template") || config["chat_template"].is_null())
        throw InputError(origin + ": no field 'chat_template' (this tokenizer has no chat template)");
    ordered_json tokens = ordered_json::object();
    collectSpecialTokens(config, origin, tokens);
    return fromField(config["chat_template"], origin, name, tokens);
}

std::vector<ChatTemplateText> ChatTemplate::textsInFolder(const std::filesystem::path& dir)
{
    const std::filesystem::path configPath = dir / "tokenizer_config.json";
    const std::filesystem::path jinjaPath = dir / "chat_template.jinja";
    // The config's field before chat_template.jinja, as llama.cpp's converter (gguf-py's SpecialVocab) takes
    // them for a GGUF file; loading the template for use (fromFolder) takes the file first, as transformers 5.
    const ordered_json config = readTokenizerConfig(configPath);
    if (hasTemplateField(config))
        return templateTexts(config["chat_template"], configPath.string());
    if (std::filesystem::exists(jinjaPath))
        return { { "default", readText(jinjaPath) } };
    return {};
}

std::optional<ChatTemplate> ChatTemplate::fromFolderIfPresent(const std::filesystem::path& dir)
{
    if (textsInFolder(dir).empty())
        return std::nullopt;
    return fromFolder(dir);
}

ChatTemplate ChatTemplate::fromFolder(const std::filesystem::path& dir, const std::string& name)
{
    const std::filesystem::path configPath = dir / "tokenizer_config.json";
    const std::filesystem::path jinjaPath = dir / "chat_template.jinja";
    const std::filesystem::path mapPath = dir / "special_tokens_map.json";
    if (!std::filesystem::exists(configPath) && !std::filesystem::exists(jinjaPath))
        throw InputError(dir.string() + ": no tokenizer_config.json or chat_template.jinja in this folder");
    const ordered_json config = readTokenizerConfig(configPath);

    ordered_json tokens = ordered_json::object();
    collectSpecialTokens(config, configPath.string(), tokens);
    if (std::filesystem::exists(mapPath))
        collectSpecialTokens(readJson(mapPath), mapPath.string(), tokens);
    // chat_template.jinja takes priority over the config's field, as in transformers 5.
    if (std::filesystem::exists(jinjaPath)) {
        if (name != "default")
            throw InputError(
                jinjaPath.string() + ": holds a single template; there is no template named '" + name + "'");
        return ChatTemplate(readText(jinjaPath), jinjaPath.string(), tokens);
    }
    if (!hasTemplateField(config))
        throw InputError(configPath.string()
            + ": no field 'chat_template' and no chat_template.jinja (this tokenizer has no chat template)");
    return fromField(config["chat_template"], configPath.string(), name, tokens);
}

ChatTemplate ChatTemplate::fromField(
    const ordered_json& field, const std::string& file, const std::string& name, const ordered_json& tokens)
{
    ChatTemplate chat(selectTemplate(field, file, name),
        file + " chat_template" + (name == "default" ? "" : " '" + name + "'"), tokens);
    // apply_chat_template picks the template named tool_use, where there is one, for a
    // conversation with tools, unless a template was asked for by name.
    if (name == "default" && field.is_array()) {
        for (const auto& entry : field)
            if (entry.value("name", "") == "tool_use")
                chat.m_toolUse = jinja::Template::parse(
                    entry["template"].get<std::string>(), file + " chat_template 'tool_use'");
    }
    return chat;
}

std::string ChatTemplate::render(
    const ordered_json& messages, bool addGenerationPrompt, const ordered_json& extra) const
{
    jinja::Variables vars;
    vars.emplace_back("raise_exception", raiseException());
    vars.emplace_back("strftime_now", strftimeNow());
    for (const auto& token : m_specialTokens)
        vars.push_back(token);
    vars.emplace_back("messages", jinja::Value::fromJson(messages));
    vars.emplace_back("tools", jinja::Value::none());
    vars.emplace_back("documents", jinja::Value::none());
    vars.emplace_back("add_generation_prompt", jinja::Value::boolean(addGenerationPrompt));
    if (!extra.is_object())
        throw InputError("chat template variables must be a JSON object");
    for (auto it = extra.begin(); it != extra.end(); ++it)
        vars.emplace_back(it.key(), jinja::Value::fromJson(it.value()));
    const bool tools = extra.contains("tools") && !extra["tools"].is_null();
    return (tools && m_toolUse ? *m_toolUse : m_template).render(vars, m_limits);
}

std::string ChatTemplate::renderRequest(const ordered_json& request, const std::string& where) const
{
    if (!request.is_object())
        throw InputError(
            where + ": expected a JSON object with a 'messages' list, got " + std::string(request.type_name()));
    if (!request.contains("messages") || !request["messages"].is_array())
        throw InputError(where + ": field 'messages' must be a list of messages");
    if (request["messages"].empty())
        throw InputError(where + ": cannot apply a chat template to an empty conversation");
    bool addGenerationPrompt = false;
    ordered_json extra = ordered_json::object();
    for (auto it = request.begin(); it != request.end(); ++it) {
        const std::string& key = it.key();
        if (key == "messages")
            continue;
        if (key == "add_generation_prompt") {
            if (!it.value().is_boolean())
                throw InputError(
                    where + ": field 'add_generation_prompt' must be true or false, got " + it.value().dump());
            addGenerationPrompt = it.value().get<bool>();
        } else if (key == "continue_final_message") {
            if (!it.value().is_boolean() || it.value().get<bool>())
                throw InputError(where + ": field 'continue_final_message' is not supported");
        } else {
            extra[key] = it.value();
        }
    }
    try {
        return render(request["messages"], addGenerationPrompt, extra);
    } catch (const jinja::TemplateError&) {
        throw;
    } catch (const InputError& e) {
        throw InputError(where + ": " + e.what());
    }
}

} // namespace tunebench
