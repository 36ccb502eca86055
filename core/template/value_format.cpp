#include "core/template/value_format.h"

#include "core/template/callable.h"
#include "core/template/loop_state.h"
#include "core/template/unicode_text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace tunebench::jinja {

namespace {

void appendHex(std::string& out, char prefix, unsigned value, int digits)
{
    char buf[16];
    std::snprintf(buf, sizeof buf, "\\%c%0*x", prefix, digits, value);
    out += buf;
}

std::string reprSequence(const Value& v)
{
    const auto& items = v.items();
    std::string out;
    switch (v.sequenceKind()) {
    case SequenceKind::Generator:
        return "<generator object>";
    case SequenceKind::Range: {
        const SequenceData& r = v.sequenceData();
        return "range(" + std::to_string(r.rangeStart) + ", " + std::to_string(r.rangeStop)
            + (r.rangeStep != 1 ? ", " + std::to_string(r.rangeStep) : std::string()) + ")";
    }
    case SequenceKind::Tuple:
        out = "(";
        for (std::size_t i = 0; i < items.size(); ++i) {
            if (i)
                out += ", ";
            out += toPythonRepr(items[i]);
        }
        return out + (items.size() == 1 ? ",)" : ")");
    case SequenceKind::ItemsView:
        out = "dict_items([";
        break;
    case SequenceKind::KeysView:
        out = "dict_keys([";
        break;
    case SequenceKind::ValuesView:
        out = "dict_values([";
        break;
    case SequenceKind::List:
        out = "[";
        break;
    }
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i)
            out += ", ";
        out += toPythonRepr(items[i]);
    }
    return out + (v.isList() ? "]" : "])");
}

std::string reprDict(const Dict& d)
{
    std::string out = "{";
    bool first = true;
    for (const auto& [k, v] : d.entries()) {
        if (!first)
            out += ", ";
        first = false;
        out += toPythonRepr(k) + ": " + toPythonRepr(v);
    }
    return out + "}";
}

} // namespace

std::string formatPythonFloat(double d)
{
    if (std::isnan(d))
        return "nan";
    if (std::isinf(d))
        return d < 0 ? "-inf" : "inf";
    // Shortest round-trip digits in scientific form, then Python's repr layout:
    // positional when the decimal exponent is in (-4, 16], scientific otherwise.
    char buf[64];
    auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
    std::string sci(buf, res.ptr);
    std::string sign;
    if (!sci.empty() && sci[0] == '-') {
        sign = "-";
        sci.erase(0, 1);
    }
    const auto ePos = sci.find('e');
    std::string mantissa = sci.substr(0, ePos);
    const int exponent = std::atoi(sci.c_str() + ePos + 1);
    std::string digits;
    for (char c : mantissa)
        if (c != '.')
            digits += c;
    while (digits.size() > 1 && digits.back() == '0')
        digits.pop_back();
    const int decpt = exponent + 1; // digits[0] sits at 10^exponent
    if (decpt > -4 && decpt <= 16) {
        std::string out;
        if (decpt <= 0) {
            out = "0." + std::string(static_cast<std::size_t>(-decpt), '0') + digits;
        } else if (static_cast<std::size_t>(decpt) >= digits.size()) {
            out = digits + std::string(static_cast<std::size_t>(decpt) - digits.size(), '0') + ".0";
        } else {
            out = digits.substr(0, static_cast<std::size_t>(decpt)) + "."
                + digits.substr(static_cast<std::size_t>(decpt));
        }
        return sign + out;
    }
    std::string out = digits.substr(0, 1);
    if (digits.size() > 1)
        out += "." + digits.substr(1);
    char exp[16];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    return sign + out + exp;
}

std::string reprPythonString(std::string_view text)
{
    const bool hasSingle = text.find('\'') != std::string_view::npos;
    const bool hasDouble = text.find('"') != std::string_view::npos;
    const char quote = hasSingle && !hasDouble ? '"' : '\'';
    std::string out(1, quote);
    for (char32_t cp : decodeUtf8(text)) {
        if (cp == static_cast<char32_t>(quote) || cp == '\\') {
            out += '\\';
            out += static_cast<char>(cp);
        } else if (cp == '\t') {
            out += "\\t";
        } else if (cp == '\n') {
            out += "\\n";
        } else if (cp == '\r') {
            out += "\\r";
        } else if (cp < 0x20 || cp == 0x7F) {
            appendHex(out, 'x', cp, 2);
        } else if (cp < 0x7F) {
            out += static_cast<char>(cp);
        } else if (isPythonPrintable(cp)) {
            appendUtf8(out, cp);
        } else if (cp < 0x100) {
            appendHex(out, 'x', cp, 2);
        } else if (cp < 0x10000) {
            appendHex(out, 'u', cp, 4);
        } else {
            appendHex(out, 'U', cp, 8);
        }
    }
    out += quote;
    return out;
}

std::string escapeHtml(std::string_view text)
{
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '"':
            out += "&#34;";
            break;
        case '\'':
            out += "&#39;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string toPythonStr(const Value& value)
{
    switch (value.kind()) {
    case ValueKind::Undefined:
        return {};
    case ValueKind::String:
        return value.str();
    default:
        return toPythonRepr(value);
    }
}

std::string toPythonRepr(const Value& value)
{
    switch (value.kind()) {
    case ValueKind::Undefined:
        return "Undefined";
    case ValueKind::None:
        return "None";
    case ValueKind::Bool:
        return value.asBool() ? "True" : "False";
    case ValueKind::Int:
        return std::to_string(value.asInt());
    case ValueKind::Float:
        return formatPythonFloat(value.asFloat());
    case ValueKind::String:
        return value.isMarkup() ? "Markup(" + reprPythonString(value.str()) + ")" : reprPythonString(value.str());
    case ValueKind::Sequence:
        return reprSequence(value);
    case ValueKind::Dict:
        return reprDict(value.dict());
    case ValueKind::Callable:
        return value.callable().repr();
    case ValueKind::Namespace:
        return "<Namespace " + reprDict(value.namespaceData().attributes) + ">";
    case ValueKind::Loop: {
        const LoopState& loop = value.loopState();
        return "<LoopContext " + std::to_string(loop.index0 + 1) + "/" + std::to_string(loop.length()) + ">";
    }
    }
    return {};
}

} // namespace tunebench::jinja
