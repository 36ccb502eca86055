#pragma once

#include "core/template/value.h"

#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tunebench::jinja {

class Evaluator;

// Whether a filter or test name is one this interpreter runs, one Jinja2 has but
// this interpreter lacks, or no Jinja2 builtin at all.
enum class Support { Implemented, NotImplemented, Unknown };

// Arguments of a call, a filter or a test, as written: positional then keyword.
struct CallArgs {
    std::vector<Value> positional;
    std::vector<std::pair<std::string, Value>> keyword;

    const Value* keywordValue(std::string_view name) const;
};

// Something a template can call: a builtin (range, namespace, a bound str method),
// a macro, a caller block. Implementations are immutable; call() may throw
// RuntimeProblem or TemplateError and runs on the rendering thread.
class Callable {
public:
    virtual ~Callable() = default;
    virtual Value call(Evaluator& evaluator, const CallArgs& args) const = 0;
    virtual std::string repr() const = 0;
    virtual std::string typeName() const { return "builtin_function_or_method"; }
};

class BuiltinFunction : public Callable {
public:
    using Function = std::function<Value(Evaluator&, const CallArgs&)>;
    BuiltinFunction(std::string name, Function fn)
        : m_name(std::move(name))
        , m_fn(std::move(fn))
    { }

    Value call(Evaluator& evaluator, const CallArgs& args) const override { return m_fn(evaluator, args); }
    std::string repr() const override { return "<built-in function " + m_name + ">"; }

private:
    std::string m_name;
    Function m_fn;
};

Value makeBuiltin(std::string name, BuiltinFunction::Function fn);

// One parameter of a builtin: a name, and a default unless it is required.
struct Param {
    std::string_view name;
    std::optional<Value> defaultValue;
};

// Python-style binding of positional and keyword arguments to named parameters.
// Throws TypeError (RuntimeProblem) naming `what` for a missing, unknown, repeated
// or surplus argument.
std::vector<Value> bindArguments(std::string_view what, const CallArgs& args, std::initializer_list<Param> params);

} // namespace tunebench::jinja
