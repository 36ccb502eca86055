#include "core/data/dataset_format.h"

#include "core/util/error.h"

#include <algorithm>
#include <array>

namespace tunebench {

namespace {

const std::array<std::string_view, 4> kRoles = { "system", "user", "assistant", "tool" };

std::string columnFor(const ColumnMapping& mapping, std::string_view field)
{
    auto it = mapping.find(std::string(field));
    return it == mapping.end() ? std::string(field) : it->second;
}

std::string typeName(const nlohmann::json& v)
{
    return v.is_null() ? "null" : v.type_name();
}

// Validates a list of chat messages; appends errors under the given field name.
bool checkMessages(const nlohmann::json& messages, std::int64_t line, const std::string& field,
    std::vector<RecordError>& errors, bool onlyAssistant, bool needAssistant)
{
    if (!messages.is_array() || messages.empty()) {
        errors.push_back({ line, field,
            "expected a non-empty list of messages, got "
                + (messages.is_array() ? std::string("an empty list") : typeName(messages)) });
        return false;
    }
    bool ok = true;
    bool sawAssistant = false;
    for (std::size_t i = 0; i < messages.size(); ++i) {
        const std::string where = field + "[" + std::to_string(i) + "]";
        const auto& m = messages[i];
        if (!m.is_object()) {
            errors.push_back({ line, where, "expected a message object {role, content}, got " + typeName(m) });
            ok = false;
            continue;
        }
        const auto role = m.find("role");
        if (role == m.end() || !role->is_string()) {
            errors.push_back({ line, where + ".role", "expected a string role (system, user, assistant or tool)" });
            ok = false;
        } else if (std::find(kRoles.begin(), kRoles.end(), role->get_ref<const std::string&>()) == kRoles.end()) {
            errors.push_back({ line, where + ".role",
                "unknown role '" + role->get<std::string>() + "' (expected system, user, assistant or tool)" });
            ok = false;
        } else {
            sawAssistant = sawAssistant || *role == "assistant";
            if (onlyAssistant && *role != "assistant") {
                errors.push_back({ line, where + ".role",
                    "a response holds assistant messages only, got '" + role->get<std::string>() + "'" });
                ok = false;
            }
        }
        const auto content = m.find("content");
        const bool hasToolCalls = m.contains("tool_calls");
        if (content == m.end() || !(content->is_string() || (content->is_null() && hasToolCalls))) {
            errors.push_back({ line, where + ".content",
                "expected a string content, got "
                    + (content == m.end() ? std::string("nothing") : typeName(*content)) });
            ok = false;
        }
    }
    if (ok && needAssistant && !sawAssistant) {
        errors.push_back({ line, field, "no assistant message: there is nothing to train on" });
        ok = false;
    }
    return ok;
}

bool checkText(const nlohmann::json& v, std::int64_t line, const std::string& field, bool allowEmpty,
    std::vector<RecordError>& errors)
{
    if (!v.is_string()) {
        errors.push_back({ line, field, "expected a string, got " + typeName(v) });
        return false;
    }
    if (!allowEmpty && v.get_ref<const std::string&>().find_first_not_of(" \t\r\n") == std::string::npos) {
        errors.push_back({ line, field, "expected non-empty text" });
        return false;
    }
    return true;
}

std::optional<bool> parseLabel(const nlohmann::json& v)
{
    if (v.is_boolean())
        return v.get<bool>();
    if (v.is_number_integer() && (v == 0 || v == 1))
        return v == 1;
    if (v.is_string()) {
        std::string s = v.get<std::string>();
        std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
        if (s == "true" || s == "1" || s == "yes" || s == "desirable")
            return true;
        if (s == "false" || s == "0" || s == "no" || s == "undesirable")
            return false;
    }
    return std::nullopt;
}

} // namespace

std::string_view toString(DatasetFormat format)
{
    switch (format) {
    case DatasetFormat::Text:
        return "text";
    case DatasetFormat::Instruction:
        return "instruction";
    case DatasetFormat::Chat:
        return "chat";
    case DatasetFormat::Preference:
        return "preference";
    case DatasetFormat::UnpairedPreference:
        return "unpaired_preference";
    case DatasetFormat::Prompt:
        return "prompt";
    }
    return "unknown";
}

DatasetFormat datasetFormatFromString(std::string_view name)
{
    if (name == "text")
        return DatasetFormat::Text;
    if (name == "instruction" || name == "alpaca")
        return DatasetFormat::Instruction;
    if (name == "chat" || name == "messages" || name == "conversation")
        return DatasetFormat::Chat;
    if (name == "preference" || name == "dpo" || name == "pairs")
        return DatasetFormat::Preference;
    if (name == "unpaired_preference" || name == "kto")
        return DatasetFormat::UnpairedPreference;
    if (name == "prompt" || name == "prompts" || name == "grpo")
        return DatasetFormat::Prompt;
    throw InputError("unknown dataset format '" + std::string(name)
        + "' (expected text, instruction, chat, preference, unpaired_preference or prompt)");
}

const std::vector<FieldSpec>& fieldsOf(DatasetFormat format)
{
    static const std::vector<FieldSpec> text { { "text", true } };
    static const std::vector<FieldSpec> instruction { { "instruction", true }, { "input", false }, { "output", true } };
    static const std::vector<FieldSpec> chat { { "messages", true } };
    static const std::vector<FieldSpec> preference { { "prompt", true }, { "chosen", true }, { "rejected", true } };
    static const std::vector<FieldSpec> unpaired { { "prompt", true }, { "completion", true }, { "label", true } };
    static const std::vector<FieldSpec> prompt { { "prompt", true }, { "answer", false } };
    switch (format) {
    case DatasetFormat::Text:
        return text;
    case DatasetFormat::Instruction:
        return instruction;
    case DatasetFormat::Chat:
        return chat;
    case DatasetFormat::Preference:
        return preference;
    case DatasetFormat::UnpairedPreference:
        return unpaired;
    case DatasetFormat::Prompt:
        return prompt;
    }
    return text;
}

std::optional<DatasetFormat> detectFormat(const nlohmann::json& record, const ColumnMapping& mapping)
{
    if (!record.is_object())
        return std::nullopt;
    for (DatasetFormat f : { DatasetFormat::Preference, DatasetFormat::UnpairedPreference, DatasetFormat::Chat,
             DatasetFormat::Instruction, DatasetFormat::Text, DatasetFormat::Prompt }) {
        bool fits = true;
        for (const FieldSpec& field : fieldsOf(f)) {
            if (field.required && !record.contains(columnFor(mapping, field.name)))
                fits = false;
        }
        if (fits)
            return f;
    }
    return std::nullopt;
}

std::optional<nlohmann::json> normalizeRecord(const nlohmann::json& record, std::int64_t line, DatasetFormat format,
    const ColumnMapping& mapping, std::vector<RecordError>& errors)
{
    const std::size_t errorsBefore = errors.size();
    nlohmann::json out = nlohmann::json::object();
    for (const FieldSpec& field : fieldsOf(format)) {
        const std::string column = columnFor(mapping, field.name);
        const std::string fieldName(field.name);
        auto it = record.find(column);
        if (it == record.end() || (it->is_null() && !field.required)) {
            if (field.required)
                errors.push_back({ line, column, "missing (required for " + std::string(toString(format)) + " data)" });
            else if (format != DatasetFormat::Prompt) // a prompt without an answer has none, not an empty one
                out[fieldName] = "";
            continue;
        }
        const nlohmann::json& v = *it;
        switch (format) {
        case DatasetFormat::Text:
        case DatasetFormat::Instruction:
            if (checkText(v, line, column, !field.required, errors))
                out[fieldName] = v;
            break;
        case DatasetFormat::Chat:
            if (checkMessages(v, line, column, errors, false, true))
                out[fieldName] = v;
            break;
        case DatasetFormat::Preference:
        case DatasetFormat::UnpairedPreference:
            if (fieldName == "label") {
                if (auto label = parseLabel(v))
                    out[fieldName] = *label;
                else
                    errors.push_back({ line, column, "expected a label true or false (or 1/0), got " + v.dump() });
            } else if (v.is_array()) {
                const bool response = fieldName != "prompt";
                if (checkMessages(v, line, column, errors, response, false))
                    out[fieldName] = v;
            } else if (checkText(v, line, column, false, errors)) {
                out[fieldName] = v;
            }
            break;
        case DatasetFormat::Prompt:
            if (fieldName == "answer") {
                if (v.is_string() || v.is_number())
                    out[fieldName] = v;
                else
                    errors.push_back({ line, column, "expected the answer as text or a number, got " + typeName(v) });
            } else if (v.is_array()) {
                if (checkMessages(v, line, column, errors, false, false))
                    out[fieldName] = v;
            } else if (checkText(v, line, column, false, errors)) {
                out[fieldName] = v;
            }
            break;
        }
    }
    if (format == DatasetFormat::Prompt && record.is_object()) {
        // The other fields go along for the reward functions (a test list, a unit ...), under their own names.
        std::vector<std::string> mapped;
        for (const FieldSpec& field : fieldsOf(format))
            mapped.push_back(columnFor(mapping, field.name));
        for (auto it = record.begin(); it != record.end(); ++it) {
            if (!out.contains(it.key()) && std::find(mapped.begin(), mapped.end(), it.key()) == mapped.end())
                out[it.key()] = it.value();
        }
    }
    if (errors.size() != errorsBefore)
        return std::nullopt;
    if (format == DatasetFormat::Preference && out["chosen"] == out["rejected"]) {
        errors.push_back(
            { line, columnFor(mapping, "rejected"), "the rejected response is the same as the chosen one" });
        return std::nullopt;
    }
    return out;
}

} // namespace tunebench
