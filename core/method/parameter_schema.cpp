#include "core/method/parameter_schema.h"

#include "core/util/error.h"

#include <algorithm>
#include <cmath>

namespace tunebench {

namespace {

std::optional<ParameterSpec::Type> typeFromString(std::string_view s)
{
    using T = ParameterSpec::Type;
    if (s == "integer")
        return T::Integer;
    if (s == "number")
        return T::Number;
    if (s == "boolean")
        return T::Boolean;
    if (s == "string")
        return T::String;
    if (s == "string_list")
        return T::StringList;
    if (s == "choice")
        return T::Choice;
    if (s == "integer_list")
        return T::IntegerList;
    return std::nullopt;
}

std::string describe(const nlohmann::json& v)
{
    std::string text = v.dump();
    if (text.size() > 60)
        text = text.substr(0, 57) + "...";
    return std::string(v.is_null() ? "null" : v.type_name()) + " " + text;
}

std::string number(double x)
{
    if (std::floor(x) == x && std::abs(x) < 1e15)
        return std::to_string(static_cast<long long>(x));
    return nlohmann::json(x).dump();
}

std::string joined(const std::vector<std::string>& items)
{
    std::string out;
    for (const auto& i : items)
        out += (out.empty() ? "" : ", ") + i;
    return out;
}

// Checks and converts one value; returns the canonical value or throws.
// Long for a reason: one branch per schema type, each with its own message naming the field.
nlohmann::json checkValue(const ParameterSpec& spec, const nlohmann::json& v, const std::string& where)
{
    using T = ParameterSpec::Type;
    auto fail = [&](const std::string& expected) -> nlohmann::json {
        throw InputError(where + ": expected " + expected + ", got " + describe(v));
    };
    auto isWhole = [](const nlohmann::json& x) {
        return x.is_number_integer()
            || (x.is_number_float() && std::floor(x.get<double>()) == x.get<double>()
                && std::abs(x.get<double>()) < 9e15);
    };
    auto whole = [](const nlohmann::json& x) {
        return x.is_number_integer() ? x.get<std::int64_t>() : static_cast<std::int64_t>(x.get<double>());
    };
    auto checkRange = [&](double x, const nlohmann::json& shown) {
        if ((spec.minimum && x < *spec.minimum) || (spec.maximum && x > *spec.maximum)) {
            std::string range;
            if (spec.minimum && spec.maximum)
                range = "between " + number(*spec.minimum) + " and " + number(*spec.maximum);
            else if (spec.minimum)
                range = "at least " + number(*spec.minimum);
            else
                range = "at most " + number(*spec.maximum);
            throw InputError(
                where + ": expected " + (&shown == &v ? "a value " : "items ") + range + ", got " + shown.dump());
        }
    };
    switch (spec.type) {
    case T::Integer:
        if (isWhole(v)) {
            const auto x = whole(v);
            checkRange(static_cast<double>(x), v);
            return x;
        }
        return fail("a whole number");
    case T::IntegerList: {
        const nlohmann::json list = v.is_number() ? nlohmann::json::array({ v }) : v;
        if (!list.is_array())
            return fail("a list of whole numbers");
        nlohmann::json out = nlohmann::json::array();
        for (const auto& item : list) {
            if (!isWhole(item))
                return fail("a list of whole numbers");
            const auto x = whole(item);
            checkRange(static_cast<double>(x), item);
            out.push_back(x);
        }
        return out;
    }
    case T::Number:
        if (v.is_number() && std::isfinite(v.get<double>())) {
            checkRange(v.get<double>(), v);
            return v.get<double>();
        }
        return fail("a number");
    case T::Boolean:
        if (v.is_boolean())
            return v;
        return fail("true or false");
    case T::String:
        if (v.is_string())
            return v;
        return fail("a string");
    case T::Choice:
        if (v.is_string()
            && std::find(spec.choices.begin(), spec.choices.end(), v.get<std::string>()) != spec.choices.end())
            return v;
        return fail("one of " + joined(spec.choices));
    case T::StringList: {
        nlohmann::json list = v.is_string() ? nlohmann::json::array({ v }) : v;
        if (!list.is_array())
            return fail("a list of strings");
        for (const auto& item : list) {
            if (!item.is_string())
                return fail("a list of strings");
            if (!spec.choices.empty()
                && std::find(spec.choices.begin(), spec.choices.end(), item.get<std::string>()) == spec.choices.end())
                throw InputError(where + ": '" + item.get<std::string>() + "' is not one of " + joined(spec.choices));
        }
        return list;
    }
    }
    return v;
}

} // namespace

std::string_view toString(ParameterSpec::Type type)
{
    using T = ParameterSpec::Type;
    switch (type) {
    case T::Integer:
        return "integer";
    case T::Number:
        return "number";
    case T::Boolean:
        return "boolean";
    case T::String:
        return "string";
    case T::StringList:
        return "string_list";
    case T::Choice:
        return "choice";
    case T::IntegerList:
        return "integer_list";
    }
    return "unknown";
}

ParameterSchema::ParameterSchema(std::vector<ParameterSpec> specs)
    : m_specs(std::move(specs))
{ }

const ParameterSpec* ParameterSchema::find(std::string_view key) const
{
    for (const auto& s : m_specs) {
        if (s.name == key || std::find(s.aliases.begin(), s.aliases.end(), key) != s.aliases.end())
            return &s;
    }
    return nullptr;
}

ParameterSchema ParameterSchema::fromJson(const nlohmann::json& json, std::string_view owner)
{
    const std::string who(owner);
    if (!json.is_array())
        throw InputError(who + ": the parameter schema must be a JSON array of parameter objects");
    std::vector<ParameterSpec> specs;
    for (std::size_t i = 0; i < json.size(); ++i) {
        const auto& e = json[i];
        const std::string where = who + ": parameter " + std::to_string(i);
        if (!e.is_object() || !e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty())
            throw InputError(where + ": expected an object with a non-empty string 'name'");
        ParameterSpec s;
        s.name = e["name"].get<std::string>();
        const std::string at = who + ": parameter '" + s.name + "'";
        const auto type
            = e.contains("type") && e["type"].is_string() ? typeFromString(e["type"].get<std::string>()) : std::nullopt;
        if (!type)
            throw InputError(
                at + ": 'type' must be integer, number, boolean, string, string_list, choice or integer_list");
        s.type = *type;
        if (e.contains("aliases")) {
            if (!e["aliases"].is_array())
                throw InputError(at + ": 'aliases' must be a list of strings");
            for (const auto& a : e["aliases"]) {
                if (!a.is_string())
                    throw InputError(at + ": 'aliases' must be a list of strings");
                s.aliases.push_back(a.get<std::string>());
            }
        }
        if (e.contains("choices")) {
            if (!e["choices"].is_array())
                throw InputError(at + ": 'choices' must be a list of strings");
            for (const auto& c : e["choices"]) {
                if (!c.is_string())
                    throw InputError(at + ": 'choices' must be a list of strings");
                s.choices.push_back(c.get<std::string>());
            }
        }
        if (s.type == ParameterSpec::Type::Choice && s.choices.empty())
            throw InputError(at + ": a choice needs 'choices'");
        for (const char* bound : { "minimum", "maximum" }) {
            if (!e.contains(bound))
                continue;
            if (!e[bound].is_number())
                throw InputError(at + ": '" + bound + "' must be a number");
            (std::string(bound) == "minimum" ? s.minimum : s.maximum) = e[bound].get<double>();
        }
        s.help = e.value("help", "");
        if (e.contains("default") && !e["default"].is_null())
            s.defaultValue = checkValue(s, e["default"], at + ": 'default'");
        for (const auto& other : specs) {
            for (const std::string& key : [&] {
                     std::vector<std::string> keys = s.aliases;
                     keys.push_back(s.name);
                     return keys;
                 }()) {
                if (other.name == key
                    || std::find(other.aliases.begin(), other.aliases.end(), key) != other.aliases.end())
                    throw InputError(at + ": the key '" + key + "' is already used by parameter '" + other.name + "'");
            }
        }
        specs.push_back(std::move(s));
    }
    return ParameterSchema(std::move(specs));
}

nlohmann::json ParameterSchema::toJson() const
{
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : m_specs) {
        nlohmann::json e = { { "name", s.name }, { "type", toString(s.type) }, { "help", s.help } };
        if (!s.aliases.empty())
            e["aliases"] = s.aliases;
        e["default"] = s.defaultValue;
        if (s.minimum)
            e["minimum"] = *s.minimum;
        if (s.maximum)
            e["maximum"] = *s.maximum;
        if (!s.choices.empty())
            e["choices"] = s.choices;
        out.push_back(std::move(e));
    }
    return out;
}

nlohmann::json ParameterSchema::resolve(nlohmann::json& config, std::string_view context) const
{
    const std::string ctx(context);
    if (!config.is_object())
        throw InputError(ctx + ": expected a mapping of parameters, got " + describe(config));
    nlohmann::json out = nlohmann::json::object();
    for (const auto& s : m_specs) {
        std::vector<std::string> keys { s.name };
        keys.insert(keys.end(), s.aliases.begin(), s.aliases.end());
        std::optional<std::string> given;
        for (const auto& key : keys) {
            if (!config.contains(key))
                continue;
            if (given)
                throw InputError(
                    ctx + ": '" + *given + "' and '" + key + "' both set parameter '" + s.name + "'; give one");
            given = key;
        }
        if (!given || config[*given].is_null()) {
            if (s.defaultValue.is_null())
                throw InputError(ctx + ": field '" + s.name + "' is required (" + s.help + ")");
            out[s.name] = s.defaultValue;
        } else {
            out[s.name] = checkValue(s, config[*given], ctx + ": field '" + *given + "'");
        }
        if (given)
            config.erase(*given);
    }
    return out;
}

} // namespace tunebench
