#pragma once

#include "core/util/error.h"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace tunebench::jinja {

// Line and column (1-based, in code points) inside the template text.
struct SourcePos {
    std::uint32_t line = 0;
    std::uint32_t column = 0;
};

enum class ErrorKind {
    Syntax, // the template does not parse (Jinja2's TemplateSyntaxError)
    Unsupported, // valid Jinja2 this interpreter does not implement
    Undefined, // an operation on an undefined value (UndefinedError)
    Type, // a Python TypeError/ValueError/ZeroDivisionError... while rendering
    Raised, // the template called raise_exception(message)
    Security, // the sandbox refused (a mutating method, a too large range)
    Limit, // a runaway template: output size, steps or nesting depth
};

// Every error the template engine reports. what() reads "ORIGIN:LINE:COLUMN: message";
// message() is the bare text (for raise_exception, exactly the template's message).
class TemplateError : public InputError {
public:
    TemplateError(ErrorKind kind, const std::string& origin, SourcePos pos, const std::string& message);

    ErrorKind kind() const { return m_kind; }
    SourcePos position() const { return m_pos; }
    const std::string& message() const { return m_message; }

private:
    ErrorKind m_kind;
    SourcePos m_pos;
    std::string m_message;
};

// Thrown below the evaluator where no position is known; the evaluator turns it into
// a TemplateError at the innermost template node being evaluated.
class RuntimeProblem : public std::runtime_error {
public:
    RuntimeProblem(ErrorKind kind, const std::string& message)
        : std::runtime_error(message)
        , m_kind(kind)
    { }
    ErrorKind kind() const { return m_kind; }

private:
    ErrorKind m_kind;
};

[[noreturn]] inline void throwTypeError(const std::string& message)
{
    throw RuntimeProblem(ErrorKind::Type, message);
}

[[noreturn]] inline void throwUnsupported(const std::string& message)
{
    throw RuntimeProblem(ErrorKind::Unsupported, message);
}

} // namespace tunebench::jinja
