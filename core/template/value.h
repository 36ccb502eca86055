#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace tunebench::jinja {

class Value;
class Dict;
class Callable;
struct NamespaceData;
struct LoopState;

enum class ValueKind { Undefined, None, Bool, Int, Float, String, Sequence, Dict, Callable, Namespace, Loop };

// Python's sequence-like types a template can meet. They iterate alike but differ in
// what else they allow: a generator (from select/map/...) has no len() and is
// consumed by iteration; a dict view (d.items()) is not subscriptable.
enum class SequenceKind { List, Tuple, Range, Generator, ItemsView, KeysView, ValuesView };

struct SequenceData {
    std::vector<Value> items;
    SequenceKind kind = SequenceKind::List;
    // How far a generator has been consumed; values are otherwise immutable (the
    // sandbox forbids mutating methods), so only this changes after construction.
    mutable std::size_t consumed = 0;
    // A range keeps its arguments for repr() ("range(0, 10, 2)").
    std::int64_t rangeStart = 0;
    std::int64_t rangeStop = 0;
    std::int64_t rangeStep = 1;
};

// A template value with Python's semantics (the sandboxed Jinja2 that transformers
// uses). Cheap to copy: strings, sequences and mappings are shared and immutable;
// a namespace and a loop are shared and mutable, as in Python.
class Value {
public:
    Value() = default; // undefined
    static Value undefined(std::string hint);
    static Value none();
    static Value boolean(bool b);
    static Value integer(std::int64_t i);
    static Value number(double d);
    static Value string(std::string s, bool markup = false);
    static Value sequence(std::vector<Value> items, SequenceKind kind = SequenceKind::List);
    // range(start, stop, step) with its items (the caller bounds the length).
    static Value range(std::int64_t start, std::int64_t stop, std::int64_t step);
    static Value dict(Dict d);
    static Value callable(std::shared_ptr<const Callable> c);
    static Value namespaceObject(std::shared_ptr<NamespaceData> ns);
    static Value loop(std::shared_ptr<LoopState> loop);

    // JSON in, with Python's types: objects keep their key order (use ordered_json
    // for input whose order matters, as Python's json module does).
    static Value fromJson(const nlohmann::ordered_json& j);
    static Value fromJson(const nlohmann::json& j);

    ValueKind kind() const { return m_kind; }
    bool isUndefined() const { return m_kind == ValueKind::Undefined; }
    bool isNone() const { return m_kind == ValueKind::None; }
    bool isBool() const { return m_kind == ValueKind::Bool; }
    bool isInt() const { return m_kind == ValueKind::Int; }
    bool isFloat() const { return m_kind == ValueKind::Float; }
    // int, float or bool (Python's numbers.Number).
    bool isNumber() const { return isInt() || isFloat() || isBool(); }
    bool isString() const { return m_kind == ValueKind::String; }
    bool isSequence() const { return m_kind == ValueKind::Sequence; }
    bool isList() const { return isSequence() && sequenceKind() == SequenceKind::List; }
    bool isTuple() const { return isSequence() && sequenceKind() == SequenceKind::Tuple; }
    bool isGenerator() const { return isSequence() && sequenceKind() == SequenceKind::Generator; }
    bool isRange() const { return isSequence() && sequenceKind() == SequenceKind::Range; }
    // A list, tuple or range: indexable and sliceable.
    bool isIndexable() const { return isList() || isTuple() || isRange(); }
    bool isDict() const { return m_kind == ValueKind::Dict; }
    bool isCallable() const { return m_kind == ValueKind::Callable; }
    bool isNamespace() const { return m_kind == ValueKind::Namespace; }
    bool isLoop() const { return m_kind == ValueKind::Loop; }

    bool asBool() const { return std::get<bool>(m_data); }
    std::int64_t asInt() const { return std::get<std::int64_t>(m_data); }
    double asFloat() const { return std::get<double>(m_data); }
    // int, bool or float as a double; only for isNumber() values.
    double toDouble() const;
    // bool or int as an int64; only for isInt() or isBool() values.
    std::int64_t toInt() const;
    const std::string& str() const { return *std::get<std::shared_ptr<const std::string>>(m_data); }
    // A Markup string (from |safe or |escape): concatenation escapes the other side.
    bool isMarkup() const { return m_markup; }
    // The hint an undefined value carries for its error message.
    const std::string& undefinedHint() const;
    const SequenceData& sequenceData() const { return *std::get<std::shared_ptr<const SequenceData>>(m_data); }
    const std::vector<Value>& items() const { return sequenceData().items; }
    SequenceKind sequenceKind() const { return sequenceData().kind; }
    const Dict& dict() const { return *std::get<std::shared_ptr<const Dict>>(m_data); }
    const Callable& callable() const { return *std::get<std::shared_ptr<const Callable>>(m_data); }
    NamespaceData& namespaceData() const { return *std::get<std::shared_ptr<NamespaceData>>(m_data); }
    LoopState& loopState() const { return *std::get<std::shared_ptr<LoopState>>(m_data); }
    // Identity of shared objects (Python's `is` for namespaces, callables, loops).
    const void* identity() const;

    // Python's bool(value).
    bool truthy() const;
    // Python's type name, as error messages show it ('str', 'dict', 'NoneType').
    std::string typeName() const;

private:
    using Data = std::variant<std::monostate, bool, std::int64_t, double, std::shared_ptr<const std::string>,
        std::shared_ptr<const SequenceData>, std::shared_ptr<const Dict>, std::shared_ptr<const Callable>,
        std::shared_ptr<NamespaceData>, std::shared_ptr<LoopState>>;
    ValueKind m_kind = ValueKind::Undefined;
    bool m_markup = false;
    Data m_data;
};

// An insertion-ordered mapping with Python's key equality (1 == 1.0 == True).
class Dict {
public:
    // Inserts or replaces (a replaced key keeps its position, as in Python).
    // Throws TypeError (as a RuntimeProblem) for an unhashable key.
    void set(const Value& key, Value value);
    const Value* find(const Value& key) const;
    const Value* find(std::string_view key) const;
    std::size_t size() const { return m_entries.size(); }
    bool empty() const { return m_entries.empty(); }
    const std::vector<std::pair<Value, Value>>& entries() const { return m_entries; }

private:
    std::vector<std::pair<Value, Value>> m_entries;
    std::unordered_map<std::string, std::size_t> m_index;
};

// Python's hash identity of a key: equal keys give equal strings; lists, dicts and
// other unhashable values throw TypeError.
std::string hashKey(const Value& key);

// namespace(): the one mutable object templates can assign attributes on.
struct NamespaceData {
    Dict attributes;
};

// Python's ==.
bool valuesEqual(const Value& a, const Value& b);
// Python's <, for numbers, strings and sequences of the same type; throws TypeError
// (as a RuntimeProblem) for values Python cannot order.
bool valueLess(const Value& a, const Value& b);

} // namespace tunebench::jinja
