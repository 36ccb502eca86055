#include "command_line.h"
#include "commands.h"

#include "core/method/plugin_registry.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace tunebench::cli {

namespace {

int exportCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli export --workspace DIR --run ID --format merged --out DIR [--max-shard-mb N]",
        "Exports a finished run. merged: the base model with the run's adapter folded in, written as a Hugging\n"
        "Face folder (config.json, safetensors, sharded above --max-shard-mb, the base's tokenizer files) that\n"
        "Tunebench and transformers load without the adapter. Prompt and prefix tuning cannot be merged.\n"
        "Prints one JSON object: run, format, adapter, out.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "run", "ID", "the run to export", true }, { "format", "NAME", "merged", true },
            { "out", "DIR", "the folder to write (created; must be empty or absent)", true },
            { "max-shard-mb", "N", "split the weights into shards of at most N MB" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::string format = cl.required("format");
    if (format != "merged")
        throw UsageError("--format: expected merged, got '" + format + "'");
    Workspace ws = Workspace::open(cl.required("workspace"));
    const std::int64_t runId = cl.integer("--run", cl.required("run"));
    const auto run = RunStore(ws.db()).find(runId);
    if (!run)
        throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
    const std::filesystem::path adapterDir = ws.runDir(runId) / "adapter";
    if (!std::filesystem::exists(adapterDir / "adapter.safetensors"))
        throw InputError("run " + std::to_string(runId) + " has no saved adapter in " + adapterDir.string()
            + " (it has not finished a training)");
    const std::filesystem::path out = cl.required("out");
    if (std::filesystem::exists(out) && !std::filesystem::is_empty(out))
        throw InputError(out.string() + ": exists and is not empty; choose a new folder");
    std::optional<std::uint64_t> shard;
    if (auto mb = cl.value("max-shard-mb"))
        shard = static_cast<std::uint64_t>(cl.integer("--max-shard-mb", *mb)) * 1024 * 1024;
    const std::string adapter = exportMergedModel(run->modelPath, adapterDir, out, defaultPluginRegistry(), shard);
    std::cout << nlohmann::json({ { "run", runId }, { "format", format }, { "adapter", adapter },
                                    { "out", std::filesystem::absolute(out).string() } })
                     .dump()
              << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "export" }, "export a run (merged model folder)", exportCommand },
} };

} // namespace

} // namespace tunebench::cli
