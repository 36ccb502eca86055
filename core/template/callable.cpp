#include "core/template/callable.h"

#include "core/template/template_error.h"

namespace tunebench::jinja {

const Value* CallArgs::keywordValue(std::string_view name) const
{
    for (const auto& [key, value] : keyword)
        if (key == name)
            return &value;
    return nullptr;
}

Value makeBuiltin(std::string name, BuiltinFunction::Function fn)
{
    return Value::callable(std::make_shared<BuiltinFunction>(std::move(name), std::move(fn)));
}

std::vector<Value> bindArguments(std::string_view what, const CallArgs& args, std::initializer_list<Param> params)
{
    const std::string name(what);
    if (args.positional.size() > params.size())
        throwTypeError(name + "() takes at most " + std::to_string(params.size()) + " argument(s) ("
            + std::to_string(args.positional.size()) + " given)");
    std::vector<std::optional<Value>> bound(params.size());
    for (std::size_t i = 0; i < args.positional.size(); ++i)
        bound[i] = args.positional[i];
    for (const auto& [key, value] : args.keyword) {
        std::size_t i = 0;
        for (const Param& p : params) {
            if (p.name == key)
                break;
            ++i;
        }
        if (i == params.size())
            throwTypeError(name + "() got an unexpected keyword argument '" + key + "'");
        if (bound[i])
            throwTypeError(name + "() got multiple values for argument '" + key + "'");
        bound[i] = value;
    }
    std::vector<Value> out;
    out.reserve(params.size());
    std::size_t i = 0;
    for (const Param& p : params) {
        if (bound[i])
            out.push_back(std::move(*bound[i]));
        else if (p.defaultValue)
            out.push_back(*p.defaultValue);
        else
            throwTypeError(name + "() missing required argument '" + std::string(p.name) + "'");
        ++i;
    }
    return out;
}

} // namespace tunebench::jinja
