#include "core/template/filters.h"

#include "core/template/evaluator.h"
#include "core/template/json_dump.h"
#include "core/template/methods.h"
#include "core/template/python_str.h"
#include "core/template/sequence_filters.h"
#include "core/template/string_format.h"
#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

namespace tunebench::jinja {

namespace {

const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);

// soft_str: a string stays as it is (Markup included), anything else becomes str().
Value softStr(const Value& v)
{
    return v.isString() ? v : Value::string(toPythonStr(v));
}

// Keeps a string filter's result Markup when its input was, as Markup's methods do.
Value sameFlavour(const Value& input, std::string text)
{
    return Value::string(std::move(text), input.isString() && input.isMarkup());
}

// Python's literal grammar for int(text, base) and float(text): surrounding
// whitespace, a sign, single underscores between digits.
std::optional<std::string> withoutUnderscores(std::string_view digits, bool (*isDigit)(char))
{
    if (digits.empty() || digits.front() == '_' || digits.back() == '_')
        return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (digits[i] == '_') {
            if (digits[i + 1] == '_')
                return std::nullopt;
            continue;
        }
        if (!isDigit(digits[i]))
            return std::nullopt;
        out += digits[i];
    }
    return out;
}

bool isDecimalChar(char c)
{
    return c >= '0' && c <= '9';
}

std::optional<double> parsePythonFloat(const std::string& text)
{
    std::string s = stripPythonSpace(text, true, true);
    if (s.empty())
        return std::nullopt;
    std::string sign;
    if (s[0] == '+' || s[0] == '-') {
        sign = s.substr(0, 1);
        s.erase(0, 1);
    }
    std::string lower;
    for (char c : s)
        lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    if (lower == "inf" || lower == "infinity")
        return sign == "-" ? -HUGE_VAL : HUGE_VAL;
    if (lower == "nan")
        return std::nan("");
    // digits [. digits] [e [sign] digits], or . digits ..., each digit run underscore-separated.
    std::size_t i = 0;
    auto digitRun = [&](std::string& out) {
        const std::size_t start = i;
        while (i < lower.size() && (isDecimalChar(lower[i]) || lower[i] == '_'))
            ++i;
        if (i == start)
            return true;
        auto clean = withoutUnderscores(std::string_view(lower).substr(start, i - start), isDecimalChar);
        if (!clean)
            return false;
        out += *clean;
        return true;
    };
    std::string mantissa;
    if (!digitRun(mantissa))
        return std::nullopt;
    bool digits = !mantissa.empty();
    if (i < lower.size() && lower[i] == '.') {
        ++i;
        mantissa += '.';
        const std::size_t before = mantissa.size();
        if (!digitRun(mantissa))
            return std::nullopt;
        digits = digits || mantissa.size() > before;
    }
    if (!digits)
        return std::nullopt;
    if (i < lower.size() && lower[i] == 'e') {
        ++i;
        mantissa += 'e';
        if (i < lower.size() && (lower[i] == '+' || lower[i] == '-'))
            mantissa += lower[i++];
        const std::size_t before = mantissa.size();
        if (!digitRun(mantissa) || mantissa.size() == before)
            return std::nullopt;
    }
    if (i != lower.size())
        return std::nullopt;
    return std::strtod((sign + mantissa).c_str(), nullptr);
}

std::optional<std::int64_t> parsePythonInt(const std::string& text, std::int64_t base)
{
    std::string s = stripPythonSpace(text, true, true);
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.erase(0, 1);
    }
    if (s.size() >= 2 && s[0] == '0') {
        const char p = static_cast<char>(s[1] | 0x20);
        const std::int64_t prefixBase = p == 'x' ? 16 : (p == 'o' ? 8 : (p == 'b' ? 2 : 0));
        if (prefixBase && (base == prefixBase || base == 0)) {
            base = prefixBase;
            s.erase(0, 2);
            if (!s.empty() && s[0] == '_')
                s.erase(0, 1);
        }
    }
    if (base == 0) {
        if (s.size() > 1 && s[0] == '0' && s.find_first_not_of("0_") != std::string::npos)
            return std::nullopt; // Python refuses leading zeros in base 0
        base = 10;
    }
    if (base < 2 || base > 36)
        throwTypeError("int() base must be >= 2 and <= 36, or 0");
    auto clean
        = withoutUnderscores(s, [](char c) { return isDecimalChar(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z'); });
    if (!clean)
        return std::nullopt;
    std::uint64_t value = 0;
    for (char c : *clean) {
        const int d = isDecimalChar(c) ? c - '0' : (c | 0x20) - 'a' + 10;
        if (d >= base)
            return std::nullopt;
        if (value > (UINT64_MAX - static_cast<std::uint64_t>(d)) / static_cast<std::uint64_t>(base))
            throwUnsupported("integers over 64 bits are not supported");
        value = value * static_cast<std::uint64_t>(base) + static_cast<std::uint64_t>(d);
    }
    if (value > static_cast<std::uint64_t>(INT64_MAX) + (negative ? 1 : 0))
        throwUnsupported("integers over 64 bits are not supported");
    return negative ? static_cast<std::int64_t>(0 - value) : static_cast<std::int64_t>(value);
}

std::int64_t floatToInt(double d)
{
    if (std::isinf(d))
        throwTypeError("cannot convert float infinity to integer");
    if (std::fabs(d) >= 9.2e18)
        throwUnsupported("integers over 64 bits are not supported");
    return static_cast<std::int64_t>(d);
}

Value filterInt(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("int", args, { { "default", Value::integer(0) }, { "base", Value::integer(10) } });
    if (input.isUndefined())
        throw RuntimeProblem(ErrorKind::Undefined, input.undefinedHint());
    if (input.isInt() || input.isBool())
        return Value::integer(input.toInt());
    if (input.isFloat()) {
        if (std::isnan(input.asFloat()))
            return v[0];
        return Value::integer(floatToInt(input.asFloat()));
    }
    if (input.isString()) {
        if (!v[1].isInt() && !v[1].isBool())
            throwTypeError("int() base must be an integer");
        if (auto i = parsePythonInt(input.str(), v[1].toInt()))
            return Value::integer(*i);
        if (auto d = parsePythonFloat(input.str())) {
            // Jinja2 (3.1.5 on) gives the default where the text's float is no integer,
            // infinity too; a float value that is infinite still fails (below).
            if (std::isnan(*d) || std::isinf(*d))
                return v[0];
            return Value::integer(floatToInt(*d));
        }
    }
    return v[0];
}

Value filterFloat(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("float", args, { { "default", Value::number(0.0) } });
    if (input.isUndefined())
        throw RuntimeProblem(ErrorKind::Undefined, input.undefinedHint());
    if (input.isNumber())
        return Value::number(input.toDouble());
    if (input.isString())
        if (auto d = parsePythonFloat(input.str()))
            return Value::number(*d);
    return v[0];
}

Value filterAbs(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("abs", args, {});
    if (input.isInt() || input.isBool()) {
        if (input.toInt() == INT64_MIN)
            throwUnsupported("integers over 64 bits are not supported");
        return Value::integer(std::llabs(input.toInt()));
    }
    if (input.isFloat())
        return Value::number(std::fabs(input.asFloat()));
    throwTypeError("bad operand type for abs(): '" + input.typeName() + "'");
}

// Python's round(x, n) for floats: correctly rounded through the decimal
// expansion, ties to even (glibc's printf rounds the exact binary value likewise).
double roundFloat(double x, std::int64_t digits)
{
    if (!std::isfinite(x) || x == 0.0)
        return x;
    if (digits > 300)
        return x;
    if (digits >= 0) {
        char buf[512];
        std::snprintf(buf, sizeof buf, "%.*f", static_cast<int>(digits), x);
        return std::strtod(buf, nullptr);
    }
    if (digits < -308)
        return std::copysign(0.0, x);
    const double scale = std::pow(10.0, static_cast<double>(-digits));
    return std::nearbyint(x / scale) * scale;
}

Value filterRound(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v
        = bindArguments("round", args, { { "precision", Value::integer(0) }, { "method", Value::string("common") } });
    const std::string method = v[1].isString() ? v[1].str() : "";
    if (method != "common" && method != "ceil" && method != "floor")
        throwTypeError("method must be common, ceil or floor");
    if (!v[0].isInt() && !v[0].isBool())
        throwTypeError("'" + v[0].typeName() + "' object cannot be interpreted as an integer");
    const std::int64_t precision = v[0].toInt();
    if (!input.isNumber())
        throwTypeError("type " + input.typeName() + " doesn't define __round__ method");
    if (method == "common") {
        if (input.isFloat())
            return Value::number(roundFloat(input.asFloat(), precision));
        const std::int64_t x = input.toInt();
        if (precision >= 0)
            return Value::integer(x);
        if (precision < -18)
            return Value::integer(0);
        std::int64_t p = 1;
        for (std::int64_t i = 0; i < -precision; ++i)
            p *= 10;
        std::int64_t q = x / p;
        std::int64_t r = x % p;
        if (r < 0) {
            r += p;
            --q;
        }
        if (2 * r > p || (2 * r == p && (q & 1)))
            ++q;
        return Value::integer(q * p);
    }
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double scaled = input.toDouble() * scale;
    return Value::number((method == "ceil" ? std::ceil(scaled) : std::floor(scaled)) / scale);
}

Value filterDefault(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("default", args, { { "default_value", Value::string("") }, { "boolean", kFalse } });
    if (input.isUndefined() || (v[1].truthy() && !input.truthy()))
        return v[0];
    return input;
}

Value filterString(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("string", args, {});
    return softStr(input);
}

Value filterUpper(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("upper", args, {});
    return sameFlavour(input, pyUpper(toPythonStr(input)));
}

Value filterLower(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("lower", args, {});
    return sameFlavour(input, pyLower(toPythonStr(input)));
}

Value filterCapitalize(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("capitalize", args, {});
    return sameFlavour(input, pyCapitalize(toPythonStr(input)));
}

bool isTitleBoundary(char32_t c)
{
    return c == '-' || c == '(' || c == '{' || c == '[' || c == '<' || isPythonSpace(c);
}

// Jinja2's title: each chunk after a run of spaces, hyphens or opening brackets
// gets its first character uppercased and the rest lowercased.
Value filterTitle(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("title", args, {});
    const std::u32string text = decodeUtf8(toPythonStr(input));
    std::u32string out;
    std::size_t i = 0;
    while (i < text.size()) {
        std::size_t j = i;
        const bool boundary = isTitleBoundary(text[i]);
        while (j < text.size() && isTitleBoundary(text[j]) == boundary)
            ++j;
        const std::u32string_view chunk = std::u32string_view(text).substr(i, j - i);
        out += pythonUpper(chunk.substr(0, 1));
        out += pythonLower(chunk.substr(1));
        i = j;
    }
    return sameFlavour(input, encodeUtf8(out));
}

Value filterTrim(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("trim", args, { { "chars", kNone } });
    std::optional<std::string> chars;
    if (!v[0].isNone()) {
        if (!v[0].isString())
            throwTypeError("strip arg must be None or str");
        chars = v[0].str();
    }
    return sameFlavour(input, pyStrip(toPythonStr(input), chars, true, true));
}

Value filterReplace(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("replace", args, { { "old", {} }, { "new", {} }, { "count", kNone } });
    std::int64_t count = -1;
    if (!v[2].isNone()) {
        if (!v[2].isInt() && !v[2].isBool())
            throwTypeError("'" + v[2].typeName() + "' object cannot be interpreted as an integer");
        count = v[2].toInt();
    }
    return Value::string(
        pyReplace(toPythonStr(input), toPythonStr(v[0]), toPythonStr(v[1]), count, ev.limits().maxOutputBytes));
}

Value filterCenter(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("center", args, { { "width", Value::integer(80) } });
    if (!v[0].isInt() && !v[0].isBool())
        throwTypeError("'" + v[0].typeName() + "' object cannot be interpreted as an integer");
    if (v[0].toInt() > 100000)
        throwUnsupported("center() widths over 100000");
    return sameFlavour(input, pyPad(toPythonStr(input), v[0].toInt(), U' ', '^'));
}

Value filterIndent(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v
        = bindArguments("indent", args, { { "width", Value::integer(4) }, { "first", kFalse }, { "blank", kFalse } });
    std::string indention;
    if (v[0].isString()) {
        indention = v[0].str();
    } else if (v[0].isInt() || v[0].isBool()) {
        if (v[0].toInt() > 100000)
            throwUnsupported("indent() widths over 100000");
        indention = std::string(static_cast<std::size_t>(std::max<std::int64_t>(0, v[0].toInt())), ' ');
    } else {
        throwTypeError("can't multiply sequence by non-int of type '" + v[0].typeName() + "'");
    }
    if (!input.isString())
        throwTypeError("indent expects a string, got " + input.typeName());
    // Jinja2 appends a newline so that splitlines() keeps a trailing empty line.
    const std::vector<std::string> lines = pySplitlines(input.str() + "\n", false);
    std::string out;
    if (v[2].truthy()) {
        for (std::size_t i = 0; i < lines.size(); ++i) {
            if (i)
                out += "\n" + indention;
            out += lines[i];
        }
    } else {
        out = lines.empty() ? std::string() : lines[0];
        for (std::size_t i = 1; i < lines.size(); ++i)
            out += "\n" + (lines[i].empty() ? std::string() : indention + lines[i]);
    }
    if (v[1].truthy())
        out = indention + out;
    return Value::string(std::move(out), input.isMarkup());
}

Value filterWordcount(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("wordcount", args, {});
    std::int64_t words = 0;
    bool inWord = false;
    for (char32_t c : decodeUtf8(toPythonStr(input))) {
        const bool word = c == '_' || isAlpha(c) || isNumericChar(c);
        if (word && !inWord)
            ++words;
        inWord = word;
    }
    return Value::integer(words);
}

Value filterFormat(Evaluator&, const Value& input, const CallArgs& args)
{
    if (!args.positional.empty() && !args.keyword.empty())
        throwTypeError("can't handle positional and keyword arguments at the same time");
    if (!args.keyword.empty()) {
        Dict d;
        for (const auto& [k, v] : args.keyword)
            d.set(Value::string(k), v);
        return Value::string(percentFormat(toPythonStr(input), Value::dict(std::move(d))));
    }
    return Value::string(percentFormat(toPythonStr(input), Value::sequence(args.positional, SequenceKind::Tuple)));
}

Value filterSafe(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("safe", args, {});
    return Value::string(toPythonStr(input), true);
}

Value filterEscape(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("escape", args, {});
    if (input.isString() && input.isMarkup())
        return input;
    return Value::string(escapeHtml(toPythonStr(input)), true);
}

Value filterForceescape(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("forceescape", args, {});
    return Value::string(escapeHtml(toPythonStr(input)), true);
}

Value filterAttr(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("attr", args, { { "name", {} } });
    if (!v[0].isString())
        throwTypeError("attribute name must be string");
    const std::string& name = v[0].str();
    if (input.isUndefined())
        throw RuntimeProblem(ErrorKind::Undefined, input.undefinedHint());
    // Only real attributes: a dict's keys are not attributes here.
    if (input.isDict()) {
        if (auto method = lookupMethod(input, name))
            return *method;
        return Value::undefined("'dict object' has no attribute '" + name + "'");
    }
    return ev.getAttribute(input, name);
}

Value filterTojson(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("tojson", args,
        { { "ensure_ascii", kFalse }, { "indent", kNone }, { "separators", kNone }, { "sort_keys", kFalse } });
    JsonDumpOptions options;
    options.ensureAscii = v[0].truthy();
    if (v[1].isString())
        options.indent = v[1].str();
    else if (v[1].isInt() || v[1].isBool())
        options.indent = std::string(static_cast<std::size_t>(std::clamp<std::int64_t>(v[1].toInt(), 0, 1000)), ' ');
    else if (!v[1].isNone())
        throwTypeError("tojson: indent must be an int, a string or None");
    if (!v[2].isNone()) {
        if (!(v[2].isList() || v[2].isTuple()) || v[2].items().size() != 2 || !v[2].items()[0].isString()
            || !v[2].items()[1].isString())
            throwTypeError("tojson: separators must be a pair of strings");
        options.itemSeparator = v[2].items()[0].str();
        options.keySeparator = v[2].items()[1].str();
    }
    options.sortKeys = v[3].truthy();
    std::string text = dumpJson(input, options);
    ev.checkSize(text.size(), "tojson");
    return Value::string(std::move(text));
}

struct FilterEntry {
    std::string_view name;
    FilterFunction function;
};

const FilterEntry kFilters[] = {
    { "abs", filterAbs },
    { "attr", filterAttr },
    { "batch", filterBatch },
    { "capitalize", filterCapitalize },
    { "center", filterCenter },
    { "count", filterLength },
    { "d", filterDefault },
    { "default", filterDefault },
    { "dictsort", filterDictsort },
    { "e", filterEscape },
    { "escape", filterEscape },
    { "first", filterFirst },
    { "float", filterFloat },
    { "forceescape", filterForceescape },
    { "format", filterFormat },
    { "indent", filterIndent },
    { "int", filterInt },
    { "items", filterItems },
    { "join", filterJoin },
    { "last", filterLast },
    { "length", filterLength },
    { "list", filterList },
    { "lower", filterLower },
    { "map", filterMap },
    { "max", filterMax },
    { "min", filterMin },
    { "reject", filterReject },
    { "rejectattr", filterRejectattr },
    { "replace", filterReplace },
    { "reverse", filterReverse },
    { "round", filterRound },
    { "safe", filterSafe },
    { "select", filterSelect },
    { "selectattr", filterSelectattr },
    { "sort", filterSort },
    { "string", filterString },
    { "sum", filterSum },
    { "title", filterTitle },
    { "tojson", filterTojson },
    { "trim", filterTrim },
    { "unique", filterUnique },
    { "upper", filterUpper },
    { "wordcount", filterWordcount },
};

// Jinja2 builtins this interpreter does not implement (no chat template uses them).
constexpr std::string_view kNotImplemented[] = {
    "filesizeformat",
    "groupby",
    "pprint",
    "random",
    "slice",
    "striptags",
    "truncate",
    "urlencode",
    "urlize",
    "wordwrap",
    "xmlattr",
};

const FilterEntry* findFilter(std::string_view name)
{
    for (const FilterEntry& f : kFilters)
        if (f.name == name)
            return &f;
    return nullptr;
}

} // namespace

Support filterSupport(std::string_view name)
{
    if (findFilter(name))
        return Support::Implemented;
    if (std::find(std::begin(kNotImplemented), std::end(kNotImplemented), name) != std::end(kNotImplemented))
        return Support::NotImplemented;
    return Support::Unknown;
}

Value callFilter(Evaluator& evaluator, std::string_view name, const Value& input, const CallArgs& args)
{
    const FilterEntry* f = findFilter(name);
    if (!f) {
        if (filterSupport(name) == Support::NotImplemented)
            throwUnsupported("the filter '" + std::string(name) + "' is not supported");
        throwTypeError("No filter named '" + std::string(name) + "' found.");
    }
    return f->function(evaluator, input, args);
}

} // namespace tunebench::jinja
