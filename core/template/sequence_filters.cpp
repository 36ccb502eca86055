#include "core/template/sequence_filters.h"

#include "core/template/evaluator.h"
#include "core/template/loop_state.h"
#include "core/template/operators.h"
#include "core/template/python_str.h"
#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>

namespace tunebench::jinja {

namespace {

const Value kNone = Value::none();
const Value kFalse = Value::boolean(false);

// Jinja2's attribute paths: "a.b.0" looks up a, then b, then item 0.
std::vector<Value> attributePath(const Value& attribute)
{
    std::vector<Value> parts;
    if (attribute.isNone())
        return parts;
    if (!attribute.isString()) {
        parts.push_back(attribute);
        return parts;
    }
    for (const std::string& part : pySplit(attribute.str(), std::string("."), -1)) {
        if (pyIs(part, CharClass::Digit) && pyIs(part, CharClass::Ascii))
            parts.push_back(Value::integer(std::stoll(part)));
        else
            parts.push_back(Value::string(part));
    }
    return parts;
}

Value lookupPath(Evaluator& ev, Value item, const std::vector<Value>& path, const Value* fallback)
{
    for (const Value& part : path) {
        item = ev.getItem(item, part);
        if (fallback && item.isUndefined())
            item = *fallback;
    }
    return item;
}

Value ignoreCase(const Value& v)
{
    return v.isString() ? Value::string(pyLower(v.str())) : v;
}

// A sort key: one value per comma-separated attribute (or the item itself).
std::vector<Value> sortKey(
    Evaluator& ev, const Value& item, const std::vector<std::vector<Value>>& paths, bool caseSensitive)
{
    std::vector<Value> key;
    key.reserve(paths.size());
    for (const auto& path : paths) {
        Value v = lookupPath(ev, item, path, nullptr);
        key.push_back(caseSensitive ? v : ignoreCase(v));
    }
    return key;
}

bool keyLess(const std::vector<Value>& a, const std::vector<Value>& b)
{
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
        if (!valuesEqual(a[i], b[i]))
            return valueLess(a[i], b[i]);
    }
    return a.size() < b.size();
}

Value generator(std::vector<Value> items)
{
    return Value::sequence(std::move(items), SequenceKind::Generator);
}

// select/reject/selectattr/rejectattr: Jinja2's select_or_reject.
Value selectOrReject(Evaluator& ev, const Value& input, const CallArgs& args, bool lookupAttr, bool keep)
{
    if (!input.truthy())
        return generator({});
    std::size_t offset = 0;
    std::vector<Value> path;
    if (lookupAttr) {
        if (args.positional.empty())
            throwTypeError("Missing parameter for attribute name");
        path = attributePath(args.positional[0]);
        offset = 1;
    }
    std::optional<std::string> testName;
    CallArgs testArgs;
    if (args.positional.size() > offset) {
        const Value& name = args.positional[offset];
        if (!name.isString())
            throwTypeError("a test name must be a string");
        testName = name.str();
        testArgs.positional.assign(
            args.positional.begin() + static_cast<std::ptrdiff_t>(offset + 1), args.positional.end());
        testArgs.keyword = args.keyword;
    }
    std::vector<Value> out;
    for (const Value& item : ev.iterate(input)) {
        ev.step();
        const Value subject = lookupAttr ? lookupPath(ev, item, path, nullptr) : item;
        const bool passed = testName ? ev.applyTest(*testName, subject, testArgs) : subject.truthy();
        if (passed == keep)
            out.push_back(item);
    }
    return generator(std::move(out));
}

Value minOrMax(Evaluator& ev, const Value& input, const CallArgs& args, bool wantMax)
{
    const auto v
        = bindArguments(wantMax ? "max" : "min", args, { { "case_sensitive", kFalse }, { "attribute", kNone } });
    const std::vector<Value> items = ev.iterate(input);
    if (items.empty())
        return Value::undefined("No aggregated item, sequence was empty.");
    const auto path = attributePath(v[1]);
    const bool caseSensitive = v[0].truthy();
    std::size_t best = 0;
    Value bestKey = lookupPath(ev, items[0], path, nullptr);
    if (!caseSensitive)
        bestKey = ignoreCase(bestKey);
    for (std::size_t i = 1; i < items.size(); ++i) {
        Value key = lookupPath(ev, items[i], path, nullptr);
        if (!caseSensitive)
            key = ignoreCase(key);
        if (wantMax ? valueLess(bestKey, key) : valueLess(key, bestKey)) {
            best = i;
            bestKey = key;
        }
    }
    return items[best];
}

} // namespace

Value filterLength(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("length", args, {});
    switch (input.kind()) {
    case ValueKind::Undefined:
        return Value::integer(0);
    case ValueKind::String:
        return Value::integer(static_cast<std::int64_t>(codePointCount(input.str())));
    case ValueKind::Sequence:
        if (input.isGenerator())
            break;
        return Value::integer(static_cast<std::int64_t>(input.items().size()));
    case ValueKind::Dict:
        return Value::integer(static_cast<std::int64_t>(input.dict().size()));
    case ValueKind::Namespace:
        break;
    case ValueKind::Loop:
        return Value::integer(static_cast<std::int64_t>(input.loopState().length()));
    default:
        break;
    }
    throwTypeError("object of type '" + input.typeName() + "' has no len()");
}

Value filterList(Evaluator& ev, const Value& input, const CallArgs& args)
{
    bindArguments("list", args, {});
    return Value::sequence(ev.iterate(input));
}

Value filterFirst(Evaluator& ev, const Value& input, const CallArgs& args)
{
    bindArguments("first", args, {});
    if (input.isGenerator()) {
        const SequenceData& data = input.sequenceData();
        if (data.consumed < data.items.size())
            return data.items[data.consumed++];
        return Value::undefined("No first item, sequence was empty.");
    }
    const std::vector<Value> items = ev.iterate(input);
    if (items.empty())
        return Value::undefined("No first item, sequence was empty.");
    return items.front();
}

Value filterLast(Evaluator& ev, const Value& input, const CallArgs& args)
{
    bindArguments("last", args, {});
    if (input.isGenerator() || input.isNamespace() || input.isCallable() || input.isNumber() || input.isNone())
        throwTypeError("'" + input.typeName() + "' object is not reversible");
    const std::vector<Value> items = ev.iterate(input);
    if (items.empty())
        return Value::undefined("No last item, sequence was empty.");
    return items.back();
}

Value filterJoin(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("join", args, { { "d", Value::string("") }, { "attribute", kNone } });
    const std::string separator = toPythonStr(v[0]);
    const auto path = attributePath(v[1]);
    std::string out;
    bool first = true;
    for (const Value& item : ev.iterate(input)) {
        if (!first)
            out += separator;
        first = false;
        out += toPythonStr(v[1].isNone() ? item : lookupPath(ev, item, path, nullptr));
        ev.checkSize(out.size(), "join");
    }
    return Value::string(std::move(out));
}

Value filterItems(Evaluator&, const Value& input, const CallArgs& args)
{
    bindArguments("items", args, {});
    if (input.isUndefined())
        return generator({});
    if (!input.isDict())
        throwTypeError("Can only get item pairs from a mapping.");
    std::vector<Value> items;
    for (const auto& [k, v] : input.dict().entries())
        items.push_back(Value::sequence({ k, v }, SequenceKind::Tuple));
    return generator(std::move(items));
}

Value filterDictsort(Evaluator&, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments(
        "dictsort", args, { { "case_sensitive", kFalse }, { "by", Value::string("key") }, { "reverse", kFalse } });
    if (!input.isDict())
        throwTypeError("dictsort expects a mapping");
    std::size_t position = 0;
    if (v[1].isString() && v[1].str() == "value")
        position = 1;
    else if (!v[1].isString() || v[1].str() != "key")
        throwTypeError("You can only sort by either \"key\" or \"value\"");
    const bool caseSensitive = v[0].truthy();
    const bool reverse = v[2].truthy();
    std::vector<std::pair<Value, Value>> entries = input.dict().entries();
    auto key = [&](const std::pair<Value, Value>& e) {
        const Value& k = position == 0 ? e.first : e.second;
        return caseSensitive ? k : ignoreCase(k);
    };
    std::stable_sort(entries.begin(), entries.end(),
        [&](const auto& a, const auto& b) { return reverse ? valueLess(key(b), key(a)) : valueLess(key(a), key(b)); });
    std::vector<Value> out;
    for (auto& [k, val] : entries)
        out.push_back(Value::sequence({ k, val }, SequenceKind::Tuple));
    return Value::sequence(std::move(out));
}

Value filterSort(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v
        = bindArguments("sort", args, { { "reverse", kFalse }, { "case_sensitive", kFalse }, { "attribute", kNone } });
    std::vector<std::vector<Value>> paths;
    if (v[2].isString()) {
        for (const std::string& part : pySplit(v[2].str(), std::string(","), -1))
            paths.push_back(attributePath(Value::string(part)));
    } else {
        paths.push_back(attributePath(v[2]));
    }
    std::vector<Value> items = ev.iterate(input);
    ev.step(items.size());
    std::vector<std::pair<std::vector<Value>, Value>> keyed;
    keyed.reserve(items.size());
    for (Value& item : items)
        keyed.emplace_back(sortKey(ev, item, paths, v[1].truthy()), std::move(item));
    const bool reverse = v[0].truthy();
    std::stable_sort(keyed.begin(), keyed.end(),
        [&](const auto& a, const auto& b) { return reverse ? keyLess(b.first, a.first) : keyLess(a.first, b.first); });
    std::vector<Value> out;
    out.reserve(keyed.size());
    for (auto& [k, item] : keyed)
        out.push_back(std::move(item));
    return Value::sequence(std::move(out));
}

Value filterUnique(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("unique", args, { { "case_sensitive", kFalse }, { "attribute", kNone } });
    const auto path = attributePath(v[1]);
    std::vector<std::string> seen;
    std::vector<Value> out;
    for (const Value& item : ev.iterate(input)) {
        ev.step();
        Value key = lookupPath(ev, item, path, nullptr);
        if (!v[0].truthy())
            key = ignoreCase(key);
        std::string hash = hashKey(key);
        if (std::find(seen.begin(), seen.end(), hash) != seen.end())
            continue;
        seen.push_back(std::move(hash));
        out.push_back(item);
    }
    return generator(std::move(out));
}

Value filterMin(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return minOrMax(ev, input, args, false);
}

Value filterMax(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return minOrMax(ev, input, args, true);
}

Value filterSum(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("sum", args, { { "attribute", kNone }, { "start", Value::integer(0) } });
    const auto path = attributePath(v[0]);
    Value total = v[1];
    for (const Value& item : ev.iterate(input)) {
        if (item.isString() && total.isString())
            throwTypeError("sum() can't sum strings [use ''.join(seq) instead]");
        total = binaryOperation(BinaryOp::Add, total, v[0].isNone() ? item : lookupPath(ev, item, path, nullptr),
            ev.limits().maxOutputBytes);
    }
    return total;
}

Value filterMap(Evaluator& ev, const Value& input, const CallArgs& args)
{
    if (!input.truthy())
        return generator({});
    std::vector<Value> out;
    const Value* attribute = args.keywordValue("attribute");
    if (args.positional.empty() && attribute) {
        const Value* fallback = args.keywordValue("default");
        for (const auto& [key, value] : args.keyword)
            if (key != "attribute" && key != "default")
                throwTypeError("Unexpected keyword argument '" + key + "'");
        const auto path = attributePath(*attribute);
        const Value defaultValue = fallback ? *fallback : kNone;
        for (const Value& item : ev.iterate(input)) {
            ev.step();
            out.push_back(lookupPath(ev, item, path, defaultValue.isNone() ? nullptr : &defaultValue));
        }
        return generator(std::move(out));
    }
    if (args.positional.empty())
        throwTypeError("map requires a filter argument");
    if (!args.positional[0].isString())
        throwTypeError("map: the filter name must be a string");
    const std::string name = args.positional[0].str();
    CallArgs filterArgs;
    filterArgs.positional.assign(args.positional.begin() + 1, args.positional.end());
    filterArgs.keyword = args.keyword;
    for (const Value& item : ev.iterate(input)) {
        ev.step();
        out.push_back(ev.applyFilter(name, item, filterArgs));
    }
    return generator(std::move(out));
}

Value filterSelect(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return selectOrReject(ev, input, args, false, true);
}

Value filterReject(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return selectOrReject(ev, input, args, false, false);
}

Value filterSelectattr(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return selectOrReject(ev, input, args, true, true);
}

Value filterRejectattr(Evaluator& ev, const Value& input, const CallArgs& args)
{
    return selectOrReject(ev, input, args, true, false);
}

Value filterReverse(Evaluator& ev, const Value& input, const CallArgs& args)
{
    bindArguments("reverse", args, {});
    if (input.isString()) {
        std::u32string text = decodeUtf8(input.str());
        std::reverse(text.begin(), text.end());
        return Value::string(encodeUtf8(text), input.isMarkup());
    }
    std::vector<Value> items = ev.iterate(input);
    std::reverse(items.begin(), items.end());
    // reversed() gives an iterator; a generator has none, so Jinja2 falls back to a list.
    return Value::sequence(std::move(items), input.isGenerator() ? SequenceKind::List : SequenceKind::Generator);
}

Value filterBatch(Evaluator& ev, const Value& input, const CallArgs& args)
{
    const auto v = bindArguments("batch", args, { { "linecount", {} }, { "fill_with", kNone } });
    if (!v[0].isInt() || v[0].asInt() <= 0)
        throwTypeError("batch: linecount must be a positive integer");
    const auto size = static_cast<std::size_t>(v[0].asInt());
    std::vector<Value> batches;
    std::vector<Value> current;
    for (const Value& item : ev.iterate(input)) {
        if (current.size() == size) {
            batches.push_back(Value::sequence(std::move(current)));
            current.clear();
        }
        current.push_back(item);
    }
    if (!current.empty()) {
        if (!v[1].isNone())
            while (current.size() < size)
                current.push_back(v[1]);
        batches.push_back(Value::sequence(std::move(current)));
    }
    return generator(std::move(batches));
}

} // namespace tunebench::jinja
