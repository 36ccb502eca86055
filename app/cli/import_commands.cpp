// import-adapter: a PEFT adapter folder recorded as a finished run, so generate, measure and export work on it.

#include "command_line.h"
#include "commands.h"

#include "core/export/peft_adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/store/artifacts.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

int importAdapterCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli import-adapter --workspace DIR --model MODEL_DIR --adapter PEFT_DIR [--name NAME]",
        "Imports a PEFT adapter folder (adapter_config.json + adapter_model.safetensors; LoRA, rsLoRA, DoRA,\n"
        "IA3, prompt and prefix tuning) for the model in MODEL_DIR. The adapter is checked by attaching it to\n"
        "the model, then recorded as a finished run whose adapter lies in runs/<id>/adapter, with lineage\n"
        "naming the source folder; generate, measure and export work on it as on a trained run, and a run\n"
        "configuration continues training from it with init_adapter: PEFT_DIR.\n"
        "Prints one JSON object: run, adapter, peft_type, source.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "model", "DIR", "the base model folder the adapter belongs to", true },
            { "adapter", "DIR", "the PEFT adapter folder", true }, { "name", "NAME", "the run's name" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    Workspace ws = Workspace::open(cl.required("workspace"));
    ws.requireWritable("import an adapter");
    const fs::path modelDir = fs::absolute(cl.required("model")).lexically_normal();
    const fs::path source = fs::absolute(cl.required("adapter")).lexically_normal();
    std::unique_ptr<CausalLM> model = loadCausalLM(modelDir);
    const ImportedAdapter imported = importPeftAdapter(source, *model, defaultPluginRegistry());

    RunStore runs(ws.db());
    NewRun nr;
    nr.name = cl.value("name").value_or("import " + source.filename().string());
    nr.adapter = imported.adapter;
    nr.objective = "";
    nr.modelPath = modelDir.string();
    nlohmann::json config
        = { { "model", modelDir.string() }, { "adapter", imported.adapter }, { "imported_from", source.string() } };
    config.update(imported.params);
    nr.configJson = config.dump();
    nr.lineageJson = nlohmann::json({ { "operation", "import_adapter" }, { "source", source.string() },
                                        { "peft_type", imported.peftType }, { "format", "peft" } })
                         .dump();
    const std::int64_t id = runs.create(nr);
    try {
        RunAdapterFiles files;
        files.adapter = imported.adapter;
        files.params = imported.params;
        files.model = modelDir.string();
        files.state = imported.state;
        files.write(ws.runDir(id) / "adapter");
        ArtifactStore(ws.db()).add({ 0, id, "adapter", (fs::path("runs") / std::to_string(id) / "adapter").string(),
            nlohmann::json({ { "imported_from", source.string() } }).dump(), 0 });
        runs.setStatus(id, RunStatus::Finished);
    } catch (const std::exception& e) {
        runs.setStatus(id, RunStatus::Failed, e.what());
        throw;
    }
    std::cout << nlohmann::json({ { "run", id }, { "adapter", imported.adapter }, { "peft_type", imported.peftType },
                                    { "source", source.string() } })
                     .dump()
              << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "import-adapter" }, "record a PEFT adapter folder as a finished run", importAdapterCommand },
} };

} // namespace

} // namespace tunebench::cli
