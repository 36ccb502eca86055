#include "core/template/name_check.h"

#include "core/template/filters.h"
#include "core/template/predicates.h"
#include "core/template/template_error.h"

namespace tunebench::jinja {

namespace {

class NameCheck {
public:
    explicit NameCheck(const std::string& origin)
        : m_origin(origin)
    { }

    void body(const StmtList& statements, bool soft)
    {
        for (const auto& s : statements)
            statement(*s, soft);
    }

private:
    void statement(const Stmt& s, bool soft)
    {
        switch (s.kind) {
        case StmtKind::If:
            for (const auto& [condition, branch] : s.branches) {
                expr(condition.get(), true);
                body(branch, true);
            }
            body(s.elseBody, true);
            return;
        case StmtKind::For:
            expr(s.expr.get(), soft);
            expr(s.condition.get(), false);
            body(s.body, false);
            body(s.elseBody, false);
            return;
        case StmtKind::With:
            for (const auto& v : s.values)
                expr(v.get(), soft);
            body(s.body, false);
            return;
        case StmtKind::CallBlock:
            expr(s.expr.get(), soft);
            for (const auto& p : s.params)
                expr(p.defaultValue.get(), false);
            body(s.body, false);
            return;
        case StmtKind::Macro:
            for (const auto& p : s.params)
                expr(p.defaultValue.get(), false);
            body(s.body, false);
            return;
        case StmtKind::SetBlock:
        case StmtKind::FilterBlock:
            expr(s.filter.get(), false);
            body(s.body, false);
            return;
        default:
            expr(s.expr.get(), soft);
            return;
        }
    }

    void expr(const Expr* e, bool soft)
    {
        if (!e)
            return;
        if (e->kind == ExprKind::Condition)
            soft = true;
        if (e->kind == ExprKind::Filter || e->kind == ExprKind::Test) {
            const bool isFilter = e->kind == ExprKind::Filter;
            const Support support = isFilter ? filterSupport(e->name) : testSupport(e->name);
            const std::string what = isFilter ? "filter" : "test";
            if (support == Support::NotImplemented)
                throw TemplateError(
                    ErrorKind::Unsupported, m_origin, e->pos, "the " + what + " '" + e->name + "' is not supported");
            if (support == Support::Unknown && !soft)
                throw TemplateError(ErrorKind::Syntax, m_origin, e->pos, "no " + what + " named '" + e->name + "'");
        }
        for (const auto& o : e->operands)
            expr(o.get(), soft);
        for (const auto& [k, v] : e->keywords)
            expr(v.get(), soft);
    }

    const std::string& m_origin;
};

} // namespace

void checkFilterAndTestNames(const StmtList& body, const std::string& origin)
{
    NameCheck(origin).body(body, false);
}

} // namespace tunebench::jinja
