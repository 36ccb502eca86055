#include "core/template/predicates.h"

#include "core/template/evaluator.h"
#include "core/template/filters.h"
#include "core/template/operators.h"
#include "core/template/python_str.h"
#include "core/template/template_error.h"
#include "core/template/value_format.h"

#include <algorithm>

namespace tunebench::jinja {

namespace {

using TestFunction = bool (*)(Evaluator&, const Value& input, const std::vector<Value>& args);

const Value& one(const std::vector<Value>& args)
{
    return args[0];
}

bool isSequence(const Value& v)
{
    // Python: len() and __getitem__ both exist (Undefined has both).
    switch (v.kind()) {
    case ValueKind::Undefined:
    case ValueKind::String:
    case ValueKind::Dict:
        return true;
    case ValueKind::Sequence:
        return v.isIndexable();
    default:
        return false;
    }
}

bool isIterable(const Value& v)
{
    switch (v.kind()) {
    case ValueKind::Undefined:
    case ValueKind::String:
    case ValueKind::Dict:
    case ValueKind::Sequence:
    case ValueKind::Loop:
        return true;
    default:
        return false;
    }
}

bool modEquals(const Value& v, std::int64_t divisor, std::int64_t expected)
{
    const Value r = binaryOperation(BinaryOp::Mod, v, Value::integer(divisor), 0);
    return valuesEqual(r, Value::integer(expected));
}

// Python's `is` for the values a template can tell apart: None and booleans are
// singletons, small ints are cached, other objects compare by identity.
bool sameAs(const Value& a, const Value& b)
{
    if (a.kind() != b.kind())
        return false;
    switch (a.kind()) {
    case ValueKind::None:
        return true;
    case ValueKind::Undefined:
        return false;
    case ValueKind::Bool:
        return a.asBool() == b.asBool();
    case ValueKind::Int:
        return a.asInt() == b.asInt() && a.asInt() >= -5 && a.asInt() <= 256;
    case ValueKind::Float:
        return false;
    default:
        return a.identity() == b.identity();
    }
}

struct TestEntry {
    std::string_view name;
    std::size_t arity;
    TestFunction function;
};

const TestEntry kTests[] = {
    { "defined", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return !v.isUndefined(); } },
    { "undefined", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isUndefined(); } },
    { "none", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isNone(); } },
    { "boolean", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isBool(); } },
    { "true", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isBool() && v.asBool(); } },
    { "false", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isBool() && !v.asBool(); } },
    { "integer", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isInt(); } },
    { "float", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isFloat(); } },
    { "number", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isNumber(); } },
    { "string", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isString(); } },
    { "mapping", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isDict(); } },
    { "sequence", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return isSequence(v); } },
    { "iterable", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return isIterable(v); } },
    { "callable", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) {
            return v.isCallable() || v.isLoop() || v.isUndefined();
        } },
    { "escaped", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) { return v.isString() && v.isMarkup(); } },
    { "odd", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return modEquals(v, 2, 1); } },
    { "even", 0, [](Evaluator&, const Value& v, const std::vector<Value>&) { return modEquals(v, 2, 0); } },
    { "divisibleby", 1,
        [](Evaluator&, const Value& v, const std::vector<Value>& a) {
            return valuesEqual(binaryOperation(BinaryOp::Mod, v, one(a), 0), Value::integer(0));
        } },
    { "lower", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) { return pyIs(toPythonStr(v), CharClass::Lower); } },
    { "upper", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) { return pyIs(toPythonStr(v), CharClass::Upper); } },
    { "sameas", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return sameAs(v, one(a)); } },
    { "in", 1,
        [](Evaluator& ev, const Value& v, const std::vector<Value>& a) { return containsValue(ev, one(a), v); } },
    { "eq", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valuesEqual(v, one(a)); } },
    { "equalto", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valuesEqual(v, one(a)); } },
    { "==", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valuesEqual(v, one(a)); } },
    { "ne", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return !valuesEqual(v, one(a)); } },
    { "!=", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return !valuesEqual(v, one(a)); } },
    { "lt", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(v, one(a)); } },
    { "lessthan", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(v, one(a)); } },
    { "<", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(v, one(a)); } },
    { "gt", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(one(a), v); } },
    { "greaterthan", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(one(a), v); } },
    { ">", 1, [](Evaluator&, const Value& v, const std::vector<Value>& a) { return valueLess(one(a), v); } },
    { "le", 1,
        [](Evaluator&, const Value& v, const std::vector<Value>& a) {
            return valueLess(v, one(a)) || valuesEqual(v, one(a));
        } },
    { "<=", 1,
        [](Evaluator&, const Value& v, const std::vector<Value>& a) {
            return valueLess(v, one(a)) || valuesEqual(v, one(a));
        } },
    { "ge", 1,
        [](Evaluator&, const Value& v, const std::vector<Value>& a) {
            return valueLess(one(a), v) || valuesEqual(v, one(a));
        } },
    { ">=", 1,
        [](Evaluator&, const Value& v, const std::vector<Value>& a) {
            return valueLess(one(a), v) || valuesEqual(v, one(a));
        } },
    { "filter", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) {
            return v.isString() && filterSupport(v.str()) == Support::Implemented;
        } },
    { "test", 0,
        [](Evaluator&, const Value& v, const std::vector<Value>&) {
            return v.isString() && testSupport(v.str()) == Support::Implemented;
        } },
};

const TestEntry* findTest(std::string_view name)
{
    for (const TestEntry& t : kTests)
        if (t.name == name)
            return &t;
    return nullptr;
}

} // namespace

Support testSupport(std::string_view name)
{
    return findTest(name) ? Support::Implemented : Support::Unknown;
}

bool containsValue(Evaluator&, const Value& container, const Value& item)
{
    switch (container.kind()) {
    case ValueKind::String:
        if (!item.isString())
            throwTypeError("'in <string>' requires string as left operand, not " + item.typeName());
        return container.str().find(item.str()) != std::string::npos;
    case ValueKind::Dict:
        return container.dict().find(item) != nullptr;
    case ValueKind::Undefined:
        return false;
    case ValueKind::Sequence: {
        if (container.isGenerator()) {
            const SequenceData& data = container.sequenceData();
            while (data.consumed < data.items.size()) {
                if (valuesEqual(data.items[data.consumed++], item))
                    return true;
            }
            return false;
        }
        const auto& items = container.items();
        return std::any_of(items.begin(), items.end(), [&](const Value& x) { return valuesEqual(x, item); });
    }
    default:
        throwTypeError("argument of type '" + container.typeName() + "' is not iterable");
    }
}

bool callTest(Evaluator& evaluator, std::string_view name, const Value& input, const CallArgs& args)
{
    const TestEntry* test = findTest(name);
    if (!test)
        throwTypeError("No test named '" + std::string(name) + "' found.");
    if (!args.keyword.empty())
        throwTypeError("the test '" + std::string(name) + "' takes no keyword arguments");
    if (args.positional.size() != test->arity)
        throwTypeError("the test '" + std::string(name) + "' takes " + std::to_string(test->arity) + " argument(s), "
            + std::to_string(args.positional.size()) + " given");
    return test->function(evaluator, input, args.positional);
}

} // namespace tunebench::jinja
