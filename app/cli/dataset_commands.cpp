#include "command_line.h"
#include "commands.h"

#include "core/data/dataset_import.h"
#include "core/data/dataset_select.h"
#include "core/data/dataset_stats.h"
#include "core/data/model_selection.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

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
    auto integerOr = [&](const std::string& name, std::int64_t fallback) {
        const auto v = cl.value(name);
        return v ? cl.integer("--" + name, *v) : fallback;
    };
    auto realOr = [&](const std::string& name, double fallback) {
        const auto v = cl.value(name);
        return v ? realValue(name, *v) : fallback;
    };
    auto keepCount = [&](std::size_t n, nlohmann::json& params) {
        std::optional<std::int64_t> count;
        std::optional<double> fraction;
        if (cl.value("count"))
            count = integerOr("count", 0);
        if (cl.value("fraction"))
            fraction = realOr("fraction", 0);
        std::size_t keep = 0;
        try {
            keep = selectionSize(n, count, fraction);
        } catch (const InputError& e) {
            throw UsageError(std::string("--count/--fraction: ") + e.what());
        }
        if (count)
            params["count"] = *count;
        if (fraction)
            params["fraction"] = *fraction;
        return keep;
    };
    const std::string method = cl.required("method");
    const std::uint64_t seed = static_cast<std::uint64_t>(integerOr("seed", 1));
    Workspace ws = Workspace::open(cl.required("workspace"));
    const LoadedDataset d = loadDataset(ws, cl.integer("ID", cl.positional(0)));
    const std::size_t n = d.records.size();
    nlohmann::json params = nlohmann::json::object();
    std::vector<std::size_t> keep;
    if (method == "random") {
        keep = selectRandom(n, keepCount(n, params), seed);
        params["seed"] = seed;
    } else if (method == "length") {
        const std::int64_t minLength = integerOr("min", 0);
        const std::int64_t maxLength = integerOr("max", std::numeric_limits<std::int64_t>::max());
        std::optional<Tokenizer> tokenizer;
        if (auto dir = cl.value("tokenizer"))
            tokenizer.emplace(Tokenizer::fromFolder(*dir));
        keep = selectByLength(d.records, d.format, tokenizer ? &*tokenizer : nullptr, minLength, maxLength);
        params["min"] = minLength;
        if (cl.value("max"))
            params["max"] = maxLength;
        params["unit"] = tokenizer ? "tokens" : "words";
        if (tokenizer)
            params["tokenizer"] = *cl.value("tokenizer");
    } else if (method == "dedup") {
        keep = dedupExact(d.records);
    } else if (method == "minhash") {
        MinHashOptions o;
        o.threshold = realOr("threshold", o.threshold);
        o.permutations = static_cast<int>(integerOr("permutations", o.permutations));
        o.bands = static_cast<int>(integerOr("bands", o.bands));
        o.shingleWords = static_cast<int>(integerOr("shingle", o.shingleWords));
        o.seed = seed;
        keep = dedupMinHash(d.records, d.format, o);
        params = { { "threshold", o.threshold }, { "permutations", o.permutations }, { "bands", o.bands },
            { "shingle_words", o.shingleWords }, { "seed", o.seed } };
    } else if (method == "kmeans") {
        ClusterOptions o;
        o.modelDir = cl.required("model");
        o.clusters = static_cast<int>(integerOr("clusters", o.clusters));
        o.keep = keepCount(n, params);
        o.seed = seed;
        o.maxTokens = integerOr("max-tokens", o.maxTokens);
        const ClusterSelection s = selectByClusters(d.records, d.format, o);
        keep = s.indices;
        params["model"] = o.modelDir.string();
        params["clusters"] = o.clusters;
        params["seed"] = seed;
        params["max_tokens"] = o.maxTokens;
        params["cluster_sizes"] = s.clusterSizes;
    } else if (method == "learnability") {
        LearnabilityOptions o;
        o.modelDir = cl.required("model");
        o.keep = keepCount(n, params);
        o.steps = static_cast<int>(integerOr("steps", o.steps));
        o.lr = realOr("lr", o.lr);
        o.batchSize = static_cast<int>(integerOr("batch-size", o.batchSize));
        o.cutoffLen = integerOr("cutoff-len", o.cutoffLen);
        o.seed = seed;
        const LearnabilitySelection s = selectByLearnability(d.records, d.format, o);
        keep = s.indices;
        double before = 0, after = 0;
        for (std::size_t i = 0; i < n; ++i) {
            before += s.lossBefore[i] / static_cast<double>(n);
            after += s.lossAfter[i] / static_cast<double>(n);
        }
        params["model"] = o.modelDir.string();
        params["steps"] = o.steps;
        params["lr"] = o.lr;
        params["batch_size"] = o.batchSize;
        params["cutoff_len"] = o.cutoffLen;
        params["seed"] = seed;
        params["mean_loss_before"] = before;
        params["mean_loss_after"] = after;
    } else {
        throw UsageError("--method: unknown method '" + method
            + "' (expected random, length, dedup, minhash, kmeans or learnability)");
    }
    std::vector<nlohmann::json> selected;
    selected.reserve(keep.size());
    for (std::size_t i : keep)
        selected.push_back(d.records[i]);
    const std::string name = cl.value("name").value_or(d.name + "-" + method);
    const DatasetRecord derived = writeDerivedDataset(ws, d.id, selected, method, params, name);
    nlohmann::json out = datasetJson(derived);
    out["dropped"] = static_cast<std::int64_t>(n - selected.size());
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
