// `tunebench-cli report` renders with the desktop build's report code: reports
// draw their plots with the GUI's plot code (Qt, QCustomPlot), and
// tunebench-cli links no Qt, so it loads the renderer module
// (tunebench_report.so, ui/report/report_renderer_module.cpp) when a report is
// asked for and calls it in this process.

#include "command_line.h"
#include "commands.h"

#include "core/report/report_data.h"
#include "core/tunebench_config.h"
#include "core/util/error.h"
#include "core/version.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <vector>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

using RenderReport = int (*)(const char* workspace, const char* runs, const char* out, int force);

// TUNEBENCH_REPORT_RENDERER, else tunebench_report.so beside this executable (a build tree), in
// <libdir>/tunebench beside libtunebench-core (an install, wherever it went), or in the configured install folder.
std::vector<fs::path> rendererCandidates()
{
    if (const char* env = std::getenv("TUNEBENCH_REPORT_RENDERER"); env && *env)
        return { env };
    std::vector<fs::path> out;
    std::error_code ec;
    const fs::path self = fs::read_symlink("/proc/self/exe", ec);
    if (!ec)
        out.push_back(self.parent_path() / "tunebench_report.so");
    Dl_info info {}; // libtunebench-core, found through one of its functions
    if (dladdr(reinterpret_cast<const void*>(&tunebenchVersion), &info) && info.dli_fname)
        out.push_back(fs::path(info.dli_fname).parent_path() / "tunebench/tunebench_report.so");
    out.push_back(fs::path(TUNEBENCH_REPORT_RENDERER_INSTALL_DIR) / "tunebench_report.so");
    return out;
}

RenderReport loadRenderer()
{
    std::string searched;
    for (const fs::path& candidate : rendererCandidates()) {
        searched += (searched.empty() ? "" : ", ") + candidate.string();
        std::error_code ec;
        if (!fs::is_regular_file(candidate, ec))
            continue;
        // Kept loaded until the process ends: Qt does not survive being unloaded.
        void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* err = dlerror();
            throw Error("cannot load the report renderer " + candidate.string() + ": " + (err ? err : "unknown error"));
        }
        if (auto render = reinterpret_cast<RenderReport>(dlsym(handle, "tunebench_render_report")))
            return render;
        throw Error(candidate.string() + " is not Tunebench's report renderer (no tunebench_render_report())");
    }
    throw Error("reports are rendered by the desktop build's report renderer (tunebench_report.so), which is in "
                "none of: "
        + searched + "; build Tunebench with Qt (-DTUNEBENCH_WITH_QT=ON) or install the desktop package");
}

int reportCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli report --workspace DIR --runs ID[,ID...] --out FILE.html|FILE.pdf|FILE.md [--force]",
        "Writes a report on one run or a comparison of runs: configurations and the keys that differ,\n"
        "data lineage, environment, metric plots, final and best metrics, example samples.\n"
        "html: one self-contained file (plots embedded as PNG); pdf: a paged document; md: Markdown with\n"
        "the plots as PNG files in FILE_files/ beside it. The report is recorded as a 'report' artifact.\n"
        "Rendering needs the desktop build: this loads its report renderer, tunebench_report.so (beside\n"
        "tunebench-cli, in <libdir>/tunebench, or TUNEBENCH_REPORT_RENDERER). Prints one JSON object: out,\n"
        "format, runs, files.",
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

    const RenderReport render = loadRenderer();
    std::cout.flush();
    return render(cl.required("workspace").c_str(), runs.c_str(), out.string().c_str(), cl.has("force") ? 1 : 0);
}

const CommandRegistration kRegistration { {
    { { "report" }, "write an HTML, PDF or Markdown report on runs (needs the desktop build)", reportCommand },
} };

} // namespace

} // namespace tunebench::cli
