#include "command_line.h"
#include "commands.h"

#include "core/data/dataset_import.h"
#include "core/data/dataset_select.h"
#include "core/data/dataset_stats.h"
#include "core/data/model_selection.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/display_text.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <limits>

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
    ws.requireWritable("import a dataset");
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
        std::cerr << "tunebench-cli dataset import: " << escapeControls(file) << ": nothing imported: ";
        if (r.invalid > 0)
            std::cerr << r.invalid << " invalid record(s), e.g. line " << r.errors.front().line
                      << (r.errors.front().field.empty() ? ""
                                                         : " field '" + escapeControls(r.errors.front().field) + "'")
                      << ": " << escapeControls(r.errors.front().message)
                      << " (use --skip-invalid to import the rest)\n";
        else if (!r.errors.empty())
            std::cerr << escapeControls(r.errors.front().message) << "\n";
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
        // Names are the user's: escaped so they keep to their column and never drive the terminal.
        std::cout << d.id << '\t' << cell(d.format) << '\t' << d.records << '\t' << cell(d.name) << '\t'
                  << (d.parentId ? std::to_string(*d.parentId) : "-") << '\t' << cell(d.operation) << '\n';
    }
    return 0;
}

double realValue(const std::string& option, const std::string& text)
{
    double value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size())
        throw UsageError("--" + option + ": expected a number, got '" + text + "'");
    return value;
}

nlohmann::json datasetJson(const DatasetRecord& d)
{
    nlohmann::json params = nlohmann::json::parse(d.paramsJson, nullptr, false);
    if (params.is_discarded())
        params = nlohmann::json::object();
    return { { "id", d.id }, { "name", d.name }, { "format", d.format }, { "records", d.records },
        { "content_hash", d.contentHash }, { "parent", d.parentId ? nlohmann::json(*d.parentId) : nlohmann::json() },
        { "operation", d.operation }, { "params", params } };
}

int datasetStats(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli dataset stats ID --tokenizer DIR --workspace DIR [--cutoff-len N] [--bins N]",
        "Token statistics of a dataset under a tokenizer (a model or tokenizer folder): prompt and\n"
        "response lengths (min, max, mean, median, p95, histogram), the share of records longer than\n"
        "cutoff_len, duplicates. Prints one JSON object.",
        { { "ID", "the dataset id" } },
        { kWorkspaceOption, { "tokenizer", "DIR", "a folder with tokenizer.json", true },
            { "cutoff-len", "N", "the training cutoff length (default 1024)" },
            { "bins", "N", "histogram bins (default 20)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    const LoadedDataset d = loadDataset(ws, cl.integer("ID", cl.positional(0)));
    const Tokenizer tokenizer = Tokenizer::fromFolder(cl.required("tokenizer"));
    const std::int64_t cutoff = cl.value("cutoff-len") ? cl.integer("--cutoff-len", *cl.value("cutoff-len")) : 1024;
    const int bins = cl.value("bins") ? static_cast<int>(cl.integer("--bins", *cl.value("bins"))) : 20;
    if (cutoff < 1 || bins < 1)
        throw UsageError("--cutoff-len and --bins must be at least 1");
    nlohmann::json out = computeDatasetStats(d.records, d.format, tokenizer, cutoff).toJson(bins);
    out["id"] = d.id;
    out["format"] = toString(d.format);
    std::cout << out.dump() << "\n";
    return 0;
}

int datasetSelect(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli dataset select ID --method NAME --workspace DIR [params]",
        "Writes a derived dataset (lineage: parent, method, parameters) and prints its JSON.\n"
        "Methods and their parameters:\n"
        "  random       --count N | --fraction F, --seed S: a uniform sample (the baseline)\n"
        "  length       --min N, --max N [--tokenizer DIR]: prompt + response length in tokens\n"
        "               (words without a tokenizer)\n"
        "  dedup        exact duplicates removed (the first is kept)\n"
        "  minhash      --threshold J (0.8), --permutations P (128), --bands B (32), --shingle W (3),\n"
        "               --seed S: near-duplicates removed (estimated Jaccard of word shingles)\n"
        "  kmeans       --model DIR, --clusters K (8), --count N | --fraction F, --seed S,\n"
        "               --max-tokens T (256): round-robin over k-means clusters of embeddings\n"
        "  learnability --model DIR, --count N | --fraction F, --steps N (10), --lr X (1e-4),\n"
        "               --batch-size N (4), --cutoff-len N (512), --seed S: the records whose loss\n"
        "               drops most in a short tune (loss before minus loss after)",
        { { "ID", "the parent dataset id" } },
        { kWorkspaceOption, { "method", "NAME", "random, length, dedup, minhash, kmeans or learnability", true },
            { "name", "NAME", "name of the new dataset (default: parent name + method)" },
            { "count", "N", "records to keep" }, { "fraction", "F", "share of records to keep" },
            { "seed", "S", "random seed (default 1)" }, { "min", "N", "shortest length kept (default 0)" },
            { "max", "N", "longest length kept" }, { "tokenizer", "DIR", "tokenizer folder for lengths" },
            { "threshold", "J", "Jaccard similarity from which records are near-duplicates" },
            { "permutations", "P", "MinHash functions" }, { "bands", "B", "LSH bands (divides P)" },
            { "shingle", "W", "words per shingle" }, { "model", "DIR", "model folder" },
            { "clusters", "K", "k-means clusters" }, { "max-tokens", "T", "tokens embedded per record" },
            { "steps", "N", "optimiser steps of the short tune" }, { "lr", "X", "learning rate of the short tune" },
            { "batch-size", "N", "records per step of the short tune" },
            { "cutoff-len", "N", "longest sequence of the short tune" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    // The options become the method's parameters (dashes as underscores).
    nlohmann::json params = nlohmann::json::object();
    for (const char* name : { "count", "seed", "min", "max", "permutations", "bands", "shingle", "clusters",
             "max-tokens", "steps", "batch-size", "cutoff-len" }) {
        if (auto v = cl.value(name)) {
            std::string key = name;
            std::replace(key.begin(), key.end(), '-', '_');
            params[key] = cl.integer(std::string("--") + name, *v);
        }
    }
    for (const char* name : { "fraction", "threshold", "lr" }) {
        if (auto v = cl.value(name))
            params[name] = realValue(name, *v);
    }
    for (const char* name : { "tokenizer", "model" }) {
        if (auto v = cl.value(name))
            params[name] = *v;
    }
    const std::string method = cl.required("method");
    if (!isSelectionMethod(method))
        throw UsageError("--method: unknown method '" + method + "' (expected " + selectionMethodList() + ")");
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("record a selected dataset");
    const std::int64_t id = cl.integer("ID", cl.positional(0));
    const DatasetRecord derived = selectDataset(ws, id, method, params, cl.value("name").value_or(""));
    nlohmann::json out = datasetJson(derived);
    if (const auto parent = DatasetStore(ws.db()).find(id))
        out["dropped"] = parent->records - derived.records;
    std::cout << out.dump() << "\n";
    return 0;
}

int datasetSplit(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli dataset split ID --ratio R --workspace DIR [--seed N]",
        "Splits a dataset into train and eval parts (a seeded shuffle; round(R * records) go to\n"
        "eval) and prints {\"train\": dataset, \"eval\": dataset}.",
        { { "ID", "the dataset id" } },
        { kWorkspaceOption, { "ratio", "R", "the eval share, between 0 and 1", true },
            { "seed", "N", "shuffle seed (default 1)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const double ratio = realValue("ratio", cl.required("ratio"));
    const std::uint64_t seed
        = cl.value("seed") ? static_cast<std::uint64_t>(cl.integer("--seed", *cl.value("seed"))) : 1;
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("split a dataset");
    const auto [train, eval] = splitDataset(ws, cl.integer("ID", cl.positional(0)), ratio, seed);
    std::cout << nlohmann::json { { "train", datasetJson(train) }, { "eval", datasetJson(eval) } }.dump() << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "dataset", "import" }, "import and validate a dataset file", datasetImport },
    { { "dataset", "list" }, "list the datasets of a workspace", datasetList },
    { { "dataset", "stats" }, "token statistics of a dataset", datasetStats },
    { { "dataset", "select" }, "derive a dataset by a selection method", datasetSelect },
    { { "dataset", "split" }, "split a dataset into train and eval parts", datasetSplit },
} };

} // namespace

} // namespace tunebench::cli
