#include "core/template/json_dump.h"

#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace tunebench::jinja {

namespace {

class JsonWriter {
public:
    explicit JsonWriter(const JsonDumpOptions& options)
        : m_options(options)
    {
        m_itemSeparator = options.itemSeparator.value_or(options.indent ? "," : ", ");
        m_keySeparator = options.keySeparator.value_or(": ");
    }

    std::string run(const Value& value)
    {
        write(value, 0);
        return std::move(m_out);
    }

private:
    void newline(int depth)
    {
        m_out += '\n';
        for (int i = 0; i < depth; ++i)
            m_out += *m_options.indent;
    }

    void writeString(const std::string& s)
    {
        m_out += '"';
        for (char32_t c : decodeUtf8(s)) {
            switch (c) {
            case '"':
                m_out += "\\\"";
                continue;
            case '\\':
                m_out += "\\\\";
                continue;
            case '\n':
                m_out += "\\n";
                continue;
            case '\r':
                m_out += "\\r";
                continue;
            case '\t':
                m_out += "\\t";
                continue;
            case '\b':
                m_out += "\\b";
                continue;
            case '\f':
                m_out += "\\f";
                continue;
            default:
                break;
            }
            char buf[16];
            if (c < 0x20 || (m_options.ensureAscii && c > 0x7E)) {
                if (c >= 0x10000) {
                    const char32_t v = c - 0x10000;
                    std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", static_cast<unsigned>(0xD800 + (v >> 10)),
                        static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
                } else {
                    std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
                }
                m_out += buf;
            } else {
                appendUtf8(m_out, c);
            }
        }
        m_out += '"';
    }

    std::string floatText(double d) const
    {
        if (std::isnan(d))
            return "NaN";
        if (std::isinf(d))
            return d < 0 ? "-Infinity" : "Infinity";
        return formatPythonFloat(d);
    }

    std::string keyText(const Value& key) const
    {
        switch (key.kind()) {
        case ValueKind::String:
            return key.str();
        case ValueKind::Bool:
            return key.asBool() ? "true" : "false";
        case ValueKind::None:
            return "null";
        case ValueKind::Int:
            return std::to_string(key.asInt());
        case ValueKind::Float:
            return floatText(key.asFloat());
        default:
            throwTypeError("keys must be str, int, float, bool or None, not " + key.typeName());
        }
    }

    void write(const Value& v, int depth)
    {
        if (depth > 500)
            throw RuntimeProblem(ErrorKind::Limit, "tojson: value nested deeper than 500 levels");
        switch (v.kind()) {
        case ValueKind::None:
            m_out += "null";
            return;
        case ValueKind::Bool:
            m_out += v.asBool() ? "true" : "false";
            return;
        case ValueKind::Int:
            m_out += std::to_string(v.asInt());
            return;
        case ValueKind::Float:
            m_out += floatText(v.asFloat());
            return;
        case ValueKind::String:
            writeString(v.str());
            return;
        case ValueKind::Sequence:
            if (v.isList() || v.isTuple()) {
                writeArray(v.items(), depth);
                return;
            }
            break;
        case ValueKind::Dict:
            writeObject(v.dict(), depth);
            return;
        default:
            break;
        }
        throwTypeError("Object of type " + v.typeName() + " is not JSON serializable");
    }

    void writeArray(const std::vector<Value>& items, int depth)
    {
        if (items.empty()) {
            m_out += "[]";
            return;
        }
        m_out += '[';
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i)
                m_out += m_itemSeparator;
            if (m_options.indent)
                newline(depth + 1);
            write(items[i], depth + 1);
        }
        if (m_options.indent)
            newline(depth);
        m_out += ']';
    }

    void writeObject(const Dict& d, int depth)
    {
        if (d.empty()) {
            m_out += "{}";
            return;
        }
        std::vector<const std::pair<Value, Value>*> entries;
        for (const auto& e : d.entries())
            entries.push_back(&e);
        if (m_options.sortKeys)
            std::stable_sort(entries.begin(), entries.end(),
                [](const auto* a, const auto* b) { return valueLess(a->first, b->first); });
        m_out += '{';
        for (std::size_t i = 0; i < entries.size(); ++i) {
            if (i)
                m_out += m_itemSeparator;
            if (m_options.indent)
                newline(depth + 1);
            writeString(keyText(entries[i]->first));
            m_out += m_keySeparator;
            write(entries[i]->second, depth + 1);
        }
        if (m_options.indent)
            newline(depth);
        m_out += '}';
    }

    const JsonDumpOptions& m_options;
    std::string m_itemSeparator;
    std::string m_keySeparator;
    std::string m_out;
};

} // namespace

std::string dumpJson(const Value& value, const JsonDumpOptions& options)
{
    return JsonWriter(options).run(value);
}

} // namespace tunebench::jinja
