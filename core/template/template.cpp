#include "core/template/template.h"

#include "core/template/globals.h"
#include "core/template/parser.h"

namespace tunebench::jinja {

Template::Template(std::string origin, std::shared_ptr<const StmtList> body)
    : m_origin(std::move(origin))
    , m_body(std::move(body))
{ }

Template Template::parse(std::string_view source, std::string origin, const LexerOptions& options)
{
    const LexedTemplate lexed = tokenize(source, origin, options);
    auto body = std::make_shared<const StmtList>(parseTemplate(lexed, origin));
    return Template(std::move(origin), std::move(body));
}

std::string Template::render(const Variables& variables, const RenderLimits& limits) const
{
    auto globals = std::make_shared<Scope>();
    addJinjaGlobals(*globals);
    auto root = std::make_shared<Scope>(globals);
    for (const auto& [name, value] : variables)
        root->set(name, value);
    Evaluator evaluator(m_origin, limits);
    return evaluator.render(*m_body, root);
}

} // namespace tunebench::jinja
