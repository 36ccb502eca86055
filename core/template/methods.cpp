#include "core/template/methods.h"

#include "core/template/callable.h"
#include "core/template/evaluator.h"
#include "core/template/python_str.h"
#include "core/template/string_format.h"
#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>
#include <array>

namespace tunebench::jinja {

namespace {

const Value kNone = Value::none();

const std::string& requireStr(const Value& v, const char* what)
{
    if (!v.isString())
        throwTypeError(std::string(what) + " must be str, not " + v.typeName());
    return v.str();
}

std::optional<std::string> optionalStr(const Value& v, const char* what)
{
    if (v.isNone())
        return std::nullopt;
    return requireStr(v, what);
}

std::optional<std::int64_t> optionalIndex(const Value& v)
{
    if (v.isNone())
        return std::nullopt;
    if (!v.isInt() && !v.isBool())
        throwTypeError("slice indices must be integers or None");
    return v.toInt();
}

std::int64_t requireInt(const Value& v, const char* what)
{
    if (!v.isInt() && !v.isBool())
        throwTypeError(std::string(what) + " must be an integer, not " + v.typeName());
    return v.toInt();
}

Value stringList(std::vector<std::string> parts)
{
    std::vector<Value> items;
    items.reserve(parts.size());
    for (auto& p : parts)
        items.push_back(Value::string(std::move(p)));
    return Value::sequence(std::move(items));
}

// startswith/endswith accept one prefix or a tuple of them.
bool affixMatch(const std::string& s, const Value& affix, const Value& start, const Value& end, bool atEnd)
{
    const auto from = optionalIndex(start);
    const auto to = optionalIndex(end);
    if (affix.isTuple()) {
        for (const Value& item : affix.items())
            if (pyStartsWith(s, requireStr(item, "tuple for startswith"), from, to, atEnd))
                return true;
        return false;
    }
    if (!affix.isString())
        throwTypeError(std::string(atEnd ? "endswith" : "startswith") + " first arg must be str or a tuple of str, not "
            + affix.typeName());
    return pyStartsWith(s, affix.str(), from, to, atEnd);
}

using Method = Value (*)(Evaluator&, const Value& self, const CallArgs& args);

struct MethodEntry {
    const char* name;
    Method method;
};

Value textMethodResult(std::string s)
{
    return Value::string(std::move(s));
}

const MethodEntry kStrMethods[] = {
    { "strip",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.strip", a, { { "chars", kNone } });
            return textMethodResult(pyStrip(self.str(), optionalStr(v[0], "strip arg"), true, true));
        } },
    { "lstrip",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.lstrip", a, { { "chars", kNone } });
            return textMethodResult(pyStrip(self.str(), optionalStr(v[0], "lstrip arg"), true, false));
        } },
    { "rstrip",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rstrip", a, { { "chars", kNone } });
            return textMethodResult(pyStrip(self.str(), optionalStr(v[0], "rstrip arg"), false, true));
        } },
    { "split",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.split", a, { { "sep", kNone }, { "maxsplit", Value::integer(-1) } });
            return stringList(pySplit(self.str(), optionalStr(v[0], "separator"), requireInt(v[1], "maxsplit")));
        } },
    { "rsplit",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rsplit", a, { { "sep", kNone }, { "maxsplit", Value::integer(-1) } });
            return stringList(pyRSplit(self.str(), optionalStr(v[0], "separator"), requireInt(v[1], "maxsplit")));
        } },
    { "splitlines",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.splitlines", a, { { "keepends", Value::boolean(false) } });
            return stringList(pySplitlines(self.str(), v[0].truthy()));
        } },
    { "startswith",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v
                = bindArguments("str.startswith", a, { { "prefix", {} }, { "start", kNone }, { "end", kNone } });
            return Value::boolean(affixMatch(self.str(), v[0], v[1], v[2], false));
        } },
    { "endswith",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.endswith", a, { { "suffix", {} }, { "start", kNone }, { "end", kNone } });
            return Value::boolean(affixMatch(self.str(), v[0], v[1], v[2], true));
        } },
    { "replace",
        [](Evaluator& ev, const Value& self, const CallArgs& a) {
            const auto v
                = bindArguments("str.replace", a, { { "old", {} }, { "new", {} }, { "count", Value::integer(-1) } });
            return textMethodResult(pyReplace(self.str(), requireStr(v[0], "replace() argument 1"),
                requireStr(v[1], "replace() argument 2"), requireInt(v[2], "count"), ev.limits().maxOutputBytes));
        } },
    { "find",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.find", a, { { "sub", {} }, { "start", kNone }, { "end", kNone } });
            return Value::integer(pyFind(
                self.str(), requireStr(v[0], "find() argument"), optionalIndex(v[1]), optionalIndex(v[2]), false));
        } },
    { "rfind",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rfind", a, { { "sub", {} }, { "start", kNone }, { "end", kNone } });
            return Value::integer(pyFind(
                self.str(), requireStr(v[0], "rfind() argument"), optionalIndex(v[1]), optionalIndex(v[2]), true));
        } },
    { "index",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.index", a, { { "sub", {} }, { "start", kNone }, { "end", kNone } });
            const auto i = pyFind(
                self.str(), requireStr(v[0], "index() argument"), optionalIndex(v[1]), optionalIndex(v[2]), false);
            if (i < 0)
                throwTypeError("substring not found");
            return Value::integer(i);
        } },
    { "rindex",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rindex", a, { { "sub", {} }, { "start", kNone }, { "end", kNone } });
            const auto i = pyFind(
                self.str(), requireStr(v[0], "rindex() argument"), optionalIndex(v[1]), optionalIndex(v[2]), true);
            if (i < 0)
                throwTypeError("substring not found");
            return Value::integer(i);
        } },
    { "count",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.count", a, { { "sub", {} }, { "start", kNone }, { "end", kNone } });
            return Value::integer(
                pyCount(self.str(), requireStr(v[0], "count() argument"), optionalIndex(v[1]), optionalIndex(v[2])));
        } },
    { "upper",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.upper", a, {});
            return Value::string(pyUpper(self.str()), self.isMarkup());
        } },
    { "lower",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.lower", a, {});
            return Value::string(pyLower(self.str()), self.isMarkup());
        } },
    { "title",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.title", a, {});
            return Value::string(pyTitle(self.str()), self.isMarkup());
        } },
    { "capitalize",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.capitalize", a, {});
            return Value::string(pyCapitalize(self.str()), self.isMarkup());
        } },
    { "casefold",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.casefold", a, {});
            return Value::string(pyCasefold(self.str()), self.isMarkup());
        } },
    { "swapcase",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.swapcase", a, {});
            return Value::string(pySwapcase(self.str()), self.isMarkup());
        } },
    { "join",
        [](Evaluator& ev, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.join", a, { { "iterable", {} } });
            std::string out;
            std::size_t i = 0;
            for (const Value& item : ev.iterate(v[0])) {
                if (!item.isString())
                    throwTypeError("sequence item " + std::to_string(i) + ": expected str instance, " + item.typeName()
                        + " found");
                if (i++)
                    out += self.str();
                out += item.str();
                ev.checkSize(out.size(), "join()");
            }
            return Value::string(std::move(out));
        } },
    { "center",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.center", a, { { "width", {} }, { "fillchar", Value::string(" ") } });
            const std::u32string fill = decodeUtf8(requireStr(v[1], "fill character"));
            if (fill.size() != 1)
                throwTypeError("The fill character must be exactly one character long");
            return textMethodResult(pyPad(self.str(), requireInt(v[0], "width"), fill[0], '^'));
        } },
    { "ljust",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.ljust", a, { { "width", {} }, { "fillchar", Value::string(" ") } });
            const std::u32string fill = decodeUtf8(requireStr(v[1], "fill character"));
            if (fill.size() != 1)
                throwTypeError("The fill character must be exactly one character long");
            return textMethodResult(pyPad(self.str(), requireInt(v[0], "width"), fill[0], '<'));
        } },
    { "rjust",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rjust", a, { { "width", {} }, { "fillchar", Value::string(" ") } });
            const std::u32string fill = decodeUtf8(requireStr(v[1], "fill character"));
            if (fill.size() != 1)
                throwTypeError("The fill character must be exactly one character long");
            return textMethodResult(pyPad(self.str(), requireInt(v[0], "width"), fill[0], '>'));
        } },
    { "zfill",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.zfill", a, { { "width", {} } });
            return textMethodResult(pyZfill(self.str(), requireInt(v[0], "width")));
        } },
    { "partition",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.partition", a, { { "sep", {} } });
            const std::string& sep = requireStr(v[0], "separator");
            if (sep.empty())
                throwTypeError("empty separator");
            const std::string& s = self.str();
            const auto at = s.find(sep);
            std::vector<Value> parts;
            if (at == std::string::npos)
                parts = { Value::string(s), Value::string(""), Value::string("") };
            else
                parts
                    = { Value::string(s.substr(0, at)), Value::string(sep), Value::string(s.substr(at + sep.size())) };
            return Value::sequence(std::move(parts), SequenceKind::Tuple);
        } },
    { "rpartition",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.rpartition", a, { { "sep", {} } });
            const std::string& sep = requireStr(v[0], "separator");
            if (sep.empty())
                throwTypeError("empty separator");
            const std::string& s = self.str();
            const auto at = s.rfind(sep);
            std::vector<Value> parts;
            if (at == std::string::npos)
                parts = { Value::string(""), Value::string(""), Value::string(s) };
            else
                parts
                    = { Value::string(s.substr(0, at)), Value::string(sep), Value::string(s.substr(at + sep.size())) };
            return Value::sequence(std::move(parts), SequenceKind::Tuple);
        } },
    { "removeprefix",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.removeprefix", a, { { "prefix", {} } });
            const std::string& p = requireStr(v[0], "prefix");
            const std::string& s = self.str();
            return textMethodResult(s.compare(0, p.size(), p) == 0 ? s.substr(p.size()) : s);
        } },
    { "removesuffix",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("str.removesuffix", a, { { "suffix", {} } });
            const std::string& p = requireStr(v[0], "suffix");
            const std::string& s = self.str();
            const bool ends = !p.empty() && s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
            return textMethodResult(ends ? s.substr(0, s.size() - p.size()) : s);
        } },
    { "format",
        [](Evaluator& ev, const Value& self, const CallArgs& a) {
            return textMethodResult(braceFormat(ev, self.str(), a));
        } },
    { "isspace",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isspace", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Space));
        } },
    { "isalpha",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isalpha", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Alpha));
        } },
    { "isalnum",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isalnum", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Alnum));
        } },
    { "isdigit",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isdigit", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Digit));
        } },
    { "isdecimal",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isdecimal", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Digit));
        } },
    { "isnumeric",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isnumeric", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Numeric));
        } },
    { "isascii",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isascii", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Ascii));
        } },
    { "islower",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.islower", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Lower));
        } },
    { "isupper",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.isupper", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Upper));
        } },
    { "istitle",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("str.istitle", a, {});
            return Value::boolean(pyIs(self.str(), CharClass::Title));
        } },
};

// str attributes Python has that this interpreter does not implement.
constexpr std::array<const char*, 7> kStrUnsupported = {
    "encode",
    "expandtabs",
    "format_map",
    "isidentifier",
    "isprintable",
    "maketrans",
    "translate",
};

Value dictItems(const Dict& d, SequenceKind kind)
{
    std::vector<Value> items;
    items.reserve(d.size());
    for (const auto& [k, v] : d.entries()) {
        if (kind == SequenceKind::ItemsView)
            items.push_back(Value::sequence({ k, v }, SequenceKind::Tuple));
        else
            items.push_back(kind == SequenceKind::KeysView ? k : v);
    }
    return Value::sequence(std::move(items), kind);
}

const MethodEntry kDictMethods[] = {
    { "get",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            if (!a.keyword.empty())
                throwTypeError("dict.get() takes no keyword arguments");
            const auto v = bindArguments("dict.get", a, { { "key", {} }, { "default", kNone } });
            if (const Value* found = self.dict().find(v[0]))
                return *found;
            return v[1];
        } },
    { "items",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("dict.items", a, {});
            return dictItems(self.dict(), SequenceKind::ItemsView);
        } },
    { "keys",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("dict.keys", a, {});
            return dictItems(self.dict(), SequenceKind::KeysView);
        } },
    { "values",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("dict.values", a, {});
            return dictItems(self.dict(), SequenceKind::ValuesView);
        } },
    { "copy",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("dict.copy", a, {});
            return Value::dict(self.dict());
        } },
};

constexpr std::array<const char*, 5> kDictMutating = { "clear", "pop", "popitem", "setdefault", "update" };

std::int64_t sequenceIndex(const Value& self, const Value& item)
{
    const auto& items = self.items();
    for (std::size_t i = 0; i < items.size(); ++i)
        if (valuesEqual(items[i], item))
            return static_cast<std::int64_t>(i);
    return -1;
}

const MethodEntry kSequenceMethods[] = {
    { "count",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("count", a, { { "value", {} } });
            return Value::integer(static_cast<std::int64_t>(std::count_if(
                self.items().begin(), self.items().end(), [&](const Value& x) { return valuesEqual(x, v[0]); })));
        } },
    { "index",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            const auto v = bindArguments("index", a, { { "value", {} } });
            const auto i = sequenceIndex(self, v[0]);
            if (i < 0)
                throwTypeError(toPythonRepr(v[0]) + " is not in " + self.typeName());
            return Value::integer(i);
        } },
    { "copy",
        [](Evaluator&, const Value& self, const CallArgs& a) {
            bindArguments("list.copy", a, {});
            return Value::sequence(self.items());
        } },
};

// What Jinja2's immutable sandbox refuses on a list (pop and clear it lets through).
constexpr std::array<const char*, 6> kListMutating = { "append", "extend", "insert", "remove", "reverse", "sort" };

template <std::size_t N>
std::optional<Value> bindFrom(const MethodEntry (&table)[N], const Value& receiver, const std::string& name)
{
    for (const MethodEntry& entry : table) {
        if (name == entry.name) {
            const Method method = entry.method;
            return makeBuiltin(
                name, [receiver, method](Evaluator& ev, const CallArgs& args) { return method(ev, receiver, args); });
        }
    }
    return std::nullopt;
}

template <std::size_t N> bool listed(const std::array<const char*, N>& names, const std::string& name)
{
    return std::any_of(names.begin(), names.end(), [&](const char* n) { return name == n; });
}

Value unsafe(const Value& receiver, const std::string& name)
{
    return Value::undefined("access to attribute '" + name + "' of '" + receiver.typeName() + "' object is unsafe.");
}

Value unsupported(const Value& receiver, const std::string& name)
{
    const std::string what = receiver.typeName() + "." + name + "()";
    return makeBuiltin(name,
        [what](Evaluator&, const CallArgs&) -> Value { throwUnsupported("the method " + what + " is not supported"); });
}

} // namespace

std::optional<Value> lookupMethod(const Value& receiver, const std::string& name)
{
    switch (receiver.kind()) {
    case ValueKind::String:
        if (auto m = bindFrom(kStrMethods, receiver, name))
            return m;
        if (listed(kStrUnsupported, name))
            return unsupported(receiver, name);
        return std::nullopt;
    case ValueKind::Dict:
        if (auto m = bindFrom(kDictMethods, receiver, name))
            return m;
        if (listed(kDictMutating, name))
            return unsafe(receiver, name);
        if (name == "fromkeys")
            return unsupported(receiver, name);
        return std::nullopt;
    case ValueKind::Sequence:
        if (receiver.isIndexable()) {
            if (name == "copy" && !receiver.isList())
                return std::nullopt;
            if (auto m = bindFrom(kSequenceMethods, receiver, name))
                return m;
            if (receiver.isList() && listed(kListMutating, name))
                return unsafe(receiver, name);
            // The sandbox lets these through, but values here are immutable.
            if (receiver.isList() && (name == "pop" || name == "clear"))
                return unsupported(receiver, name);
        }
        return std::nullopt;
    default:
        return std::nullopt;
    }
}

} // namespace tunebench::jinja
