#include "core/template/evaluator.h"

#include "core/template/filters.h"
#include "core/template/lookup.h"
#include "core/template/loop_state.h"
#include "core/template/operators.h"
#include "core/template/predicates.h"
#include "core/template/unicode_text.h"
#include "core/template/value_format.h"

#include <algorithm>
#include <variant>

namespace tunebench::jinja {

namespace {

// A {% macro %} or the body of a {% call %} block, closed over the scope it was
// defined in (so a top-level macro sees top-level variables as they are when called).
class MacroCallable : public Callable {
public:
    // closure: kept alive by the Evaluator for the whole render.
    MacroCallable(const Stmt& definition, std::string name, const Scope& closure)
        : m_definition(definition)
        , m_name(std::move(name))
        , m_closure(closure)
    { }

    Value call(Evaluator& evaluator, const CallArgs& args) const override
    {
        return evaluator.invokeMacro(m_definition, m_name, m_closure, args);
    }
    std::string repr() const override { return "<Macro '" + m_name + "'>"; }
    std::string typeName() const override { return "Macro"; }

private:
    const Stmt& m_definition;
    std::string m_name;
    const Scope& m_closure;
};

[[noreturn]] void undefinedError(const Value& undefined)
{
    throw RuntimeProblem(ErrorKind::Undefined, undefined.undefinedHint());
}

} // namespace

const Value* Scope::find(std::string_view name) const
{
    for (const Scope* s = this; s; s = s->m_parent.get()) {
        for (auto it = s->m_vars.rbegin(); it != s->m_vars.rend(); ++it)
            if (it->first == name)
                return &it->second;
    }
    return nullptr;
}

void Scope::set(const std::string& name, Value value)
{
    for (auto& [k, v] : m_vars) {
        if (k == name) {
            v = std::move(value);
            return;
        }
    }
    m_vars.emplace_back(name, std::move(value));
}

Evaluator::Evaluator(std::string origin, RenderLimits limits)
    : m_origin(std::move(origin))
    , m_limits(limits)
{ }

Evaluator::~Evaluator()
{
    for (const auto& ns : m_namespaces)
        ns->attributes = Dict();
}

void Evaluator::fail(ErrorKind kind, SourcePos pos, const std::string& message) const
{
    throw TemplateError(kind, m_origin, pos, message);
}

std::string Evaluator::render(const StmtList& body, const std::shared_ptr<Scope>& root)
{
    return capture(body, root);
}

void Evaluator::step(std::uint64_t n)
{
    m_steps += n;
    if (m_steps > m_limits.maxSteps)
        throw RuntimeProblem(ErrorKind::Limit,
            "the template ran more than " + std::to_string(m_limits.maxSteps) + " steps (a runaway loop?)");
}

void Evaluator::checkSize(std::size_t size, const char* what) const
{
    if (size > m_limits.maxOutputBytes)
        throw RuntimeProblem(ErrorKind::Limit,
            std::string(what) + " would exceed the limit of " + std::to_string(m_limits.maxOutputBytes) + " bytes");
}

void Evaluator::emit(std::string_view text)
{
    checkSize(m_out->size() + text.size(), "the rendered output");
    m_out->append(text);
}

std::string Evaluator::capture(const StmtList& body, const std::shared_ptr<Scope>& scope)
{
    std::string buffer;
    std::string* saved = m_out;
    m_out = &buffer;
    try {
        exec(body, scope);
    } catch (...) {
        m_out = saved;
        throw;
    }
    m_out = saved;
    return buffer;
}

// ---- statements -------------------------------------------------------------------

Evaluator::Flow Evaluator::exec(const StmtList& body, const std::shared_ptr<Scope>& scope)
{
    for (const auto& stmt : body) {
        const Flow flow = execStmt(*stmt, scope);
        if (flow != Flow::Normal)
            return flow;
    }
    return Flow::Normal;
}

Evaluator::Flow Evaluator::execStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope)
{
    try {
        step();
        switch (stmt.kind) {
        case StmtKind::Text:
            emit(stmt.text);
            return Flow::Normal;
        case StmtKind::Output:
            emit(toPythonStr(eval(*stmt.expr, scope)));
            return Flow::Normal;
        case StmtKind::If:
            for (const auto& [condition, branch] : stmt.branches)
                if (eval(*condition, scope).truthy())
                    return exec(branch, scope);
            return exec(stmt.elseBody, scope);
        case StmtKind::For:
            return execFor(stmt, scope);
        case StmtKind::Set:
            assign(stmt.target, eval(*stmt.expr, scope), *scope);
            return Flow::Normal;
        case StmtKind::SetBlock: {
            Value value = Value::string(capture(stmt.body, std::make_shared<Scope>(scope)));
            if (stmt.filter)
                value = evalFilter(*stmt.filter, scope, &value);
            assign(stmt.target, value, *scope);
            return Flow::Normal;
        }
        case StmtKind::Macro:
            m_keepAlive.push_back(scope);
            scope->set(stmt.name, Value::callable(std::make_shared<MacroCallable>(stmt, stmt.name, *scope)));
            return Flow::Normal;
        case StmtKind::CallBlock: {
            m_keepAlive.push_back(scope);
            const Value caller = Value::callable(std::make_shared<MacroCallable>(stmt, "caller", *scope));
            const Expr& call = *stmt.expr;
            const Value callee = eval(*call.operands[0], scope);
            CallArgs args = evalArgs(call, scope, 1);
            args.keyword.emplace_back("caller", caller);
            Value result;
            try {
                result = this->call(callee, args);
            } catch (const RuntimeProblem& p) {
                fail(p.kind(), call.pos, p.what());
            }
            emit(toPythonStr(result));
            return Flow::Normal;
        }
        case StmtKind::FilterBlock: {
            const Value input = Value::string(capture(stmt.body, std::make_shared<Scope>(scope)));
            emit(toPythonStr(evalFilter(*stmt.filter, scope, &input)));
            return Flow::Normal;
        }
        case StmtKind::With: {
            auto inner = std::make_shared<Scope>(scope);
            for (std::size_t i = 0; i < stmt.targets.size(); ++i)
                assign(stmt.targets[i], eval(*stmt.values[i], scope), *inner);
            return exec(stmt.body, inner);
        }
        case StmtKind::Break:
            return Flow::Break;
        case StmtKind::Continue:
            return Flow::Continue;
        }
    } catch (const RuntimeProblem& p) {
        fail(p.kind(), stmt.pos, p.what());
    }
    return Flow::Normal;
}

Evaluator::Flow Evaluator::execFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope)
{
    const Value iterable = eval(*stmt.expr, scope);
    emit(renderLoop(stmt, scope, iterable, 0));
    return Flow::Normal;
}

std::string Evaluator::renderLoop(
    const Stmt& stmt, const std::shared_ptr<Scope>& scope, const Value& iterable, std::size_t depth0)
{
    auto loop = std::make_shared<LoopState>();
    loop->depth0 = depth0;
    std::vector<Value> items = iterate(iterable);
    step(items.size());
    if (stmt.condition) {
        for (Value& item : items) {
            auto probe = std::make_shared<Scope>(scope);
            assign(stmt.target, item, *probe);
            if (eval(*stmt.condition, probe).truthy())
                loop->items.push_back(std::move(item));
        }
    } else {
        loop->items = std::move(items);
    }
    if (stmt.recursive) {
        m_keepAlive.push_back(scope);
        const Scope* enclosing = scope.get();
        loop->recurse = [this, &stmt, enclosing](const Value& inner, std::size_t depth) {
            // The enclosing scope is kept alive by m_keepAlive; shared again only for this call.
            const auto enclosingScope = std::const_pointer_cast<Scope>(enclosing->shared_from_this());
            if (++m_callDepth > m_limits.maxCallDepth) {
                --m_callDepth;
                throw RuntimeProblem(ErrorKind::Limit,
                    "recursive loop nested deeper than " + std::to_string(m_limits.maxCallDepth) + " levels");
            }
            try {
                std::string out = renderLoop(stmt, enclosingScope, inner, depth);
                --m_callDepth;
                return out;
            } catch (...) {
                --m_callDepth;
                throw;
            }
        };
    }
    std::string buffer;
    std::string* saved = m_out;
    m_out = &buffer;
    try {
        const Value loopValue = Value::loop(loop);
        for (std::size_t i = 0; i < loop->items.size(); ++i) {
            step();
            loop->index0 = i;
            auto inner = std::make_shared<Scope>(scope);
            assign(stmt.target, loop->items[i], *inner);
            inner->set("loop", loopValue);
            if (exec(stmt.body, inner) == Flow::Break)
                break;
        }
        if (loop->items.empty())
            exec(stmt.elseBody, std::make_shared<Scope>(scope));
    } catch (...) {
        m_out = saved;
        throw;
    }
    m_out = saved;
    return buffer;
}

void Evaluator::assign(const Target& target, const Value& value, Scope& scope)
{
    switch (target.kind) {
    case Target::Kind::Name:
        scope.set(target.name, value);
        return;
    case Target::Kind::NamespaceAttr: {
        const Value* ns = scope.find(target.name);
        if (!ns || !ns->isNamespace())
            throwTypeError("cannot assign attribute on non-namespace object");
        ns->namespaceData().attributes.set(Value::string(target.attribute), value);
        return;
    }
    case Target::Kind::Tuple: {
        if (value.isUndefined())
            undefinedError(value);
        const std::vector<Value> items = iterate(value);
        if (items.size() < target.items.size())
            throwTypeError("not enough values to unpack (expected " + std::to_string(target.items.size()) + ", got "
                + std::to_string(items.size()) + ")");
        if (items.size() > target.items.size())
            throwTypeError("too many values to unpack (expected " + std::to_string(target.items.size()) + ")");
        for (std::size_t i = 0; i < items.size(); ++i)
            assign(target.items[i], items[i], scope);
        return;
    }
    }
}

Value Evaluator::invokeMacro(
    const Stmt& definition, const std::string& name, const Scope& closure, const CallArgs& args)
{
    if (m_callDepth >= m_limits.maxCallDepth)
        throw RuntimeProblem(
            ErrorKind::Limit, "macro calls nested deeper than " + std::to_string(m_limits.maxCallDepth) + " levels");
    step();
    auto scope = std::make_shared<Scope>(closure.shared_from_this());
    const auto& params = definition.params;
    std::vector<bool> bound(params.size(), false);
    for (std::size_t i = 0; i < args.positional.size() && i < params.size(); ++i) {
        scope->set(params[i].name, args.positional[i]);
        bound[i] = true;
    }
    if (args.positional.size() > params.size() && !definition.usesVarargs)
        throwTypeError("macro '" + name + "' takes not more than " + std::to_string(params.size()) + " argument(s)");
    Dict extraKeywords;
    Value caller = Value::undefined("No caller defined");
    for (const auto& [key, value] : args.keyword) {
        auto it = std::find_if(
            params.begin(), params.end(), [&wanted = key](const MacroParam& p) { return p.name == wanted; });
        const auto index = static_cast<std::size_t>(it - params.begin());
        if (it != params.end() && index >= args.positional.size()) {
            scope->set(key, value);
            bound[index] = true;
        } else if (key == "caller" && definition.usesCaller) {
            caller = value;
        } else if (definition.usesKwargs) {
            extraKeywords.set(Value::string(key), value);
        } else {
            throwTypeError("macro '" + name + "' takes no keyword argument '" + key + "'");
        }
    }
    // Defaults are evaluated at call time inside the macro, after the bound arguments.
    for (std::size_t i = 0; i < params.size(); ++i) {
        if (bound[i])
            continue;
        if (params[i].defaultValue)
            scope->set(params[i].name, eval(*params[i].defaultValue, scope));
        else
            scope->set(params[i].name, Value::undefined("parameter '" + params[i].name + "' was not provided"));
    }
    if (definition.usesVarargs) {
        std::vector<Value> rest;
        for (std::size_t i = params.size(); i < args.positional.size(); ++i)
            rest.push_back(args.positional[i]);
        scope->set("varargs", Value::sequence(std::move(rest), SequenceKind::Tuple));
    }
    if (definition.usesKwargs)
        scope->set("kwargs", Value::dict(std::move(extraKeywords)));
    if (definition.usesCaller)
        scope->set("caller", caller);
    ++m_callDepth;
    try {
        std::string out = capture(definition.body, scope);
        --m_callDepth;
        return Value::string(std::move(out));
    } catch (...) {
        --m_callDepth;
        throw;
    }
}

// ---- expressions ------------------------------------------------------------------

Value Evaluator::eval(const Expr& expr, const std::shared_ptr<Scope>& scope)
{
    try {
        return evalNode(expr, scope);
    } catch (const RuntimeProblem& p) {
        fail(p.kind(), expr.pos, p.what());
    } catch (const std::bad_variant_access&) {
        // A value of a kind some operation did not expect: a bug here, reported rather than fatal.
        fail(ErrorKind::Type, expr.pos, "internal error: unexpected value type");
    }
}

CallArgs Evaluator::evalArgs(const Expr& expr, const std::shared_ptr<Scope>& scope, std::size_t firstArg)
{
    CallArgs args;
    for (std::size_t i = firstArg; i < expr.operands.size(); ++i)
        args.positional.push_back(eval(*expr.operands[i], scope));
    for (const auto& [key, value] : expr.keywords)
        args.keyword.emplace_back(key, eval(*value, scope));
    return args;
}

Value Evaluator::evalFilter(const Expr& expr, const std::shared_ptr<Scope>& scope, const Value* blockInput)
{
    try {
        const Value input = expr.operands[0]
            ? (expr.operands[0]->kind == ExprKind::Filter ? evalFilter(*expr.operands[0], scope, blockInput)
                                                          : eval(*expr.operands[0], scope))
            : *blockInput;
        const CallArgs args = evalArgs(expr, scope, 1);
        step();
        return applyFilter(expr.name, input, args);
    } catch (const RuntimeProblem& p) {
        fail(p.kind(), expr.pos, p.what());
    }
}

// Long for a reason: one switch over the template's expression kinds, so the evaluation rules read in one place
// as Jinja's documentation lists them.
Value Evaluator::evalNode(const Expr& expr, const std::shared_ptr<Scope>& scope)
{
    switch (expr.kind) {
    case ExprKind::Literal:
        return expr.literal;
    case ExprKind::Name: {
        if (const Value* v = scope->find(expr.name))
            return *v;
        return Value::undefined("'" + expr.name + "' is undefined");
    }
    case ExprKind::GetAttr: {
        const Value object = eval(*expr.operands[0], scope);
        return getAttribute(object, expr.name);
    }
    case ExprKind::GetItem: {
        const Value object = eval(*expr.operands[0], scope);
        const Expr& key = *expr.operands[1];
        if (key.kind == ExprKind::Slice)
            return evalSlice(object, key, scope);
        return getItem(object, eval(key, scope));
    }
    case ExprKind::Slice:
        throwTypeError("a slice is only valid inside []");
    case ExprKind::Call: {
        const Value callee = eval(*expr.operands[0], scope);
        const CallArgs args = evalArgs(expr, scope, 1);
        return call(callee, args);
    }
    case ExprKind::Filter:
        return evalFilter(expr, scope, nullptr);
    case ExprKind::Test: {
        const Value input = eval(*expr.operands[0], scope);
        const CallArgs args = evalArgs(expr, scope, 1);
        return Value::boolean(applyTest(expr.name, input, args));
    }
    case ExprKind::Negate:
        return negate(eval(*expr.operands[0], scope));
    case ExprKind::Plus:
        return unaryPlus(eval(*expr.operands[0], scope));
    case ExprKind::Binary: {
        const Value left = eval(*expr.operands[0], scope);
        const Value right = eval(*expr.operands[1], scope);
        return binaryOperation(expr.binaryOp, left, right, m_limits.maxOutputBytes);
    }
    case ExprKind::Concat: {
        std::string out;
        for (const auto& operand : expr.operands) {
            out += toPythonStr(eval(*operand, scope));
            checkSize(out.size(), "a concatenated string");
        }
        return Value::string(std::move(out));
    }
    case ExprKind::And: {
        Value left = eval(*expr.operands[0], scope);
        return left.truthy() ? eval(*expr.operands[1], scope) : left;
    }
    case ExprKind::Or: {
        Value left = eval(*expr.operands[0], scope);
        return left.truthy() ? left : eval(*expr.operands[1], scope);
    }
    case ExprKind::Not:
        return Value::boolean(!eval(*expr.operands[0], scope).truthy());
    case ExprKind::Compare: {
        Value left = eval(*expr.operands[0], scope);
        for (std::size_t i = 0; i < expr.compareOps.size(); ++i) {
            Value right = eval(*expr.operands[i + 1], scope);
            if (!compare(expr.compareOps[i], left, right))
                return Value::boolean(false);
            left = std::move(right);
        }
        return Value::boolean(true);
    }
    case ExprKind::Condition: {
        if (eval(*expr.operands[0], scope).truthy())
            return eval(*expr.operands[1], scope);
        if (expr.operands[2])
            return eval(*expr.operands[2], scope);
        return Value::undefined("the inline if-expression on line " + std::to_string(expr.pos.line)
            + " evaluated to false and no else section was defined.");
    }
    case ExprKind::List:
    case ExprKind::Tuple: {
        std::vector<Value> items;
        items.reserve(expr.operands.size());
        for (const auto& operand : expr.operands)
            items.push_back(eval(*operand, scope));
        return Value::sequence(
            std::move(items), expr.kind == ExprKind::List ? SequenceKind::List : SequenceKind::Tuple);
    }
    case ExprKind::Dict: {
        Dict d;
        for (std::size_t i = 0; i + 1 < expr.operands.size(); i += 2) {
            Value key = eval(*expr.operands[i], scope);
            d.set(key, eval(*expr.operands[i + 1], scope));
        }
        return Value::dict(std::move(d));
    }
    }
    return Value();
}

Value Evaluator::evalSlice(const Value& object, const Expr& slice, const std::shared_ptr<Scope>& scope)
{
    Value parts[3];
    for (std::size_t i = 0; i < 3; ++i)
        parts[i] = slice.operands[i] ? eval(*slice.operands[i], scope) : Value::none();
    return sliceValue(object, parts[0], parts[1], parts[2]);
}
bool Evaluator::compare(CompareOp op, const Value& left, const Value& right)
{
    switch (op) {
    case CompareOp::Eq:
        return valuesEqual(left, right);
    case CompareOp::Ne:
        return !valuesEqual(left, right);
    case CompareOp::Lt:
        return valueLess(left, right);
    case CompareOp::Gt:
        return valueLess(right, left);
    case CompareOp::Le:
        return valueLess(left, right) || valuesEqual(left, right);
    case CompareOp::Ge:
        return valueLess(right, left) || valuesEqual(left, right);
    case CompareOp::In:
        return applyTest("in", left, CallArgs { { right }, {} });
    case CompareOp::NotIn:
        return !applyTest("in", left, CallArgs { { right }, {} });
    }
    return false;
}

// ---- services ---------------------------------------------------------------------

Value Evaluator::getAttribute(const Value& object, const std::string& name)
{
    return jinja::getAttribute(object, name);
}

Value Evaluator::getItem(const Value& object, const Value& key)
{
    return jinja::getItem(object, key);
}
Value Evaluator::call(const Value& callee, const CallArgs& args)
{
    if (callee.isUndefined())
        undefinedError(callee);
    if (callee.isLoop()) {
        LoopState& loop = callee.loopState();
        if (!loop.recurse)
            throwTypeError("the loop must have the 'recursive' marker to be called recursively.");
        if (args.positional.size() != 1 || !args.keyword.empty())
            throwTypeError("loop() takes exactly one argument");
        return Value::string(loop.recurse(args.positional[0], loop.depth0 + 1));
    }
    if (!callee.isCallable())
        throwTypeError("'" + callee.typeName() + "' object is not callable");
    step();
    return callee.callable().call(*this, args);
}

Value Evaluator::applyFilter(std::string_view name, const Value& input, const CallArgs& args)
{
    return callFilter(*this, name, input, args);
}

bool Evaluator::applyTest(std::string_view name, const Value& input, const CallArgs& args)
{
    return callTest(*this, name, input, args);
}

std::vector<Value> Evaluator::iterate(const Value& value)
{
    return iterateValue(value);
}
} // namespace tunebench::jinja
