#pragma once

#include "core/template/ast.h"
#include "core/template/evaluator.h"
#include "core/template/lexer.h"
#include "core/template/value.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tunebench::jinja {

using Variables = std::vector<std::pair<std::string, Value>>;

// A Jinja2 template (the subset chat templates use), parsed once and rendered any
// number of times; const and safe to render from several threads at once.
class Template {
public:
    // Parses source; origin names it in errors ("tokenizer_config.json chat_template").
    // Throws TemplateError (Syntax, Unsupported or Limit) with origin:line:column.
    static Template parse(std::string_view source, std::string origin, const LexerOptions& options = {});

    // Renders with Jinja2's default globals (range, dict, namespace, joiner) and then
    // `variables` in scope, later entries shadowing earlier ones. Throws TemplateError.
    std::string render(const Variables& variables, const RenderLimits& limits = {}) const;

    const std::string& origin() const { return m_origin; }

private:
    Template(std::string origin, std::shared_ptr<const StmtList> body);

    std::string m_origin;
    std::shared_ptr<const StmtList> m_body;
};

} // namespace tunebench::jinja
