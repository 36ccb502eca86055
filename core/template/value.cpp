#include "core/template/value.h"

#include "core/template/callable.h"
#include "core/template/template_error.h"
#include "core/template/value_format.h"

#include <cmath>
#include <limits>

namespace tunebench::jinja {

namespace {

template <typename Json> Value fromJsonImpl(const Json& j)
{
    switch (j.type()) {
    case nlohmann::json::value_t::null:
        return Value::none();
    case nlohmann::json::value_t::boolean:
        return Value::boolean(j.template get<bool>());
    case nlohmann::json::value_t::number_integer:
        return Value::integer(j.template get<std::int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
        const auto u = j.template get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            throw InputError("integer " + std::to_string(u) + " is larger than the 64-bit integers templates support");
        return Value::integer(static_cast<std::int64_t>(u));
    }
    case nlohmann::json::value_t::number_float:
        return Value::number(j.template get<double>());
    case nlohmann::json::value_t::string:
        return Value::string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
        std::vector<Value> items;
        items.reserve(j.size());
        for (const auto& item : j)
            items.push_back(fromJsonImpl(item));
        return Value::sequence(std::move(items));
    }
    case nlohmann::json::value_t::object: {
        Dict d;
        for (auto it = j.begin(); it != j.end(); ++it)
            d.set(Value::string(it.key()), fromJsonImpl(it.value()));
        return Value::dict(std::move(d));
    }
    default:
        throw InputError("a template value cannot be made from JSON of type " + std::string(j.type_name()));
    }
}

// Exact comparison of an int64 with a double, as Python compares int with float.
int compareIntFloat(std::int64_t i, double d)
{
    if (std::isnan(d))
        return 2; // unordered
    const long double li = static_cast<long double>(i);
    const long double ld = static_cast<long double>(d);
    return li < ld ? -1 : (li > ld ? 1 : 0);
}

int compareNumbers(const Value& a, const Value& b)
{
    if (!a.isFloat() && !b.isFloat()) {
        const auto x = a.toInt();
        const auto y = b.toInt();
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.isFloat() && b.isFloat()) {
        const double x = a.asFloat();
        const double y = b.asFloat();
        if (std::isnan(x) || std::isnan(y))
            return 2;
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a.isFloat()) {
        const int c = compareIntFloat(b.toInt(), a.asFloat());
        return c == 2 ? 2 : -c;
    }
    return compareIntFloat(a.toInt(), b.asFloat());
}

} // namespace

Value Value::undefined(std::string hint)
{
    Value v;
    v.m_data = std::make_shared<const std::string>(std::move(hint));
    return v;
}

Value Value::none()
{
    Value v;
    v.m_kind = ValueKind::None;
    return v;
}

Value Value::boolean(bool b)
{
    Value v;
    v.m_kind = ValueKind::Bool;
    v.m_data = b;
    return v;
}

Value Value::integer(std::int64_t i)
{
    Value v;
    v.m_kind = ValueKind::Int;
    v.m_data = i;
    return v;
}

Value Value::number(double d)
{
    Value v;
    v.m_kind = ValueKind::Float;
    v.m_data = d;
    return v;
}

Value Value::string(std::string s, bool markup)
{
    Value v;
    v.m_kind = ValueKind::String;
    v.m_markup = markup;
    v.m_data = std::make_shared<const std::string>(std::move(s));
    return v;
}

Value Value::sequence(std::vector<Value> items, SequenceKind kind)
{
    Value v;
    v.m_kind = ValueKind::Sequence;
    auto data = std::make_shared<SequenceData>();
    data->items = std::move(items);
    data->kind = kind;
    v.m_data = std::shared_ptr<const SequenceData>(std::move(data));
    return v;
}

Value Value::range(std::int64_t start, std::int64_t stop, std::int64_t step)
{
    Value v;
    v.m_kind = ValueKind::Sequence;
    auto data = std::make_shared<SequenceData>();
    data->kind = SequenceKind::Range;
    data->rangeStart = start;
    data->rangeStop = stop;
    data->rangeStep = step;
    for (std::int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        data->items.push_back(Value::integer(i));
    v.m_data = std::shared_ptr<const SequenceData>(std::move(data));
    return v;
}

Value Value::dict(Dict d)
{
    Value v;
    v.m_kind = ValueKind::Dict;
    v.m_data = std::make_shared<const Dict>(std::move(d));
    return v;
}

Value Value::callable(std::shared_ptr<const Callable> c)
{
    Value v;
    v.m_kind = ValueKind::Callable;
    v.m_data = std::move(c);
    return v;
}

Value Value::namespaceObject(std::shared_ptr<NamespaceData> ns)
{
    Value v;
    v.m_kind = ValueKind::Namespace;
    v.m_data = std::move(ns);
    return v;
}

Value Value::loop(std::shared_ptr<LoopState> loop)
{
    Value v;
    v.m_kind = ValueKind::Loop;
    v.m_data = std::move(loop);
    return v;
}

Value Value::fromJson(const nlohmann::ordered_json& j)
{
    return fromJsonImpl(j);
}

Value Value::fromJson(const nlohmann::json& j)
{
    return fromJsonImpl(j);
}

double Value::toDouble() const
{
    if (isFloat())
        return asFloat();
    return static_cast<double>(toInt());
}

std::int64_t Value::toInt() const
{
    return isBool() ? (asBool() ? 1 : 0) : asInt();
}

const std::string& Value::undefinedHint() const
{
    static const std::string kEmpty;
    if (const auto* p = std::get_if<std::shared_ptr<const std::string>>(&m_data))
        return **p;
    return kEmpty;
}

const void* Value::identity() const
{
    return std::visit(
        [](const auto& d) -> const void* {
            using T = std::decay_t<decltype(d)>;
            if constexpr (
                std::is_same_v<T,
                    std::
                        monostate> || std::is_same_v<T, bool> || std::is_same_v<T, std::int64_t> || std::is_same_v<T, double>)
                return nullptr;
            else
                return d.get();
        },
        m_data);
}

bool Value::truthy() const
{
    switch (m_kind) {
    case ValueKind::Undefined:
    case ValueKind::None:
        return false;
    case ValueKind::Bool:
        return asBool();
    case ValueKind::Int:
        return asInt() != 0;
    case ValueKind::Float:
        return asFloat() != 0.0;
    case ValueKind::String:
        return !str().empty();
    case ValueKind::Sequence:
        // A generator object is always true in Python, however many items it has left.
        return sequenceKind() == SequenceKind::Generator || !items().empty();
    case ValueKind::Dict:
        return !dict().empty();
    case ValueKind::Callable:
    case ValueKind::Namespace:
    case ValueKind::Loop:
        return true;
    }
    return false;
}

std::string Value::typeName() const
{
    switch (m_kind) {
    case ValueKind::Undefined:
        return "Undefined";
    case ValueKind::None:
        return "NoneType";
    case ValueKind::Bool:
        return "bool";
    case ValueKind::Int:
        return "int";
    case ValueKind::Float:
        return "float";
    case ValueKind::String:
        return m_markup ? "Markup" : "str";
    case ValueKind::Sequence:
        switch (sequenceKind()) {
        case SequenceKind::List:
            return "list";
        case SequenceKind::Tuple:
            return "tuple";
        case SequenceKind::Range:
            return "range";
        case SequenceKind::Generator:
            return "generator";
        case SequenceKind::ItemsView:
            return "dict_items";
        case SequenceKind::KeysView:
            return "dict_keys";
        case SequenceKind::ValuesView:
            return "dict_values";
        }
        return "list";
    case ValueKind::Dict:
        return "dict";
    case ValueKind::Callable:
        return callable().typeName();
    case ValueKind::Namespace:
        return "Namespace";
    case ValueKind::Loop:
        return "LoopContext";
    }
    return "object";
}

std::string hashKey(const Value& key)
{
    switch (key.kind()) {
    case ValueKind::Undefined:
        return "u";
    case ValueKind::None:
        return "n";
    case ValueKind::Bool:
    case ValueKind::Int:
        return "i" + std::to_string(key.toInt());
    case ValueKind::Float: {
        const double d = key.asFloat();
        if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18)
            return "i" + std::to_string(static_cast<std::int64_t>(d));
        return "f" + formatPythonFloat(d);
    }
    case ValueKind::String:
        return "s" + key.str();
    case ValueKind::Sequence:
        if (key.isTuple()) {
            std::string out = "t" + std::to_string(key.items().size()) + "(";
            for (const Value& item : key.items()) {
                const std::string k = hashKey(item);
                out += std::to_string(k.size()) + ":" + k;
            }
            return out + ")";
        }
        break;
    case ValueKind::Callable:
    case ValueKind::Namespace:
    case ValueKind::Loop: {
        char buf[32];
        std::snprintf(buf, sizeof buf, "p%p", key.identity());
        return buf;
    }
    case ValueKind::Dict:
        break;
    }
    throwTypeError("unhashable type: '" + key.typeName() + "'");
}

void Dict::set(const Value& key, Value value)
{
    std::string k = hashKey(key);
    auto it = m_index.find(k);
    if (it != m_index.end()) {
        m_entries[it->second].second = std::move(value);
        return;
    }
    m_index.emplace(std::move(k), m_entries.size());
    m_entries.emplace_back(key, std::move(value));
}

const Value* Dict::find(const Value& key) const
{
    auto it = m_index.find(hashKey(key));
    return it == m_index.end() ? nullptr : &m_entries[it->second].second;
}

const Value* Dict::find(std::string_view key) const
{
    std::string k;
    k.reserve(key.size() + 1);
    k += 's';
    k += key;
    auto it = m_index.find(k);
    return it == m_index.end() ? nullptr : &m_entries[it->second].second;
}

bool valuesEqual(const Value& a, const Value& b)
{
    if (a.isNumber() && b.isNumber())
        return compareNumbers(a, b) == 0;
    if (a.kind() != b.kind())
        return false;
    switch (a.kind()) {
    case ValueKind::Undefined:
    case ValueKind::None:
        return true;
    case ValueKind::String:
        return a.str() == b.str();
    case ValueKind::Sequence: {
        if (a.sequenceKind() != b.sequenceKind() || a.isGenerator())
            return a.identity() == b.identity();
        const auto& x = a.items();
        const auto& y = b.items();
        if (x.size() != y.size())
            return false;
        for (std::size_t i = 0; i < x.size(); ++i)
            if (!valuesEqual(x[i], y[i]))
                return false;
        return true;
    }
    case ValueKind::Dict: {
        const Dict& x = a.dict();
        const Dict& y = b.dict();
        if (x.size() != y.size())
            return false;
        for (const auto& [k, v] : x.entries()) {
            const Value* other = y.find(k);
            if (!other || !valuesEqual(v, *other))
                return false;
        }
        return true;
    }
    default:
        return a.identity() == b.identity();
    }
}

bool valueLess(const Value& a, const Value& b)
{
    if (a.isUndefined() || b.isUndefined()) {
        const Value& u = a.isUndefined() ? a : b;
        throw RuntimeProblem(ErrorKind::Undefined, u.undefinedHint());
    }
    if (a.isNumber() && b.isNumber())
        return compareNumbers(a, b) == -1;
    if (a.isString() && b.isString())
        return a.str() < b.str(); // UTF-8 byte order is code point order
    if (a.isSequence() && b.isSequence() && a.sequenceKind() == b.sequenceKind() && (a.isList() || a.isTuple())) {
        const auto& x = a.items();
        const auto& y = b.items();
        for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) {
            if (!valuesEqual(x[i], y[i]))
                return valueLess(x[i], y[i]);
        }
        return x.size() < y.size();
    }
    throwTypeError("'<' not supported between instances of '" + a.typeName() + "' and '" + b.typeName() + "'");
}

} // namespace tunebench::jinja
