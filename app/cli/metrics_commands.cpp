#include "command_line.h"
#include "commands.h"

#include "core/report/metrics_export.h"
#include "core/report/report_data.h"
#include "core/store/artifacts.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <iostream>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

// Written beside the target and renamed over it, so a reader never sees half a file.
void writeFileAtomically(const fs::path& path, const std::string& text)
{
    const fs::path temp = path.string() + ".part";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        out << text;
        out.close();
        if (!out)
            throw Error("cannot write " + temp.string());
    }
    std::error_code ec;
    fs::rename(temp, path, ec);
    if (ec) {
        fs::remove(temp, ec);
        throw Error("cannot write " + path.string() + ": " + ec.message());
    }
}

// The path relative to the workspace where it lies inside it (as artifacts are recorded), else absolute.
std::string artifactPath(const Workspace& ws, const fs::path& path)
{
    const fs::path absolute = fs::weakly_canonical(fs::absolute(path));
    const fs::path root = fs::weakly_canonical(ws.root());
    const fs::path relative = absolute.lexically_relative(root);
    if (!relative.empty() && *relative.begin() != "..")
        return relative.string();
    return absolute.string();
}

int metricsCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli metrics --workspace DIR --run ID[,ID...] --format csv|json [--metric NAME[,NAME...]] "
                   "[--out FILE] [--force]",
        "Exports the recorded metrics of one or more runs, one row per value: run, run_name, metric, step,\n"
        "value, time (seconds since the epoch) and elapsed_s (seconds since the run's first value).\n"
        "csv: RFC 4180 with a header line; json: an array of objects with the same keys (NaN as null).\n"
        "Without --out the table goes to stdout; with it the file is written (recorded as a 'metrics'\n"
        "artifact) and one JSON object is printed: out, format, runs, rows.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "run", "ID[,ID...]", "the runs, separated by commas", true }, { "format", "NAME", "csv or json", true },
            { "metric", "NAME[,NAME...]", "only these metrics (default: all)" },
            { "out", "FILE", "write to FILE instead of stdout" }, { "force", "", "replace an existing --out file" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::string format = cl.required("format");
    if (format != "csv" && format != "json")
        throw UsageError("--format: expected csv or json, got '" + format + "'");
    std::vector<std::int64_t> runIds;
    try {
        runIds = parseRunIds(cl.required("run"), "--run");
    } catch (const InputError& e) {
        throw UsageError(e.what());
    }
    std::vector<std::string> metrics;
    if (auto m = cl.value("metric")) {
        std::size_t begin = 0;
        while (begin <= m->size()) {
            const std::size_t end = std::min(m->find(',', begin), m->size());
            if (end > begin)
                metrics.push_back(m->substr(begin, end - begin));
            begin = end + 1;
        }
        if (metrics.empty())
            throw UsageError("--metric: expected metric names separated by commas");
    }
    const std::optional<std::string> out = cl.value("out");
    if (out && fs::exists(*out) && !cl.has("force"))
        throw InputError(*out + ": exists; use --force to replace it");

    Workspace ws = Workspace::open(cl.required("workspace"));
    const std::vector<MetricRow> rows = collectMetricRows(ws.db(), runIds, metrics);
    const std::string text = format == "csv" ? metricsToCsv(rows) : metricsToJson(rows);
    if (!out) {
        std::cout << text;
        return 0;
    }
    writeFileAtomically(*out, text);
    ArtifactRecord artifact;
    if (runIds.size() == 1)
        artifact.runId = runIds.front();
    artifact.kind = "metrics";
    artifact.path = artifactPath(ws, *out);
    artifact.metaJson = nlohmann::json({ { "format", format }, { "runs", runIds }, { "rows", rows.size() } }).dump();
    ArtifactStore(ws.db()).add(artifact);
    std::cout << nlohmann::json(
        { { "out", fs::absolute(*out).string() }, { "format", format }, { "runs", runIds }, { "rows", rows.size() } })
                     .dump()
              << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "metrics" }, "export the metrics of runs as CSV or JSON", metricsCommand },
} };

} // namespace

} // namespace tunebench::cli
