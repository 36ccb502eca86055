#include "command_line.h"
#include "commands.h"

#include "core/data/dataset_import.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <iostream>

namespace tunebench::cli {

namespace {

const OptionSpec kWorkspaceOption { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" };

// "prompt=question,chosen=good" -> {{"prompt","question"},{"chosen","good"}}
ColumnMapping parseMapping(const std::string& text)
{
    ColumnMapping mapping;
    std::size_t start = 0;
    while (start <= text.size()) {
        std::size_t end = text.find(',', start);
        if (end == std::string::npos)
            end = text.size();
        const std::string item = text.substr(start, end - start);
        const std::size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == item.size())
            throw UsageError("--map: expected FIELD=COLUMN pairs separated by commas, got '" + item + "'");
        mapping[item.substr(0, eq)] = item.substr(eq + 1);
        start = end + 1;
    }
    return mapping;
}

int datasetImport(const std::vector<std::string>& args)
{
    CommandLine cl(
        "tunebench-cli dataset import FILE --workspace DIR [--format NAME] [--map FIELD=COLUMN,...] [--skip-invalid]",
        "Imports JSONL, JSON (an array), CSV/TSV or plain text (one record a line) into the workspace.\n"
        "Every record is validated; a file with bad records is refused as a whole unless --skip-invalid.\n"
        "Prints one JSON object: id, format, records, skipped, content_hash and errors (line, field,\n"
        "message). Exit code 1 when nothing was imported.",
        { { "FILE", "the file to import" } },
        { kWorkspaceOption,
            { "format", "NAME", "text, instruction, chat, preference or unpaired_preference (default: detected)" },
            { "map", "FIELD=COLUMN,...", "take a canonical field from another column, e.g. prompt=question" },
            { "name", "NAME", "dataset name (default: the file name)" },
            { "skip-invalid", "", "import the valid records and list the invalid ones" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    ImportOptions options;
    if (auto f = cl.value("format")) {
        try {
            options.format = datasetFormatFromString(*f);
        } catch (const InputError& e) {
            throw UsageError(std::string("--format: ") + e.what());
        }
    }
    if (auto m = cl.value("map"))
        options.mapping = parseMapping(*m);
    options.name = cl.value("name").value_or("");
    options.skipInvalid = cl.has("skip-invalid");
    Workspace ws = Workspace::open(cl.required("workspace"));
    const std::string file = cl.positional(0);
    ImportResult r = importDataset(ws, file, options);

    nlohmann::json out = { { "file", file }, { "imported", r.imported }, { "format", toString(r.format) },
        { "records", r.records }, { "skipped", r.imported ? r.invalid : 0 }, { "invalid", r.invalid } };
    out["id"] = r.id ? nlohmann::json(*r.id) : nlohmann::json(nullptr);
    if (r.imported)
        out["content_hash"] = r.contentHash;
    nlohmann::json errors = nlohmann::json::array();
    for (const RecordError& e : r.errors)
        errors.push_back({ { "line", e.line }, { "field", e.field }, { "message", e.message } });
    out["errors"] = errors;
    std::cout << out.dump() << "\n";
    if (!r.imported) {
        std::cerr << "tunebench-cli dataset import: " << file << ": nothing imported: ";
        if (r.invalid > 0)
            std::cerr << r.invalid << " invalid record(s), e.g. line " << r.errors.front().line
                      << (r.errors.front().field.empty() ? "" : " field '" + r.errors.front().field + "'") << ": "
                      << r.errors.front().message << " (use --skip-invalid to import the rest)\n";
        else if (!r.errors.empty())
            std::cerr << r.errors.front().message << "\n";
        else
            std::cerr << "cancelled\n";
        return 1;
    }
    return 0;
}

int datasetList(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli dataset list --workspace DIR",
        "Lists the workspace's datasets, one a line: id, format, records, name, parent id and\n"
        "the operation that made it.",
        {}, { kWorkspaceOption });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    for (const DatasetRecord& d : DatasetStore(ws.db()).list()) {
        std::cout << d.id << '\t' << d.format << '\t' << d.records << '\t' << d.name << '\t'
                  << (d.parentId ? std::to_string(*d.parentId) : "-") << '\t' << d.operation << '\n';
    }
    return 0;
}

const CommandRegistration kRegistration { {
    { { "dataset", "import" }, "import and validate a dataset file", datasetImport },
    { { "dataset", "list" }, "list the datasets of a workspace", datasetList },
} };

} // namespace

} // namespace tunebench::cli
