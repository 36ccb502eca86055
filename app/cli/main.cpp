// tunebench-cli: the headless front end. Wiring only: parse the command words,
// hand the rest to the command, report errors on stderr with an exit code.

#include "command_line.h"
#include "commands.h"

#include "core/device_memory.h"
#include "core/runtime.h"
#include "core/util/display_text.h"
#include "core/util/error.h"
#include "core/version.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <iostream>
#include <ostream>
#include <unistd.h>

namespace tunebench::cli {

std::string formatTime(double secondsSinceEpoch)
{
    std::time_t t = static_cast<std::time_t>(secondsSinceEpoch);
    std::tm tm {};
    localtime_r(&t, &tm);
    char buffer[32];
    std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
    return buffer;
}

std::string cell(const std::string& text)
{
    std::string out = escapeControls(text);
    // escapeControls keeps tabs (they are harmless in prose); in a column they are not.
    std::string::size_type at = 0;
    while ((at = out.find('\t', at)) != std::string::npos) {
        out.replace(at, 1, "\\t");
        at += 2;
    }
    return out;
}

bool stdoutIsTerminal()
{
    return ::isatty(STDOUT_FILENO) == 1;
}

std::vector<Command>& commandRegistry()
{
    static std::vector<Command> registry;
    return registry;
}

namespace {

std::string joinWords(const Command& c)
{
    std::string out;
    for (const auto& w : c.words)
        out += (out.empty() ? "" : " ") + w;
    return out;
}

void printHelp(const std::vector<Command>& commands)
{
    std::cout << "Usage: tunebench-cli COMMAND [ARGS...]\n\n"
                 "Tunebench's headless engine: workspaces, runs and their data.\n\n"
                 "Commands:\n";
    for (const Command& c : commands) {
        const std::string words = joinWords(c);
        std::cout << "  " << words << std::string(words.size() < 22 ? 22 - words.size() : 1, ' ') << c.summary << "\n";
    }
    std::cout << "\nOptions:\n"
                 "  --version             Print the Tunebench, LibTorch and SQLite versions\n"
                 "  --help                Show this help; 'tunebench-cli COMMAND --help' for a command's\n";
}

void printGroupHelp(std::ostream& out, const std::string& group, const std::vector<Command>& commands)
{
    out << "Usage: tunebench-cli " << group << " COMMAND [ARGS...]\n\nCommands:\n";
    for (const Command& c : commands) {
        const std::string words = joinWords(c);
        out << "  " << words << std::string(words.size() < 22 ? 22 - words.size() : 1, ' ') << c.summary << "\n";
    }
    out << "\n'tunebench-cli " << group << " COMMAND --help' for a command's options.\n";
}

} // namespace

int runCli(int argc, char** argv)
{
    std::vector<std::string> args(argv + 1, argv + argc);
    // Registration order follows link order; list and match in name order.
    std::vector<Command> commands = commandRegistry();
    std::stable_sort(
        commands.begin(), commands.end(), [](const Command& a, const Command& b) { return a.words < b.words; });

    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        printHelp(commands);
        return args.empty() ? 2 : 0;
    }
    if (args[0] == "--version") {
        std::cout << "Tunebench " << tunebenchVersion() << "\n"
                  << "LibTorch " << torchVersion()
                  << (builtWithCuda() ? (cudaAvailable() ? ", a GPU is visible" : ", no GPU visible") : "") << "\n"
                  << "SQLite " << sqliteVersion() << "\n";
        return 0;
    }

    const Command* match = nullptr;
    for (const Command& c : commands) {
        if (args.size() >= c.words.size() && std::equal(c.words.begin(), c.words.end(), args.begin()))
            match = &c;
    }
    if (!match) {
        std::vector<Command> group;
        for (const Command& c : commands) {
            if (c.words.size() > 1 && c.words[0] == args[0])
                group.push_back(c);
        }
        const bool helpAsked = args.size() == 2 && (args[1] == "--help" || args[1] == "-h" || args[1] == "help");
        if (!group.empty() && helpAsked) {
            printGroupHelp(std::cout, args[0], group);
            return 0;
        }
        if (!group.empty()) {
            // A known group without a known verb gets the group's verbs listed.
            std::cerr << "tunebench-cli: "
                      << escapeControls(args.size() > 1 ? "unknown command '" + args[0] + " " + args[1] + "'"
                                                        : "'" + args[0] + "' needs a command")
                      << ".\n\n";
            printGroupHelp(std::cerr, args[0], group);
            return 2;
        }
        std::cerr << "tunebench-cli: unknown command '"
                  << escapeControls(args[0] + (args.size() > 1 ? " " + args[1] : "")) << "'. Commands:\n";
        for (const Command& c : commands)
            std::cerr << "  " << joinWords(c) << "\n";
        return 2;
    }
    std::vector<std::string> rest(args.begin() + static_cast<std::ptrdiff_t>(match->words.size()), args.end());
    const std::string name = joinWords(*match);
    try {
        configureThreads();
        return match->run(rest);
    } catch (const UsageError& e) {
        // Messages quote names, records and files: their control characters are escaped.
        std::cerr << "tunebench-cli " << name << ": " << escapeControls(e.what(), true) << "\n"
                  << "Run 'tunebench-cli " << name << " --help' for usage.\n";
        return 2;
    } catch (const Error& e) {
        std::cerr << "tunebench-cli " << name << ": " << escapeControls(e.what(), true) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "tunebench-cli " << name << ": unexpected error: " << escapeControls(e.what(), true) << "\n";
        return 1;
    }
}

} // namespace tunebench::cli

int main(int argc, char** argv)
{
    return tunebench::cli::runCli(argc, argv);
}
