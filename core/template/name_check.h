#pragma once

#include "core/template/ast.h"

#include <string>

namespace tunebench::jinja {

// What Jinja2 checks when it compiles a template: filter and test names must exist,
// except inside an `if` statement or an inline if-expression ("soft" frames, which new
// scopes such as loop bodies and macros end), where an unknown name fails only if it
// runs. Jinja2 filters this interpreter lacks are refused everywhere (Unsupported).
// Throws TemplateError naming origin:line:column.
void checkFilterAndTestNames(const StmtList& body, const std::string& origin);

} // namespace tunebench::jinja
