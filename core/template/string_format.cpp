#include "core/template/string_format.h"

#include "core/template/evaluator.h"
#include "core/template/python_str.h"
#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

namespace tunebench::jinja {

namespace {

struct Spec {
    char32_t fill = ' ';
    char align = '\0'; // '<' '>' '^' '=' or none
    char sign = '-';
    bool alternate = false;
    bool zero = false;
    std::int64_t width = -1;
    std::int64_t precision = -1;
    char type = '\0';
    char grouping = '\0'; // ',' or '_' between thousands
};

std::string cFormat(const std::string& spec, double d)
{
    char buf[512];
    const int n = std::snprintf(buf, sizeof buf, spec.c_str(), d);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof buf)
        throwUnsupported("a number formatted wider than " + std::to_string(sizeof buf - 1) + " characters");
    return buf;
}

std::string truncateCodePoints(const std::string& s, std::int64_t precision)
{
    if (precision < 0)
        return s;
    const std::u32string text = decodeUtf8(s);
    if (static_cast<std::int64_t>(text.size()) <= precision)
        return s;
    return encodeUtf8(std::u32string_view(text).substr(0, static_cast<std::size_t>(precision)));
}

// The digits of an integer in base 2, 8, 10 or 16, without sign.
std::string integerDigits(std::int64_t v, int base, bool upper)
{
    std::uint64_t u
        = v < 0 ? static_cast<std::uint64_t>(0) - static_cast<std::uint64_t>(v) : static_cast<std::uint64_t>(v);
    if (u == 0)
        return "0";
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    std::string out;
    while (u) {
        out.insert(out.begin(), digits[u % static_cast<std::uint64_t>(base)]);
        u /= static_cast<std::uint64_t>(base);
    }
    return out;
}

std::int64_t requireInteger(const Value& v, char conversion)
{
    if (v.isInt() || v.isBool())
        return v.toInt();
    if (v.isFloat()) {
        if (!std::isfinite(v.asFloat()) || std::fabs(v.asFloat()) >= 9.2e18)
            throwUnsupported("formatting a float this large as an integer");
        return static_cast<std::int64_t>(v.asFloat());
    }
    throwTypeError(std::string("%") + conversion + " format: a real number is required, not " + v.typeName());
}

// ---- printf-style -----------------------------------------------------------------

// Long for a reason: one printf conversion (flags, width, precision) per case, as Python formats it.
std::string percentOne(
    const Value& arg, char conversion, const std::string& flags, std::int64_t width, std::int64_t precision)
{
    const bool left = flags.find('-') != std::string::npos;
    const bool zero = flags.find('0') != std::string::npos && !left;
    const bool plus = flags.find('+') != std::string::npos;
    const bool space = flags.find(' ') != std::string::npos;
    const bool alternate = flags.find('#') != std::string::npos;
    auto pad = [&](std::string body, bool numeric) {
        const auto length = static_cast<std::int64_t>(codePointCount(body));
        if (width <= length)
            return body;
        const auto fill = static_cast<std::size_t>(width - length);
        if (left)
            return body + std::string(fill, ' ');
        if (zero && numeric) {
            std::size_t at = (!body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ')) ? 1 : 0;
            if (body.size() > at + 1 && body[at] == '0'
                && (body[at + 1] == 'x' || body[at + 1] == 'X' || body[at + 1] == 'o'))
                at += 2;
            return body.insert(at, fill, '0');
        }
        return std::string(fill, ' ') + body;
    };
    auto signed_ = [&](bool negative, std::string digits) {
        const std::string sign = negative ? "-" : (plus ? "+" : (space ? " " : ""));
        return sign + digits;
    };
    switch (conversion) {
    case 's':
        return pad(truncateCodePoints(toPythonStr(arg), precision), false);
    case 'r':
        return pad(truncateCodePoints(toPythonRepr(arg), precision), false);
    case 'd':
    case 'i':
    case 'u': {
        const std::int64_t v = requireInteger(arg, conversion);
        std::string digits = integerDigits(v, 10, false);
        if (precision > static_cast<std::int64_t>(digits.size()))
            digits.insert(0, static_cast<std::size_t>(precision) - digits.size(), '0');
        return pad(signed_(v < 0, digits), true);
    }
    case 'x':
    case 'X':
    case 'o': {
        if (!arg.isInt() && !arg.isBool())
            throwTypeError(std::string("%") + conversion + " format: an integer is required, not " + arg.typeName());
        const std::int64_t v = arg.toInt();
        std::string digits = integerDigits(v, conversion == 'o' ? 8 : 16, conversion == 'X');
        if (precision > static_cast<std::int64_t>(digits.size()))
            digits.insert(0, static_cast<std::size_t>(precision) - digits.size(), '0');
        if (alternate)
            digits = (conversion == 'o' ? "0o" : (conversion == 'x' ? "0x" : "0X")) + digits;
        return pad(signed_(v < 0, digits), true);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
        if (!arg.isNumber())
            throwTypeError(std::string("must be real number, not ") + arg.typeName());
        std::string spec = "%";
        if (plus)
            spec += '+';
        else if (space)
            spec += ' ';
        if (alternate)
            spec += '#';
        spec += "." + std::to_string(precision < 0 ? 6 : precision) + conversion;
        return pad(cFormat(spec, arg.toDouble()), true);
    }
    case 'c': {
        std::string out;
        if (arg.isInt()) {
            if (arg.asInt() < 0 || arg.asInt() > 0x10FFFF)
                throwTypeError("%c arg not in range(0x110000)");
            appendUtf8(out, static_cast<char32_t>(arg.asInt()));
        } else if (arg.isString() && codePointCount(arg.str()) == 1) {
            out = arg.str();
        } else {
            throwTypeError("%c requires int or char");
        }
        return pad(out, false);
    }
    default:
        throwUnsupported(std::string("the %") + conversion + " conversion in printf-style formatting");
    }
}

// ---- str.format -------------------------------------------------------------------

Spec parseSpec(const std::string& text)
{
    Spec spec;
    const std::u32string s = decodeUtf8(text);
    std::size_t i = 0;
    auto isAlign = [](char32_t c) { return c == '<' || c == '>' || c == '^' || c == '='; };
    if (s.size() >= 2 && isAlign(s[1])) {
        spec.fill = s[0];
        spec.align = static_cast<char>(s[1]);
        i = 2;
    } else if (!s.empty() && isAlign(s[0])) {
        spec.align = static_cast<char>(s[0]);
        i = 1;
    }
    if (i < s.size() && (s[i] == '+' || s[i] == '-' || s[i] == ' '))
        spec.sign = static_cast<char>(s[i++]);
    if (i < s.size() && s[i] == '#') {
        spec.alternate = true;
        ++i;
    }
    if (i < s.size() && s[i] == '0') {
        spec.zero = true;
        ++i;
    }
    std::int64_t width = 0;
    bool hasWidth = false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
        width = width * 10 + (s[i++] - '0');
        hasWidth = true;
        if (width > 100000)
            throwUnsupported("a format width over 100000");
    }
    if (hasWidth)
        spec.width = width;
    if (i < s.size() && (s[i] == ',' || s[i] == '_'))
        spec.grouping = static_cast<char>(s[i++]);
    if (i < s.size() && s[i] == '.') {
        ++i;
        std::int64_t p = 0;
        bool digits = false;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            p = p * 10 + (s[i++] - '0');
            digits = true;
            if (p > 1000)
                throwUnsupported("a format precision over 1000");
        }
        if (!digits)
            throwTypeError("Format specifier missing precision");
        spec.precision = p;
    }
    if (i < s.size())
        spec.type = static_cast<char>(s[i++]);
    if (i != s.size())
        throwTypeError("Invalid format specifier");
    return spec;
}

// Inserts the grouping character every `every` digits in the leading digit run.
std::string groupDigits(const std::string& body, char grouping, std::size_t every)
{
    if (!grouping)
        return body;
    std::size_t end = 0;
    while (end < body.size() && std::isxdigit(static_cast<unsigned char>(body[end])))
        ++end;
    std::string digits = body.substr(0, end);
    std::string grouped;
    for (std::size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % every == 0)
            grouped += grouping;
        grouped += digits[k];
    }
    return grouped + body.substr(end);
}

std::string alignText(std::string body, const Spec& spec, char defaultAlign, bool numeric)
{
    char align = spec.align ? spec.align : defaultAlign;
    char32_t fill = spec.fill;
    if (!spec.align && spec.zero && numeric) {
        align = '=';
        fill = '0';
    }
    const auto length = static_cast<std::int64_t>(codePointCount(body));
    if (spec.width <= length)
        return body;
    if (align == '=') {
        const std::size_t signLength = !body.empty() && (body[0] == '-' || body[0] == '+' || body[0] == ' ') ? 1 : 0;
        std::string padding;
        for (std::int64_t k = 0; k < spec.width - length; ++k)
            appendUtf8(padding, fill);
        return body.insert(signLength, padding);
    }
    return pyPad(body, spec.width, fill, align);
}

std::string formatValue(const Value& v, const std::string& specText)
{
    if (specText.empty())
        return toPythonStr(v);
    const Spec spec = parseSpec(specText);
    if (v.isString()) {
        if (spec.type && spec.type != 's')
            throwTypeError(std::string("Unknown format code '") + spec.type + "' for object of type 'str'");
        if (spec.align == '=')
            throwTypeError("'=' alignment not allowed in string format specifier");
        return alignText(truncateCodePoints(v.str(), spec.precision), spec, '<', false);
    }
    if (!v.isNumber())
        throwTypeError("unsupported format string passed to " + v.typeName() + ".__format__");
    const char type = spec.type;
    const bool integerType = type == 'd' || type == 'x' || type == 'X' || type == 'o' || type == 'b' || type == 'c'
        || (type == '\0' && !v.isFloat());
    std::string sign;
    std::string body;
    if (integerType) {
        if (v.isFloat())
            throwTypeError(std::string("Unknown format code '") + type + "' for object of type 'float'");
        if (spec.precision >= 0)
            throwTypeError("Precision not allowed in integer format specifier");
        const std::int64_t i = v.toInt();
        if (type == 'c') {
            appendUtf8(body, static_cast<char32_t>(i));
        } else {
            const int base = type == 'x' || type == 'X' ? 16 : (type == 'o' ? 8 : (type == 'b' ? 2 : 10));
            body = groupDigits(integerDigits(i, base, type == 'X'), spec.grouping, base == 10 ? 3 : 4);
            if (spec.alternate && base != 10)
                body = (base == 16 ? (type == 'X' ? "0X" : "0x") : (base == 8 ? "0o" : "0b")) + body;
            sign = i < 0 ? "-" : (spec.sign == '+' ? "+" : (spec.sign == ' ' ? " " : ""));
        }
    } else {
        const double d = v.toDouble();
        char t = type;
        std::int64_t precision = spec.precision;
        bool percent = false;
        if (t == '%') {
            percent = true;
            t = 'f';
        }
        if (t == '\0') {
            if (precision < 0) {
                body = formatPythonFloat(std::fabs(d));
            } else {
                t = 'g';
                // Without a type, Python keeps at least one digit after the point.
                std::string text = cFormat("%." + std::to_string(precision == 0 ? 1 : precision) + "g", std::fabs(d));
                if (text.find_first_of(".eninf") == std::string::npos)
                    text += ".0";
                body = text;
            }
        } else if (t == 'e' || t == 'E' || t == 'f' || t == 'F' || t == 'g' || t == 'G') {
            body = cFormat(std::string("%") + (spec.alternate ? "#" : "") + "."
                    + std::to_string(precision < 0 ? 6 : precision) + t,
                std::fabs(percent ? d * 100.0 : d));
            if (percent)
                body += '%';
        } else {
            throwTypeError(std::string("Unknown format code '") + t + "' for object of type 'float'");
        }
        sign = std::signbit(d) && !std::isnan(d) ? "-" : (spec.sign == '+' ? "+" : (spec.sign == ' ' ? " " : ""));
        if (spec.grouping && (t == 'f' || t == 'F' || t == '%' || type == '\0'))
            body = groupDigits(body, spec.grouping, 3);
    }
    return alignText(sign + body, spec, '>', true);
}

} // namespace

// Long for a reason: one pass over Python's printf-style % formatting.
std::string percentFormat(const std::string& format, const Value& args)
{
    std::vector<Value> positional;
    const Dict* mapping = nullptr;
    if (args.isTuple())
        positional = args.items();
    else {
        positional.push_back(args);
        if (args.isDict())
            mapping = &args.dict();
    }
    std::size_t next = 0;
    bool usedMapping = false;
    std::string out;
    for (std::size_t i = 0; i < format.size(); ++i) {
        if (format[i] != '%') {
            out += format[i];
            continue;
        }
        if (++i >= format.size())
            throwTypeError("incomplete format");
        const Value* keyed = nullptr;
        if (format[i] == '(') {
            const std::size_t close = format.find(')', i);
            if (close == std::string::npos)
                throwTypeError("incomplete format key");
            if (!mapping)
                throwTypeError("format requires a mapping");
            const std::string key = format.substr(i + 1, close - i - 1);
            keyed = mapping->find(key);
            if (!keyed)
                throwTypeError("KeyError: '" + key + "'");
            usedMapping = true;
            i = close + 1;
        }
        std::string flags;
        while (i < format.size() && std::string("-+ #0").find(format[i]) != std::string::npos)
            flags += format[i++];
        auto takeArg = [&]() -> Value {
            if (keyed)
                return *keyed;
            if (next >= positional.size())
                throwTypeError("not enough arguments for format string");
            return positional[next++];
        };
        std::int64_t width = -1;
        if (i < format.size() && format[i] == '*') {
            const Value w = takeArg();
            if (!w.isInt() && !w.isBool())
                throwTypeError("* wants int");
            width = std::min<std::int64_t>(w.toInt(), 100000);
            ++i;
        } else {
            while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
                width = (width < 0 ? 0 : width) * 10 + (format[i++] - '0');
                if (width > 100000)
                    throwUnsupported("a format width over 100000");
            }
        }
        std::int64_t precision = -1;
        if (i < format.size() && format[i] == '.') {
            ++i;
            precision = 0;
            while (i < format.size() && format[i] >= '0' && format[i] <= '9') {
                precision = precision * 10 + (format[i++] - '0');
                if (precision > 1000)
                    throwUnsupported("a format precision over 1000");
            }
        }
        while (i < format.size() && (format[i] == 'h' || format[i] == 'l' || format[i] == 'L'))
            ++i;
        if (i >= format.size())
            throwTypeError("incomplete format");
        const char conversion = format[i];
        if (conversion == '%') {
            out += '%';
            continue;
        }
        out += percentOne(takeArg(), conversion, flags, width, precision);
    }
    if (!usedMapping && !mapping && next < positional.size())
        throwTypeError("not all arguments converted during string formatting");
    return out;
}

// Long for a reason: one pass over Python's str.format mini-language (fields, conversions, format specs).
std::string braceFormat(Evaluator& evaluator, const std::string& format, const CallArgs& args)
{
    std::string out;
    std::size_t autoIndex = 0;
    bool usedAuto = false;
    bool usedManual = false;
    for (std::size_t i = 0; i < format.size(); ++i) {
        const char c = format[i];
        if (c == '}') {
            if (i + 1 < format.size() && format[i + 1] == '}') {
                out += '}';
                ++i;
                continue;
            }
            throwTypeError("Single '}' encountered in format string");
        }
        if (c != '{') {
            out += c;
            continue;
        }
        if (i + 1 < format.size() && format[i + 1] == '{') {
            out += '{';
            ++i;
            continue;
        }
        const std::size_t close = format.find('}', i);
        if (close == std::string::npos)
            throwTypeError("expected '}' before end of string");
        std::string field = format.substr(i + 1, close - i - 1);
        if (field.find('{') != std::string::npos)
            throwUnsupported("nested replacement fields in str.format");
        i = close;
        std::string specText;
        if (const auto colon = field.find(':'); colon != std::string::npos) {
            specText = field.substr(colon + 1);
            field.resize(colon);
        }
        char conversion = '\0';
        if (const auto bang = field.find('!'); bang != std::string::npos) {
            if (bang + 2 != field.size())
                throwTypeError("expected ':' after conversion specifier");
            conversion = field[bang + 1];
            field.resize(bang);
        }
        std::size_t nameEnd = field.find_first_of(".[");
        const std::string head = field.substr(0, nameEnd);
        Value value;
        if (head.empty()) {
            if (usedManual)
                throwTypeError("cannot switch from manual field specification to automatic field numbering");
            usedAuto = true;
            if (autoIndex >= args.positional.size())
                throwTypeError(
                    "Replacement index " + std::to_string(autoIndex) + " out of range for positional args tuple");
            value = args.positional[autoIndex++];
        } else if (head.find_first_not_of("0123456789") == std::string::npos) {
            if (usedAuto)
                throwTypeError("cannot switch from automatic field numbering to manual field specification");
            usedManual = true;
            const std::size_t index = std::stoul(head);
            if (index >= args.positional.size())
                throwTypeError("Replacement index " + head + " out of range for positional args tuple");
            value = args.positional[index];
        } else {
            const Value* v = args.keywordValue(head);
            if (!v)
                throwTypeError("KeyError: '" + head + "'");
            value = *v;
        }
        while (nameEnd != std::string::npos && nameEnd < field.size()) {
            if (field[nameEnd] == '.') {
                const std::size_t end = field.find_first_of(".[", nameEnd + 1);
                value = evaluator.getAttribute(value, field.substr(nameEnd + 1, end - nameEnd - 1));
                nameEnd = end;
            } else {
                const std::size_t end = field.find(']', nameEnd);
                if (end == std::string::npos)
                    throwTypeError("Missing ']' in format string");
                const std::string key = field.substr(nameEnd + 1, end - nameEnd - 1);
                const bool numeric = !key.empty() && key.find_first_not_of("0123456789") == std::string::npos;
                value = evaluator.getItem(value, numeric ? Value::integer(std::stoll(key)) : Value::string(key));
                nameEnd = end + 1;
            }
            if (value.isUndefined())
                throw RuntimeProblem(ErrorKind::Undefined, value.undefinedHint());
        }
        if (conversion == 'r')
            value = Value::string(toPythonRepr(value));
        else if (conversion == 's')
            value = Value::string(toPythonStr(value));
        else if (conversion != '\0')
            throwUnsupported(std::string("the !") + conversion + " conversion in str.format");
        out += formatValue(value, specText);
        evaluator.checkSize(out.size(), "str.format()");
    }
    return out;
}

} // namespace tunebench::jinja
