// `tunebench-cli report` renders through the desktop executable: reports draw
// their plots with the GUI's plot code (Qt, QCustomPlot), and tunebench-cli
// links no Qt. It runs `tunebench --report ...` (beside this executable, then
// on PATH) and passes on its messages and exit code.

#include "command_line.h"
#include "commands.h"

#include "core/report/report_data.h"
#include "core/util/error.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>

extern char** environ;

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

bool isExecutable(const fs::path& path)
{
    std::error_code ec;
    return fs::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

// TUNEBENCH_GUI_EXECUTABLE, else `tunebench` beside this executable, else on PATH.
std::optional<fs::path> findRenderer(std::string* searched)
{
    if (const char* env = std::getenv("TUNEBENCH_GUI_EXECUTABLE"); env && *env) {
        *searched = std::string(env) + " (TUNEBENCH_GUI_EXECUTABLE)";
        return isExecutable(env) ? std::optional<fs::path>(env) : std::nullopt;
    }
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        const fs::path beside = self.parent_path() / "tunebench";
        *searched = beside.parent_path().string();
        if (isExecutable(beside))
            return beside;
    }
    if (const char* path = std::getenv("PATH")) {
        std::string dirs = path;
        std::size_t begin = 0;
        while (begin <= dirs.size()) {
            const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
            const fs::path candidate = fs::path(dirs.substr(begin, end - begin)) / "tunebench";
            if (end > begin && isExecutable(candidate))
                return candidate;
            begin = end + 1;
        }
    }
    *searched += " or PATH";
    return std::nullopt;
}

int reportCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli report --workspace DIR --runs ID[,ID...] --out FILE.html|FILE.pdf|FILE.md [--force]",
        "Writes a report on one run or a comparison of runs: configurations and the keys that differ,\n"
        "data lineage, environment, metric plots, final and best metrics, example samples.\n"
        "html: one self-contained file (plots embedded as PNG); pdf: a paged document; md: Markdown with\n"
        "the plots as PNG files in FILE_files/ beside it. The report is recorded as a 'report' artifact.\n"
        "Rendering needs the desktop build: this runs `tunebench --report` found beside tunebench-cli or\n"
        "on PATH (or TUNEBENCH_GUI_EXECUTABLE). Prints one JSON object: out, format, runs, files.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "runs", "ID[,ID...]", "the runs, separated by commas", true },
            { "out", "FILE", "the report file; its suffix (.html, .pdf, .md) picks the format", true },
            { "force", "", "replace an existing report" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::string runs = cl.required("runs");
    try {
        parseRunIds(runs, "--runs");
    } catch (const InputError& e) {
        throw UsageError(e.what());
    }
    const fs::path out = cl.required("out");
    const std::string suffix = out.extension().string();
    if (suffix != ".html" && suffix != ".pdf" && suffix != ".md")
        throw UsageError("--out: expected a file ending in .html, .pdf or .md, got '" + out.string() + "'");

    std::string searched;
    const auto renderer = findRenderer(&searched);
    if (!renderer)
        throw Error("reports are rendered by the desktop build's `tunebench` executable, which is not in " + searched
            + "; build Tunebench with Qt (-DTUNEBENCH_WITH_QT=ON) or install the desktop package");

    std::vector<std::string> argv = { renderer->string(), "--report", "--workspace", cl.required("workspace"), "--runs",
        runs, "--out", out.string() };
    if (cl.has("force"))
        argv.push_back("--force");
    std::vector<char*> cargs;
    for (std::string& a : argv)
        cargs.push_back(a.data());
    cargs.push_back(nullptr);
    std::cout.flush();
    pid_t pid = 0;
    const int spawned = posix_spawn(&pid, cargs[0], nullptr, nullptr, cargs.data(), environ);
    if (spawned != 0)
        throw Error("cannot start " + renderer->string() + ": " + std::strerror(spawned));
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR)
            throw Error("lost the report renderer " + renderer->string() + ": " + std::strerror(errno));
    }
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    throw Error(
        "the report renderer " + renderer->string() + " was killed by signal " + std::to_string(WTERMSIG(status)));
}

const CommandRegistration kRegistration { {
    { { "report" }, "write an HTML, PDF or Markdown report on runs (needs the desktop build)", reportCommand },
} };

} // namespace

} // namespace tunebench::cli
