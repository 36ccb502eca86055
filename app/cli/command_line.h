#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tunebench::cli {

// A mistake in how the command was called; main prints it with a pointer to --help
// and exits with code 2.
class UsageError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

struct OptionSpec {
    std::string name; // without the leading "--"
    std::string valueName; // empty for a flag
    std::string help;
    bool required = false;
    std::string envFallback; // environment variable used when the option is absent
};

struct PositionalSpec {
    std::string name;
    std::string help;
    bool optional = false; // only trailing positionals may be optional
};

// Parses "--name value", "--name=value", flags and positionals for one subcommand.
class CommandLine {
public:
    CommandLine(std::string usage, std::string summary, std::vector<PositionalSpec> positionals,
        std::vector<OptionSpec> options);

    // Returns false when --help was asked for (the caller prints help() and exits 0).
    // Throws UsageError on unknown options, missing values or arguments.
    bool parse(const std::vector<std::string>& args);

    std::string help() const;
    bool has(const std::string& name) const;
    std::optional<std::string> value(const std::string& name) const;
    std::string required(const std::string& name) const;
    const std::string& positional(std::size_t index) const { return m_positionals.at(index); }
    std::size_t positionalCount() const { return m_positionals.size(); }
    // A positional or option value that must be a whole number; names it in the error.
    std::int64_t integer(const std::string& what, const std::string& text) const;

private:
    const OptionSpec* find(const std::string& name) const;

    std::string m_usage;
    std::string m_summary;
    std::vector<PositionalSpec> m_positionalSpecs;
    std::vector<OptionSpec> m_optionSpecs;
    std::map<std::string, std::string> m_values;
    std::vector<std::string> m_positionals;
};

} // namespace tunebench::cli
