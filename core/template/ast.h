#pragma once

#include "core/template/template_error.h"
#include "core/template/value.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tunebench::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

enum class ExprKind {
    Literal, // literal
    Name, // name
    GetAttr, // operands[0].name
    GetItem, // operands[0][operands[1]]
    Slice, // operands[0..2]: start, stop, step (null when omitted); only as GetItem's key
    Call, // operands[0](operands[1..], keywords)
    Filter, // operands[0] | name(operands[1..], keywords); operands[0] null in filter blocks
    Test, // operands[0] is name(operands[1..], keywords)
    Negate, // -operands[0]
    Plus, // +operands[0]
    Binary, // operands[0] op operands[1]
    Concat, // operands joined with ~
    And, // operands[0] and operands[1]
    Or, // operands[0] or operands[1]
    Not, // not operands[0]
    Compare, // operands[0] compareOps[0] operands[1] compareOps[1] operands[2] ...
    Condition, // operands[1] if operands[0] else operands[2] (null: undefined)
    List, // [operands...]
    Tuple, // (operands...)
    Dict, // {operands[0]: operands[1], ...}
};

enum class BinaryOp { Add, Sub, Mul, Div, FloorDiv, Mod, Pow };
// The operator as written in a template ("+", "//", "**" ...).
const char* binaryOpSymbol(BinaryOp op);
enum class CompareOp { Eq, Ne, Lt, Le, Gt, Ge, In, NotIn };

struct Expr {
    ExprKind kind;
    SourcePos pos;
    std::string name; // Name, GetAttr, Filter and Test names
    Value literal;
    BinaryOp binaryOp = BinaryOp::Add;
    std::vector<CompareOp> compareOps;
    std::vector<ExprPtr> operands;
    std::vector<std::pair<std::string, ExprPtr>> keywords;

    Expr(ExprKind k, SourcePos p)
        : kind(k)
        , pos(p)
    { }
};

enum class StmtKind {
    Text, // text
    Output, // {{ expr }}: expr
    If, // branches (condition, body) in order; elseBody
    For, // target in expr [if condition] [recursive]: body, elseBody
    Set, // target = expr
    SetBlock, // {% set target | filter %}body{% endset %}: filter (a Filter chain on null) or null
    Macro, // name(params = defaults): body
    CallBlock, // {% call(params) expr %}body{% endcall %}
    FilterBlock, // {% filter chain %}body{% endfilter %}: filter
    With, // {% with targets = values %}body{% endwith %}
    Break,
    Continue,
};

// An assignment target: a name, ns.attr or a (nested) tuple of names.
struct Target {
    enum class Kind { Name, NamespaceAttr, Tuple } kind = Kind::Name;
    std::string name; // the name, or the namespace variable
    std::string attribute; // NamespaceAttr
    std::vector<Target> items;
    SourcePos pos;
};

struct MacroParam {
    std::string name;
    ExprPtr defaultValue; // null when required
};

struct Stmt {
    StmtKind kind;
    SourcePos pos;
    std::string text;
    std::string name;
    ExprPtr expr;
    ExprPtr condition;
    ExprPtr filter;
    Target target;
    std::vector<Target> targets;
    std::vector<ExprPtr> values;
    std::vector<std::pair<ExprPtr, StmtList>> branches;
    StmtList body;
    StmtList elseBody;
    std::vector<MacroParam> params;
    bool recursive = false;
    // Macros: whether the body reads `caller`, `varargs` or `kwargs`, which makes
    // the macro accept a caller block, surplus positional or unknown keyword arguments.
    bool usesCaller = false;
    bool usesVarargs = false;
    bool usesKwargs = false;

    Stmt(StmtKind k, SourcePos p)
        : kind(k)
        , pos(p)
    { }
};

} // namespace tunebench::jinja
