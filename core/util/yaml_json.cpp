#include "core/util/yaml_json.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <regex>
#include <sstream>

namespace tunebench {

namespace {

std::string position(std::string_view source, const YAML::Mark& mark)
{
    std::string out(source);
    if (mark.line >= 0) {
        out += ":" + std::to_string(mark.line + 1);
        out += ":" + std::to_string(mark.column + 1);
    }
    return out;
}

// Whether s is well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool isValidUtf8(const std::string& s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t extra = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            extra = 1;
            cp = c & 0x1Fu;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2;
            cp = c & 0x0Fu;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3;
            cp = c & 0x07u;
        } else {
            return false;
        }
        if (s.size() - i <= extra)
            return false;
        for (std::size_t k = 1; k <= extra; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0u) != 0x80u)
                return false;
            cp = (cp << 6) | (b & 0x3Fu);
        }
        if ((extra == 2 && cp < 0x800) || (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF))
            || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += extra + 1;
    }
    return true;
}

// A scalar's text (a value or a key); JSON, and everything downstream, needs valid UTF-8.
const std::string& scalarText(const YAML::Node& node, std::string_view source)
{
    const std::string& s = node.Scalar();
    if (!isValidUtf8(s))
        throw InputError(position(source, node.Mark()) + ": not valid UTF-8 text");
    return s;
}

nlohmann::json scalarToJson(const YAML::Node& node, std::string_view source)
{
    const std::string& s = scalarText(node, source);
    if (node.Tag() == "!") // quoted: always a string
        return s;
    static const std::regex kNull("^(~|null|Null|NULL|)$");
    static const std::regex kTrue("^(true|True|TRUE)$");
    static const std::regex kFalse("^(false|False|FALSE)$");
    static const std::regex kInt("^[-+]?[0-9]+$");
    static const std::regex kFloat(R"(^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$)");
    if (std::regex_match(s, kNull))
        return nullptr;
    if (std::regex_match(s, kTrue))
        return true;
    if (std::regex_match(s, kFalse))
        return false;
    if (std::regex_match(s, kInt)) {
        errno = 0;
        long long v = std::strtoll(s.c_str(), nullptr, 10);
        if (errno != ERANGE)
            return v;
    }
    if (std::regex_match(s, kFloat))
        return std::strtod(s.c_str(), nullptr);
    if (s == ".inf" || s == "+.inf")
        return HUGE_VAL;
    if (s == "-.inf")
        return -HUGE_VAL;
    return s;
}

nlohmann::json toJson(const YAML::Node& node, std::string_view source)
{
    switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        return nullptr;
    case YAML::NodeType::Scalar:
        return scalarToJson(node, source);
    case YAML::NodeType::Sequence: {
        nlohmann::json arr = nlohmann::json::array();
        for (const auto& item : node)
            arr.push_back(toJson(item, source));
        return arr;
    }
    case YAML::NodeType::Map: {
        nlohmann::json obj = nlohmann::json::object();
        for (const auto& kv : node) {
            if (!kv.first.IsScalar())
                throw InputError(position(source, kv.first.Mark()) + ": mapping keys must be plain scalars");
            const std::string key = scalarText(kv.first, source);
            if (obj.contains(key))
                throw InputError(position(source, kv.first.Mark()) + ": duplicate key '" + key + "'");
            obj[key] = toJson(kv.second, source);
        }
        return obj;
    }
    }
    return nullptr;
}

bool needsQuotes(const std::string& s)
{
    if (s.empty())
        return true;
    // Anything the reader would turn into another type, or YAML syntax.
    nlohmann::json probe = scalarToJson(YAML::Node(s), "value");
    if (!probe.is_string())
        return true;
    static const std::regex kPlain(R"(^[A-Za-z0-9_./][A-Za-z0-9_ ./+-]*$)");
    return !std::regex_match(s, kPlain) || s.back() == ' ';
}

void emit(std::ostringstream& out, const nlohmann::json& v, int indent);

void emitScalar(std::ostringstream& out, const nlohmann::json& v)
{
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        out << (needsQuotes(s) ? nlohmann::json(s).dump() : s);
    } else if (v.is_number_float()) {
        double d = v.get<double>();
        if (std::isinf(d))
            out << (d > 0 ? ".inf" : "-.inf");
        else if (std::isnan(d))
            out << ".nan";
        else {
            std::string text = v.dump();
            if (text.find_first_of(".eE") == std::string::npos)
                text += ".0";
            out << text;
        }
    } else {
        out << v.dump();
    }
}

void emit(std::ostringstream& out, const nlohmann::json& v, int indent)
{
    const std::string pad(static_cast<std::size_t>(indent), ' ');
    if (v.is_object()) {
        for (auto it = v.begin(); it != v.end(); ++it) {
            const std::string key = needsQuotes(it.key()) ? nlohmann::json(it.key()).dump() : it.key();
            // YAML limits implicit keys to 1024 characters; a longer one needs the explicit "? key" form.
            if (key.size() > 1000)
                out << pad << "? " << key << "\n" << pad << ":";
            else
                out << pad << key << ":";
            const auto& child = it.value();
            if ((child.is_object() || child.is_array()) && !child.empty()) {
                out << "\n";
                emit(out, child, indent + 2);
            } else {
                out << " ";
                if (child.is_object())
                    out << "{}";
                else if (child.is_array())
                    out << "[]";
                else
                    emitScalar(out, child);
                out << "\n";
            }
        }
    } else if (v.is_array()) {
        for (const auto& item : v) {
            if ((item.is_object() || item.is_array()) && !item.empty()) {
                out << pad << "-\n";
                emit(out, item, indent + 2);
            } else {
                out << pad << "- ";
                if (item.is_object())
                    out << "{}";
                else if (item.is_array())
                    out << "[]";
                else
                    emitScalar(out, item);
                out << "\n";
            }
        }
    } else {
        out << pad;
        emitScalar(out, v);
        out << "\n";
    }
}

} // namespace

nlohmann::json yamlToJson(std::string_view text, std::string_view sourceName)
{
    YAML::Node root;
    try {
        root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
        throw InputError(position(sourceName, e.mark) + ": " + e.msg);
    }
    return toJson(root, sourceName);
}

namespace {

// A configuration is kilobytes: one beyond this is refused before it is read.
constexpr std::uintmax_t kMaxConfigBytes = 16u << 20;

} // namespace

nlohmann::json readYamlOrJsonFile(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open for reading");
    // A configuration is kilobytes; parsing a huge one would take memory many times its size.
    std::error_code ec;
    const std::uintmax_t size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxConfigBytes)
        throw InputError(path.string() + ": " + std::to_string(size) + " bytes, larger than the "
            + std::to_string(kMaxConfigBytes >> 20) + " MiB a configuration file may be");
    std::stringstream buffer;
    buffer << in.rdbuf();
    // JSON is a subset of YAML 1.2, so one reader serves both.
    return yamlToJson(buffer.str(), path.string());
}

std::string jsonToYaml(const nlohmann::json& value)
{
    // An empty document reads as null: an empty list or mapping at the top is written in flow style.
    if (value.is_array() && value.empty())
        return "[]\n";
    if (value.is_object() && value.empty())
        return "{}\n";
    std::ostringstream out;
    emit(out, value, 0);
    return out.str();
}

} // namespace tunebench
