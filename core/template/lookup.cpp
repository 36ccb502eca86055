#include "core/template/lookup.h"

#include "core/template/callable.h"
#include "core/template/loop_state.h"
#include "core/template/methods.h"
#include "core/template/template_error.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>

namespace tunebench::jinja {

namespace {

// Python's object_type_repr, as Jinja2 names objects in undefined-value messages.
std::string objectDescription(const Value& v)
{
    if (v.isNone())
        return "None";
    return v.typeName() + " object";
}

Value missingAttribute(const Value& object, const std::string& name)
{
    return Value::undefined("'" + objectDescription(object) + "' has no attribute '" + name + "'");
}

Value missingElement(const Value& object, const Value& key)
{
    if (key.isString())
        return missingAttribute(object, key.str());
    return Value::undefined(objectDescription(object) + " has no element " + toPythonRepr(key));
}

[[noreturn]] void undefinedError(const Value& undefined)
{
    throw RuntimeProblem(ErrorKind::Undefined, undefined.undefinedHint());
}

Value loopAttribute(const Value& loopValue, const std::string& name)
{
    LoopState& loop = loopValue.loopState();
    const auto index0 = static_cast<std::int64_t>(loop.index0);
    const auto length = static_cast<std::int64_t>(loop.length());
    if (name == "index0")
        return Value::integer(index0);
    if (name == "index")
        return Value::integer(index0 + 1);
    if (name == "revindex0")
        return Value::integer(length - index0 - 1);
    if (name == "revindex")
        return Value::integer(length - index0);
    if (name == "first")
        return Value::boolean(index0 == 0);
    if (name == "last")
        return Value::boolean(index0 + 1 == length);
    if (name == "length")
        return Value::integer(length);
    if (name == "depth0")
        return Value::integer(static_cast<std::int64_t>(loop.depth0));
    if (name == "depth")
        return Value::integer(static_cast<std::int64_t>(loop.depth0) + 1);
    if (name == "previtem")
        return index0 > 0 ? loop.items[loop.index0 - 1] : Value::undefined("there is no previous item");
    if (name == "nextitem")
        return index0 + 1 < length ? loop.items[loop.index0 + 1] : Value::undefined("there is no next item");
    if (name == "cycle")
        return makeBuiltin("cycle", [loopValue](Evaluator&, const CallArgs& args) {
            if (!args.keyword.empty())
                throwTypeError("cycle() takes no keyword arguments");
            if (args.positional.empty())
                throwTypeError("no items for cycling given");
            return args.positional[loopValue.loopState().index0 % args.positional.size()];
        });
    if (name == "changed")
        return makeBuiltin("changed", [loopValue](Evaluator&, const CallArgs& args) {
            LoopState& state = loopValue.loopState();
            if (!args.keyword.empty())
                throwTypeError("changed() takes no keyword arguments");
            const bool same = state.lastChanged && state.lastChanged->size() == args.positional.size()
                && std::equal(args.positional.begin(), args.positional.end(), state.lastChanged->begin(), valuesEqual);
            if (same)
                return Value::boolean(false);
            state.lastChanged = args.positional;
            return Value::boolean(true);
        });
    return Value::undefined("'LoopContext object' has no attribute '" + name + "'");
}

// Python's slice.indices(): clamps start/stop for a sequence of `length` items.
void sliceBounds(std::int64_t length, const Value& startValue, const Value& stopValue, std::int64_t step,
    std::int64_t& start, std::int64_t& stop)
{
    auto clamp = [&](const Value& v, std::int64_t fallback) {
        if (v.isNone() || v.isUndefined())
            return fallback;
        std::int64_t x = v.toInt();
        if (x < 0) {
            x += length;
            if (x < 0)
                x = step < 0 ? -1 : 0;
        } else if (x >= length) {
            x = step < 0 ? length - 1 : length;
        }
        return x;
    };
    start = clamp(startValue, step < 0 ? length - 1 : 0);
    stop = clamp(stopValue, step < 0 ? -1 : length);
}

} // namespace

Value getAttribute(const Value& object, const std::string& name)
{
    switch (object.kind()) {
    case ValueKind::Undefined:
        undefinedError(object);
    case ValueKind::Dict:
        if (auto method = lookupMethod(object, name))
            return *method;
        if (const Value* v = object.dict().find(name))
            return *v;
        return missingAttribute(object, name);
    case ValueKind::Namespace:
        if (const Value* v = object.namespaceData().attributes.find(name))
            return *v;
        return missingAttribute(object, name);
    case ValueKind::Loop:
        return loopAttribute(object, name);
    case ValueKind::Bool:
    case ValueKind::Int:
    case ValueKind::Float:
        if (name == "real" || name == "numerator")
            return object.isFloat() ? object : Value::integer(object.toInt());
        if (name == "imag")
            return object.isFloat() ? Value::number(0.0) : Value::integer(0);
        if (name == "denominator" && !object.isFloat())
            return Value::integer(1);
        return missingAttribute(object, name);
    default:
        if (auto method = lookupMethod(object, name))
            return *method;
        return missingAttribute(object, name);
    }
}

Value getItem(const Value& object, const Value& key)
{
    switch (object.kind()) {
    case ValueKind::Undefined:
        undefinedError(object);
    case ValueKind::Dict: {
        try {
            if (const Value* v = object.dict().find(key))
                return *v;
        } catch (const RuntimeProblem&) {
            return missingElement(object, key); // unhashable key: Python's TypeError
        }
        break;
    }
    case ValueKind::String:
    case ValueKind::Sequence: {
        const bool subscriptable = object.isString() || object.isIndexable();
        if (subscriptable && (key.isInt() || key.isBool())) {
            std::int64_t i = key.toInt();
            if (object.isString()) {
                const std::u32string text = decodeUtf8(object.str());
                const auto n = static_cast<std::int64_t>(text.size());
                if (i < 0)
                    i += n;
                if (i >= 0 && i < n) {
                    std::string out;
                    appendUtf8(out, text[static_cast<std::size_t>(i)]);
                    return Value::string(std::move(out));
                }
            } else {
                const auto n = static_cast<std::int64_t>(object.items().size());
                if (i < 0)
                    i += n;
                if (i >= 0 && i < n)
                    return object.items()[static_cast<std::size_t>(i)];
            }
            return missingElement(object, key);
        }
        break;
    }
    default:
        break;
    }
    if (key.isString()) {
        if (object.isNamespace()) {
            if (const Value* v = object.namespaceData().attributes.find(key.str()))
                return *v;
        } else if (object.isLoop()) {
            return loopAttribute(object, key.str());
        } else if (auto method = lookupMethod(object, key.str())) {
            return *method;
        }
    }
    return missingElement(object, key);
}

Value sliceValue(const Value& object, const Value& startValue, const Value& stopValue, const Value& stepValue)
{
    const Value parts[3] = { startValue, stopValue, stepValue };
    if (object.isUndefined())
        undefinedError(object);
    for (const Value& part : parts) {
        // Python raises TypeError for such indices, which Jinja2 turns into undefined.
        if (!part.isNone() && !part.isInt() && !part.isBool())
            return Value::undefined(objectDescription(object) + " has no element slice");
    }
    const bool isText = object.isString();
    if (!isText && !object.isIndexable())
        return Value::undefined(objectDescription(object) + " has no element slice");
    const std::int64_t step = parts[2].isNone() ? 1 : parts[2].toInt();
    if (step == 0)
        throwTypeError("slice step cannot be zero");
    std::u32string text;
    if (isText)
        text = decodeUtf8(object.str());
    const auto length = static_cast<std::int64_t>(isText ? text.size() : object.items().size());
    std::int64_t start = 0;
    std::int64_t stop = 0;
    sliceBounds(length, parts[0], parts[1], step, start, stop);
    std::vector<std::size_t> indices;
    if (step > 0)
        for (std::int64_t i = start; i < stop; i += step)
            indices.push_back(static_cast<std::size_t>(i));
    else
        for (std::int64_t i = start; i > stop; i += step)
            indices.push_back(static_cast<std::size_t>(i));
    if (isText) {
        std::u32string out;
        out.reserve(indices.size());
        for (std::size_t i : indices)
            out += text[i];
        return Value::string(encodeUtf8(out));
    }
    if (object.isRange()) {
        // Python slices a range into a range: indices mapped through start and step.
        const SequenceData& r = object.sequenceData();
        return Value::range(r.rangeStart + start * r.rangeStep, r.rangeStart + stop * r.rangeStep, r.rangeStep * step);
    }
    std::vector<Value> out;
    out.reserve(indices.size());
    for (std::size_t i : indices)
        out.push_back(object.items()[i]);
    return Value::sequence(std::move(out), object.sequenceKind());
}

std::vector<Value> iterateValue(const Value& value)
{
    switch (value.kind()) {
    case ValueKind::Undefined:
        return {};
    case ValueKind::String: {
        std::vector<Value> out;
        for (char32_t cp : decodeUtf8(value.str())) {
            std::string s;
            appendUtf8(s, cp);
            out.push_back(Value::string(std::move(s)));
        }
        return out;
    }
    case ValueKind::Sequence: {
        const SequenceData& data = value.sequenceData();
        if (data.kind == SequenceKind::Generator) {
            std::vector<Value> rest(data.items.begin() + static_cast<std::ptrdiff_t>(data.consumed), data.items.end());
            data.consumed = data.items.size();
            return rest;
        }
        return data.items;
    }
    case ValueKind::Dict: {
        std::vector<Value> keys;
        keys.reserve(value.dict().size());
        for (const auto& [k, v] : value.dict().entries())
            keys.push_back(k);
        return keys;
    }
    default:
        throwTypeError("'" + value.typeName() + "' object is not iterable");
    }
}

} // namespace tunebench::jinja
