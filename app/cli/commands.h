#pragma once

#include <string>
#include <vector>

namespace tunebench::cli {

// One subcommand: "workspace init", "runs list", ... run() gets the arguments
// after the command words and returns the exit code; it throws UsageError for
// a wrong call and tunebench::Error for a failure, which main reports.
struct Command {
    std::vector<std::string> words;
    std::string summary;
    int (*run)(const std::vector<std::string>& args);
};

// Every command the CLI knows, in registration order.
std::vector<Command>& commandRegistry();

// Registers commands from a *_commands.cpp file at static-initialisation time:
//   static const CommandRegistration kRegistration{{ {{"runs", "list"}, "...", runsList}, ... }};
struct CommandRegistration {
    explicit CommandRegistration(std::vector<Command> commands)
    {
        for (auto& c : commands)
            commandRegistry().push_back(std::move(c));
    }
};

// "2026-11-21 09:30:05" in local time.
std::string formatTime(double secondsSinceEpoch);

// User text for a tab-separated listing: control characters (tabs included),
// bidirectional overrides and bytes that are not UTF-8 escaped, so a name keeps
// to its column and never drives the terminal.
std::string cell(const std::string& text);

// Whether standard output is a terminal (where raw generated text is escaped).
bool stdoutIsTerminal();

} // namespace tunebench::cli
