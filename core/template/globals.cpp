#include "core/template/globals.h"

#include "core/template/template_error.h"

#include <memory>

namespace tunebench::jinja {

namespace {

// The sandbox's MAX_RANGE: a template cannot build a longer range.
constexpr std::int64_t kMaxRange = 100000;

Value range(Evaluator&, const CallArgs& args)
{
    if (!args.keyword.empty())
        throwTypeError("range() takes no keyword arguments");
    if (args.positional.empty() || args.positional.size() > 3)
        throwTypeError("range expected 1 to 3 arguments, got " + std::to_string(args.positional.size()));
    std::int64_t bounds[3] = { 0, 0, 1 };
    for (std::size_t i = 0; i < args.positional.size(); ++i) {
        const Value& v = args.positional[i];
        if (!v.isInt() && !v.isBool())
            throwTypeError("'" + v.typeName() + "' object cannot be interpreted as an integer");
        bounds[args.positional.size() == 1 ? 1 : i] = v.toInt();
    }
    const std::int64_t start = bounds[0];
    const std::int64_t stop = bounds[1];
    const std::int64_t step = bounds[2];
    if (step == 0)
        throwTypeError("range() arg 3 must not be zero");
    const double count = step > 0
        ? (static_cast<double>(stop) - static_cast<double>(start)) / static_cast<double>(step)
        : (static_cast<double>(start) - static_cast<double>(stop)) / static_cast<double>(-step);
    if (count > static_cast<double>(kMaxRange))
        throw RuntimeProblem(ErrorKind::Security,
            "Range too big. The sandbox blocks ranges larger than MAX_RANGE (" + std::to_string(kMaxRange) + ").");
    return Value::range(start, stop, step);
}

// dict(mapping_or_pairs, **kwargs), as Python's dict() and Namespace() take them.
Dict dictFromArgs(Evaluator& ev, const CallArgs& args, const char* what)
{
    if (args.positional.size() > 1)
        throwTypeError(
            std::string(what) + " expected at most 1 argument, got " + std::to_string(args.positional.size()));
    Dict d;
    if (!args.positional.empty()) {
        const Value& source = args.positional[0];
        if (source.isDict()) {
            d = source.dict();
        } else {
            for (const Value& pair : ev.iterate(source)) {
                const std::vector<Value> kv = ev.iterate(pair);
                if (kv.size() != 2)
                    throwTypeError(std::string(what) + ": each element must be a pair");
                d.set(kv[0], kv[1]);
            }
        }
    }
    for (const auto& [k, v] : args.keyword)
        d.set(Value::string(k), v);
    return d;
}

Value unsupportedGlobal(const char* name)
{
    return makeBuiltin(name, [name](Evaluator&, const CallArgs&) -> Value {
        throwUnsupported(std::string("the global '") + name + "' is not supported");
    });
}

} // namespace

void addJinjaGlobals(Scope& scope)
{
    scope.set("range", makeBuiltin("range", range));
    scope.set("dict", makeBuiltin("dict", [](Evaluator& ev, const CallArgs& args) {
        return Value::dict(dictFromArgs(ev, args, "dict"));
    }));
    scope.set("namespace", makeBuiltin("namespace", [](Evaluator& ev, const CallArgs& args) {
        auto ns = std::make_shared<NamespaceData>();
        ns->attributes = dictFromArgs(ev, args, "namespace");
        ev.adopt(ns);
        return Value::namespaceObject(std::move(ns));
    }));
    scope.set("joiner", makeBuiltin("joiner", [](Evaluator&, const CallArgs& args) {
        const auto v = bindArguments("joiner", args, { { "sep", Value::string(", ") } });
        auto used = std::make_shared<bool>(false);
        const Value separator = v[0];
        return makeBuiltin("joiner", [used, separator](Evaluator&, const CallArgs&) {
            if (!*used) {
                *used = true;
                return Value::string("");
            }
            return separator;
        });
    }));
    scope.set("cycler", unsupportedGlobal("cycler"));
    scope.set("lipsum", unsupportedGlobal("lipsum"));
}

} // namespace tunebench::jinja
