#include "command_line.h"
#include "commands.h"

#include "core/export/gguf_export.h"
#include "core/export/peft_adapter.h"
#include "core/export/sequence_classifier.h"
#include "core/method/adapter_fold.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/store/artifacts.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/run_adapter.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <iostream>

namespace tunebench::cli {

namespace {

namespace fs = std::filesystem;

// Where the artifact row points: relative to the workspace when inside it.
std::string artifactPath(const Workspace& ws, const fs::path& out)
{
    const fs::path abs = fs::absolute(out).lexically_normal();
    const fs::path rel = abs.lexically_relative(fs::absolute(ws.root()).lexically_normal());
    if (!rel.empty() && *rel.begin() != "..")
        return rel.string();
    return abs.string();
}

// An export never replaces what is there unless asked: a non-empty folder (folder formats) or an existing file
// (GGUF) is refused without --force.
void checkOut(const fs::path& out, bool folder, bool force)
{
    if (!fs::exists(out))
        return;
    if (folder) {
        if (!fs::is_directory(out))
            throw InputError(out.string() + ": exists and is not a folder");
        if (!fs::is_empty(out) && !force)
            throw InputError(out.string() + ": exists and is not empty; choose a new folder or pass --force");
        return;
    }
    if (fs::is_directory(out))
        throw InputError(out.string() + ": is a folder; GGUF export writes one file");
    if (!force)
        throw InputError(out.string() + ": exists; choose a new file name or pass --force");
}

// The export is written beside `out` and moved into place only when complete, so a failed export (or one
// replacing an old one with --force) never leaves half a result nor loses the old one.
class StagedOut {
public:
    explicit StagedOut(fs::path out)
        : m_out(std::move(out))
        , m_stage(m_out.parent_path() / (m_out.filename().string() + ".partial"))
    {
        if (!m_out.parent_path().empty())
            fs::create_directories(m_out.parent_path());
        fs::remove_all(m_stage);
    }
    ~StagedOut()
    {
        std::error_code ec;
        if (!m_done)
            fs::remove_all(m_stage, ec);
    }
    const fs::path& path() const { return m_stage; }
    // The old result is moved aside, not deleted, until the new one is in place.
    void commit()
    {
        const fs::path old = m_out.parent_path() / (m_out.filename().string() + ".old");
        std::error_code ec;
        fs::remove_all(old, ec);
        if (fs::exists(m_out))
            fs::rename(m_out, old);
        try {
            fs::rename(m_stage, m_out);
        } catch (const fs::filesystem_error&) {
            if (fs::exists(old))
                fs::rename(old, m_out, ec);
            throw;
        }
        m_done = true;
        syncToDisk(m_out.parent_path().empty() ? fs::path(".") : m_out.parent_path());
        fs::remove_all(old, ec);
    }

private:
    fs::path m_out;
    fs::path m_stage;
    bool m_done = false;
};

int exportCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli export --workspace DIR --run ID --format "
                   "peft|merged|sequence-classification|gguf|gguf-lora --out PATH "
                   "[--gguf-type f32|f16|bf16|q8_0] [--max-shard-mb N] [--force]",
        "Exports a finished run.\n"
        "  peft       the adapter as a PEFT folder (adapter_config.json, adapter_model.safetensors) that\n"
        "             PeftModel.from_pretrained loads: LoRA, rsLoRA, DoRA, PiSSA and chain of LoRA (as plain\n"
        "             LoRA against the original base), IA3, prompt and prefix tuning.\n"
        "  merged     the base model with the adapter folded in, as a Hugging Face folder (sharded above\n"
        "             --max-shard-mb). Prompt and prefix tuning cannot be merged.\n"
        "  sequence-classification\n"
        "             a reward_model run as a Hugging Face sequence-classification folder\n"
        "             (LlamaForSequenceClassification ..., num_labels 1): the merged base model and the\n"
        "             run's head as score.weight, for AutoModelForSequenceClassification and TRL.\n"
        "  gguf       the merged model as one GGUF file for llama.cpp / Ollama (Llama and Mistral models),\n"
        "             matrices as --gguf-type (default f16; norms stay f32).\n"
        "  gguf-lora  the LoRA adapter as a llama.cpp GGUF adapter (LoRA, rsLoRA, PiSSA, chain of LoRA).\n"
        "An existing non-empty folder or file is refused unless --force. The export is recorded as an\n"
        "artifact of the run. Prints one JSON object: run, format, adapter, out, artifact.",
        {},
        { { "workspace", "DIR", "the workspace folder", true, "TUNEBENCH_WORKSPACE" },
            { "run", "ID", "the run to export", true },
            { "format", "NAME", "peft, merged, sequence-classification, gguf or gguf-lora", true },
            { "out", "PATH", "the folder (peft, merged) or file (gguf, gguf-lora) to write", true },
            { "gguf-type", "TYPE", "f32, f16 (default), bf16 or q8_0" },
            { "max-shard-mb", "N", "merged: split the weights into shards of at most N MB" },
            { "force", "", "replace an existing non-empty folder or file" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::string format = cl.required("format");
    if (format != "merged" && format != "peft" && format != "gguf" && format != "gguf-lora"
        && format != "sequence-classification")
        throw UsageError(
            "--format: expected peft, merged, sequence-classification, gguf or gguf-lora, got '" + format + "'");
    if (cl.has("gguf-type") && format != "gguf" && format != "gguf-lora")
        throw UsageError("--gguf-type applies to --format gguf and gguf-lora only");
    const gguf::TensorType ggufType = ggufTypeFromString(cl.value("gguf-type").value_or("f16"));
    Workspace ws = Workspace::open(cl.required("workspace"));
    const std::int64_t runId = cl.integer("--run", cl.required("run"));
    const auto run = RunStore(ws.db()).find(runId);
    if (!run)
        throw InputError("no run with id " + std::to_string(runId) + " in workspace " + ws.root().string());
    const fs::path adapterDir = ws.runDir(runId) / "adapter";
    if (!RunAdapterFiles::exists(adapterDir))
        throw InputError("run " + std::to_string(runId) + " has no saved adapter in " + adapterDir.string()
            + " (it has not finished a training)");
    fs::path out = fs::path(cl.required("out")).lexically_normal();
    if (out.filename().empty()) // "DIR/": the staging folder goes beside DIR, not into it
        out = out.parent_path();
    const bool folder = format == "merged" || format == "peft" || format == "sequence-classification";
    checkOut(out, folder, cl.has("force"));
    StagedOut staged(out);
    const fs::path& target = staged.path();

    std::string adapter;
    nlohmann::json meta = { { "format", format } };
    const std::string name = run->name.empty() ? "run " + std::to_string(runId) : run->name;
    if (format == "merged") {
        std::optional<std::uint64_t> shard;
        if (auto mb = cl.value("max-shard-mb"))
            shard = static_cast<std::uint64_t>(cl.integer("--max-shard-mb", *mb)) * 1024 * 1024;
        adapter = exportMergedModel(run->modelPath, adapterDir, target, defaultPluginRegistry(), shard);
    } else if (format == "sequence-classification") {
        const SequenceClassifierExport r
            = exportSequenceClassifier(run->modelPath, ws.runDir(runId), target, defaultPluginRegistry());
        adapter = r.adapter;
        meta["architecture"] = r.architecture;
        meta["pad_token_id"] = r.padTokenId;
    } else if (format == "peft") {
        const PeftExportResult r = exportPeftAdapter(run->modelPath, adapterDir, target, defaultPluginRegistry());
        adapter = r.adapter;
        meta["peft_type"] = r.peftType;
        meta["tensors"] = r.tensors;
    } else if (format == "gguf") {
        std::unique_ptr<CausalLM> model = loadCausalLM(run->modelPath);
        std::unique_ptr<Adapter> attached = loadRunAdapter(adapterDir, *model, defaultPluginRegistry(), run->modelPath);
        adapter = RunAdapterFiles::read(adapterDir).adapter;
        foldAdapterIntoWeights(*attached, *model, adapterDir.string() + ": this run's adapter",
            "a GGUF model holds weights only; export it with --format peft");
        writeGgufModel(*model, run->modelPath, name, ggufType, target);
        meta["gguf_type"] = gguf::tensorTypeName(ggufType);
    } else {
        const RunAdapterFiles files = RunAdapterFiles::read(adapterDir);
        adapter = files.adapter;
        const ModelConfig config = readModelConfig(fs::path(run->modelPath) / "config.json");
        LoraForm lora;
        try {
            lora = loraForm(files, config, defaultPluginRegistry());
        } catch (const InputError& e) {
            throw InputError(std::string(e.what())
                + "; llama.cpp's GGUF adapters hold LoRA only. Export the merged model with --format gguf");
        }
        writeGgufLora(lora, config, name, ggufType, target);
        meta["gguf_type"] = gguf::tensorTypeName(ggufType);
    }
    staged.commit();
    meta["adapter"] = adapter;
    // Exporting only reads the workspace; one this user cannot write still exports to the folder asked
    // for, and says why the export is not listed among the run's artifacts.
    nlohmann::json artifact = nullptr;
    if (ws.isWritable())
        artifact = ArtifactStore(ws.db()).add({ 0, runId,
            format == "peft"                          ? "peft_adapter"
                : format == "merged"                  ? "merged"
                : format == "sequence-classification" ? "sequence_classification"
                : format == "gguf"                    ? "gguf"
                                                      : "gguf_lora",
            artifactPath(ws, out), meta.dump(), 0 });
    else
        std::cerr << "note: the export is not recorded among run " << runId << "'s artifacts: " << ws.readOnlyReason()
                  << "\n";
    std::cout << nlohmann::json({ { "run", runId }, { "format", format }, { "adapter", adapter },
                                    { "out", fs::absolute(out).string() }, { "artifact", artifact } })
                     .dump()
              << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "export" }, "export a run (PEFT adapter, merged model folder, GGUF)", exportCommand },
} };

} // namespace

} // namespace tunebench::cli
