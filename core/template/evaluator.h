#pragma once

#include "core/template/ast.h"
#include "core/template/callable.h"
#include "core/template/value.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tunebench::jinja {

// Bounds that turn a runaway template into a TemplateError (ErrorKind::Limit)
// instead of exhausting memory, time or the stack.
struct RenderLimits {
    std::size_t maxOutputBytes = std::size_t(64) << 20; // output, and any one string or list built
    std::uint64_t maxSteps = 20'000'000; // statements, loop iterations, calls, items filtered
    int maxCallDepth = 100; // nested macro calls and recursive loops
};

// Variables visible to a part of the template. Child scopes (a loop iteration, a
// macro call, a block) see their parents' variables; assignments stay local.
class Scope : public std::enable_shared_from_this<Scope> {
public:
    explicit Scope(std::shared_ptr<const Scope> parent = nullptr)
        : m_parent(std::move(parent))
    { }
    const Value* find(std::string_view name) const;
    void set(const std::string& name, Value value);

private:
    std::shared_ptr<const Scope> m_parent;
    std::vector<std::pair<std::string, Value>> m_vars;
};

// Runs a parsed template: statements, expressions with Python's semantics, macros,
// loops. One Evaluator renders once, on one thread. Errors come out as TemplateError
// with the template position of the innermost node involved.
class Evaluator {
public:
    Evaluator(std::string origin, RenderLimits limits);
    // Clears the namespaces the render made, breaking any cycle through them (a
    // namespace holding itself), so that everything the render made is freed.
    ~Evaluator();
    Evaluator(const Evaluator&) = delete;
    Evaluator& operator=(const Evaluator&) = delete;

    // Renders body with `root` as the template's top-level scope (globals and
    // variables already in it). Throws TemplateError.
    std::string render(const StmtList& body, const std::shared_ptr<Scope>& root);

    // Services for filters, tests, methods and builtins (they throw RuntimeProblem).
    // Python's getattr as Jinja2's sandbox does it: attribute first, then item.
    Value getAttribute(const Value& object, const std::string& name);
    // Python's obj[key] as Jinja2's sandbox does it: item first, then attribute.
    Value getItem(const Value& object, const Value& key);
    Value call(const Value& callee, const CallArgs& args);
    Value applyFilter(std::string_view name, const Value& input, const CallArgs& args);
    bool applyTest(std::string_view name, const Value& input, const CallArgs& args);
    // Python's list(iter(value)): string characters, dict keys, a generator's
    // remaining items (consuming them); TypeError for what is not iterable.
    std::vector<Value> iterate(const Value& value);
    // Counts work against RenderLimits::maxSteps.
    void step(std::uint64_t n = 1);
    // Refuses a string or list longer than RenderLimits::maxOutputBytes.
    void checkSize(std::size_t size, const char* what) const;
    // A namespace() made during this render, cleared when the render ends.
    void adopt(const std::shared_ptr<NamespaceData>& ns) { m_namespaces.push_back(ns); }
    const RenderLimits& limits() const { return m_limits; }

    // A macro or caller block called from a template (used by MacroCallable).
    Value invokeMacro(const Stmt& definition, const std::string& name, const Scope& closure, const CallArgs& args);

private:
    enum class Flow { Normal, Break, Continue };

    Flow exec(const StmtList& body, const std::shared_ptr<Scope>& scope);
    Flow execStmt(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
    Flow execFor(const Stmt& stmt, const std::shared_ptr<Scope>& scope);
    std::string renderLoop(
        const Stmt& stmt, const std::shared_ptr<Scope>& scope, const Value& iterable, std::size_t depth0);
    std::string capture(const StmtList& body, const std::shared_ptr<Scope>& scope);
    void assign(const Target& target, const Value& value, Scope& scope);
    void emit(std::string_view text);

    Value eval(const Expr& expr, const std::shared_ptr<Scope>& scope);
    Value evalNode(const Expr& expr, const std::shared_ptr<Scope>& scope);
    CallArgs evalArgs(const Expr& expr, const std::shared_ptr<Scope>& scope, std::size_t firstArg);
    Value evalFilter(const Expr& expr, const std::shared_ptr<Scope>& scope, const Value* blockInput);
    Value evalSlice(const Value& object, const Expr& slice, const std::shared_ptr<Scope>& scope);
    bool compare(CompareOp op, const Value& left, const Value& right);

    [[noreturn]] void fail(ErrorKind kind, SourcePos pos, const std::string& message) const;

    std::string m_origin;
    RenderLimits m_limits;
    // Scopes that macros and recursive loops refer to (by plain pointer, so that a
    // macro stored in its own scope is no cycle) live until the render ends.
    std::vector<std::shared_ptr<const Scope>> m_keepAlive;
    std::vector<std::shared_ptr<NamespaceData>> m_namespaces;
    std::string* m_out = nullptr;
    std::uint64_t m_steps = 0;
    int m_callDepth = 0;
};

} // namespace tunebench::jinja
