#include "core/template/template_error.h"

namespace tunebench::jinja {

namespace {

std::string located(const std::string& origin, SourcePos pos, const std::string& message)
{
    if (pos.line == 0)
        return origin + ": " + message;
    return origin + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column) + ": " + message;
}

} // namespace

TemplateError::TemplateError(ErrorKind kind, const std::string& origin, SourcePos pos, const std::string& message)
    : InputError(located(origin, pos, message))
    , m_kind(kind)
    , m_pos(pos)
    , m_message(message)
{ }

} // namespace tunebench::jinja
