#include "command_line.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

namespace tunebench::cli {

CommandLine::CommandLine(
    std::string usage, std::string summary, std::vector<PositionalSpec> positionals, std::vector<OptionSpec> options)
    : m_usage(std::move(usage))
    , m_summary(std::move(summary))
    , m_positionalSpecs(std::move(positionals))
    , m_optionSpecs(std::move(options))
{ }

const OptionSpec* CommandLine::find(const std::string& name) const
{
    for (const auto& spec : m_optionSpecs) {
        if (spec.name == name)
            return &spec;
    }
    return nullptr;
}

bool CommandLine::parse(const std::vector<std::string>& args)
{
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& arg = args[i];
        if (arg == "--help" || arg == "-h")
            return false;
        if (arg.rfind("--", 0) == 0 && arg.size() > 2) {
            std::string name = arg.substr(2);
            std::optional<std::string> inlineValue;
            if (auto eq = name.find('='); eq != std::string::npos) {
                inlineValue = name.substr(eq + 1);
                name.resize(eq);
            }
            const OptionSpec* spec = find(name);
            if (!spec)
                throw UsageError("unknown option '--" + name + "'");
            if (spec->valueName.empty()) {
                if (inlineValue)
                    throw UsageError("option '--" + name + "' takes no value");
                m_values[name] = "1";
            } else if (inlineValue) {
                m_values[name] = *inlineValue;
            } else {
                if (i + 1 >= args.size())
                    throw UsageError("option '--" + name + "' needs a value (" + spec->valueName + ")");
                m_values[name] = args[++i];
            }
        } else {
            if (m_positionals.size() >= m_positionalSpecs.size())
                throw UsageError("unexpected argument '" + arg + "'");
            m_positionals.push_back(arg);
        }
    }
    if (m_positionals.size() < m_positionalSpecs.size() && !m_positionalSpecs[m_positionals.size()].optional)
        throw UsageError("missing argument " + m_positionalSpecs[m_positionals.size()].name);
    for (const auto& spec : m_optionSpecs) {
        if (m_values.count(spec.name))
            continue;
        if (!spec.envFallback.empty()) {
            if (const char* env = std::getenv(spec.envFallback.c_str()); env && *env) {
                m_values[spec.name] = env;
                continue;
            }
        }
        if (spec.required)
            throw UsageError("missing option --" + spec.name + " " + spec.valueName);
    }
    return true;
}

std::string CommandLine::help() const
{
    std::ostringstream out;
    out << "Usage: " << m_usage << "\n\n" << m_summary << "\n";
    if (!m_positionalSpecs.empty()) {
        out << "\nArguments:\n";
        for (const auto& p : m_positionalSpecs)
            out << "  " << p.name << std::string(p.name.size() < 22 ? 22 - p.name.size() : 1, ' ') << p.help << "\n";
    }
    out << "\nOptions:\n";
    for (const auto& o : m_optionSpecs) {
        std::string left = "--" + o.name + (o.valueName.empty() ? "" : " " + o.valueName);
        out << "  " << left << std::string(left.size() < 22 ? 22 - left.size() : 1, ' ') << o.help;
        if (!o.envFallback.empty())
            out << " (default: $" << o.envFallback << ")";
        out << "\n";
    }
    out << "  --help                Show this help\n";
    return out.str();
}

bool CommandLine::has(const std::string& name) const
{
    return m_values.count(name) > 0;
}

std::optional<std::string> CommandLine::value(const std::string& name) const
{
    auto it = m_values.find(name);
    if (it == m_values.end())
        return std::nullopt;
    return it->second;
}

std::string CommandLine::required(const std::string& name) const
{
    auto v = value(name);
    if (!v)
        throw UsageError("missing option --" + name);
    return *v;
}

std::int64_t CommandLine::integer(const std::string& what, const std::string& text) const
{
    std::int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        throw UsageError(what + " must be a whole number, got '" + text + "'");
    return v;
}

} // namespace tunebench::cli
