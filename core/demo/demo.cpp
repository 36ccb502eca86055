#include "core/demo/demo.h"

#include "core/data/dataset_import.h"
#include "core/demo/demo_world.h"
#include "core/method/plugin_registry.h"
#include "core/metrics/diversity.h"
#include "core/metrics/forgetting.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/train/trainer.h"
#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/yaml_json.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <set>
#include <sstream>
#include <unistd.h>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Bumped whenever what the demo builds or measures changes, so cached builds
// and measures from an older binary are not reused.
constexpr const char* kDemoVersion = "tunebench-demo 1";
constexpr const char* kBos = "<|startoftext|>";
constexpr const char* kEos = "<|endoftext|>";

using Clock = std::chrono::steady_clock;

double since(Clock::time_point start)
{
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Sizes of everything the demo builds; quick mode is for tests.
struct BuildPlan {
    WorldSizes world;
    std::size_t tokenizerVocab = 1024;
    RandomModelSpec model;
    json pretrain;
};

BuildPlan buildPlan(bool quick, std::uint64_t seed)
{
    BuildPlan plan;
    plan.model.architecture = Architecture::Llama;
    plan.model.maxPositions = 512;
    if (quick) {
        plan.world = { 16, 240, 12, 8, 24, 4 };
        plan.tokenizerVocab = 400;
        plan.model.hiddenSize = 64;
        plan.model.numLayers = 2;
        plan.model.numHeads = 4;
        plan.model.intermediateSize = 128;
    } else {
        plan.world = WorldSizes {};
        plan.tokenizerVocab = 1024;
        plan.model.hiddenSize = 256;
        plan.model.numLayers = 4;
        plan.model.numHeads = 4;
        plan.model.intermediateSize = 768;
    }
    plan.pretrain = { { "adapter", "full" }, { "objective", "sft" }, { "learning_rate", 1.5e-3 },
        { "max_steps", quick ? 12 : 320 }, { "per_device_train_batch_size", 8 }, { "cutoff_len", 128 },
        { "packing", true }, { "lr_scheduler_type", "cosine" }, { "warmup_steps", quick ? 2 : 20 },
        { "weight_decay", 0.01 }, { "seed", seed }, { "logging_steps", 1 }, { "save_total_limit", 1 } };
    return plan;
}

void writeText(const fs::path& path, const std::string& text)
{
    const fs::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out)
            throw Error("cannot write " + tmp.string());
    }
    std::error_code ec;
    fs::rename(tmp, path, ec);
    if (ec)
        throw Error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

void writeLines(const fs::path& path, const std::vector<json>& records)
{
    std::string text;
    for (const json& r : records)
        text += r.dump() + "\n";
    writeText(path, text);
}

json readJsonFile(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError("cannot read " + path.string());
    std::stringstream ss;
    ss << in.rdbuf();
    try {
        return json::parse(ss.str());
    } catch (const json::exception& e) {
        throw InputError(path.string() + ": not valid JSON (" + e.what() + ")");
    }
}

std::string fileHash(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return sha256Hex(ss.str());
}

// One preset file of resources/demo.
struct Preset {
    fs::path file;
    std::string name;
    std::string finding;
    std::string hash;
    bool merge = false;
    // Training presets: the run configuration without the demo section, and its data.
    json config;
    std::string dataset = "target"; // target | preference
    std::string modelFrom; // another preset whose model (base + adapter, merged) this one starts from
    // Merge presets.
    std::string method;
    std::vector<std::string> parents;
    std::vector<std::string> extraArgs;
};

std::string requireString(const json& node, const std::string& key, const fs::path& file, const std::string& where)
{
    const auto it = node.find(key);
    if (it == node.end() || !it->is_string() || it->get<std::string>().empty())
        throw InputError(file.string() + ": " + where + key + ": expected a non-empty string");
    return it->get<std::string>();
}

Preset loadPreset(const fs::path& file)
{
    Preset p;
    p.file = file;
    p.hash = fileHash(file);
    json node = readYamlOrJsonFile(file);
    if (!node.is_object())
        throw InputError(file.string() + ": expected a mapping (a run configuration with a demo section)");
    p.name = requireString(node, "name", file, "");
    const auto section = node.find("demo");
    if (section == node.end() || !section->is_object())
        throw InputError(file.string() + ": demo: expected a mapping (finding, kind, dataset ...)");
    const json demo = *section;
    node.erase("demo");
    static const std::set<std::string> known { "finding", "kind", "dataset", "model_from", "method", "runs", "args" };
    for (const auto& [key, value] : demo.items()) {
        if (!known.count(key))
            throw InputError(file.string() + ": demo." + key
                + ": unknown key (expected finding, kind, dataset, model_from, method, runs or args)");
    }
    p.finding = demo.value("finding", "");
    const std::string kind = demo.value("kind", "train");
    if (kind == "merge") {
        p.merge = true;
        p.method = requireString(demo, "method", file, "demo.");
        const auto runs = demo.find("runs");
        if (runs == demo.end() || !runs->is_array() || runs->empty())
            throw InputError(file.string() + ": demo.runs: expected a list of preset names to merge");
        for (const json& r : *runs) {
            if (!r.is_string())
                throw InputError(file.string() + ": demo.runs: expected preset names (strings), got " + r.dump());
            p.parents.push_back(r.get<std::string>());
        }
        if (const auto args = demo.find("args"); args != demo.end()) {
            if (!args->is_object())
                throw InputError(file.string() + ": demo.args: expected a mapping of merge flags to values");
            for (const auto& [flag, value] : args->items()) {
                p.extraArgs.push_back("--" + flag);
                p.extraArgs.push_back(value.is_string() ? value.get<std::string>() : value.dump());
            }
        }
        if (node.size() != 1)
            throw InputError(file.string() + ": a merge preset has only name and demo");
    } else if (kind == "train") {
        p.dataset = demo.value("dataset", "target");
        if (p.dataset != "target" && p.dataset != "preference")
            throw InputError(file.string() + ": demo.dataset: expected target or preference, got '" + p.dataset + "'");
        p.modelFrom = demo.value("model_from", "");
        for (const char* key : { "model", "dataset", "dataset_id" }) {
            if (node.contains(key))
                throw InputError(file.string() + ": " + key
                    + ": the demo supplies the model and the data; say which data with demo.dataset");
        }
        p.config = node;
    } else {
        throw InputError(file.string() + ": demo.kind: expected train or merge, got '" + kind + "'");
    }
    return p;
}

std::vector<Preset> loadPresets(const fs::path& dir)
{
    if (!fs::is_directory(dir))
        throw InputError("demo presets folder " + dir.string() + " does not exist (resources/demo)");
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(dir)) {
        const std::string ext = e.path().extension().string();
        if (e.is_regular_file() && (ext == ".yaml" || ext == ".yml"))
            files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    std::vector<Preset> presets;
    std::set<std::string> names;
    for (const fs::path& f : files) {
        Preset p = loadPreset(f);
        if (!names.insert(p.name).second)
            throw InputError(f.string() + ": name: preset '" + p.name + "' is defined twice");
        for (const std::string& parent : p.parents) {
            if (!names.count(parent))
                throw InputError(f.string() + ": demo.runs: '" + parent + "' is not a preset before this one");
        }
        if (!p.modelFrom.empty() && !names.count(p.modelFrom))
            throw InputError(f.string() + ": demo.model_from: '" + p.modelFrom + "' is not a preset before this one");
        presets.push_back(std::move(p));
    }
    if (presets.empty())
        throw InputError("no presets (*.yaml) in " + dir.string());
    return presets;
}

// In quick mode every run is cut to a few steps.
void shortenForQuick(json& config)
{
    json* training = config.contains("training") && config["training"].is_object() ? &config["training"] : &config;
    const std::int64_t steps = training->value("max_steps", static_cast<std::int64_t>(40));
    (*training)["max_steps"] = std::max<std::int64_t>(3, steps / 15);
    if (training->contains("warmup_steps"))
        (*training)["warmup_steps"] = 1;
}

class Demo {
public:
    Demo(const DemoOptions& options, const PluginRegistry& plugins)
        : m_options(options)
        , m_plugins(plugins)
        , m_plan(buildPlan(options.quick, options.seed))
        , m_workspace(Workspace::isWorkspace(options.workspace) ? Workspace::open(options.workspace)
                                                                : Workspace::create(options.workspace))
        , m_runs(m_workspace.db())
    {
        const json key = { { "version", kDemoVersion }, { "seed", options.seed }, { "quick", options.quick },
            { "world",
                { m_plan.world.people, m_plan.world.corpusParagraphs, m_plan.world.referenceTexts,
                    m_plan.world.referenceProbes, m_plan.world.preferencePairs, m_plan.world.probePrompts } },
            { "vocab", m_plan.tokenizerVocab },
            { "model",
                { m_plan.model.hiddenSize, m_plan.model.numLayers, m_plan.model.numHeads,
                    m_plan.model.intermediateSize.value_or(0), m_plan.model.maxPositions.value_or(0) } },
            { "pretrain", m_plan.pretrain } };
        m_key = sha256Hex(key.dump()).substr(0, 16);
        m_buildDir = m_workspace.root() / "demo" / ((options.quick ? "quick-" : "build-") + m_key);
        m_result.dataDir = m_buildDir / "data";
        m_result.modelDir = m_buildDir / "model";
    }

    DemoResult run()
    {
        // Presets are read first: a bad preset fails before anything is built.
        const std::vector<Preset> presets = loadPresets(m_options.presetsDir);
        for (const std::string& name : m_options.only) {
            if (std::none_of(presets.begin(), presets.end(), [&](const Preset& p) { return p.name == name; })) {
                std::string known;
                for (const Preset& p : presets)
                    known += (known.empty() ? "" : ", ") + p.name;
                throw InputError("--only: no preset named '" + name + "' (presets: " + known + ")");
            }
        }
        if (m_options.fresh && fs::exists(m_buildDir)) {
            say("--fresh: removing " + m_buildDir.string() + " (runs stay in the workspace)");
            fs::remove_all(m_buildDir);
        }
        buildIfMissing();
        loadManifest();
        m_base = loadCausalLM(m_result.modelDir);
        m_tokenizer.emplace(Tokenizer::fromFolder(m_result.modelDir));
        m_result.modelParameters = m_base->parameterCount();

        const auto runsStart = Clock::now();
        std::set<std::string> wanted(m_options.only.begin(), m_options.only.end());
        // Presets another wanted preset needs run too.
        for (auto it = presets.rbegin(); it != presets.rend(); ++it) {
            if (!wanted.empty() && wanted.count(it->name)) {
                for (const std::string& parent : it->parents)
                    wanted.insert(parent);
                if (!it->modelFrom.empty())
                    wanted.insert(it->modelFrom);
            }
        }
        for (const Preset& p : presets) {
            if (!wanted.empty() && !wanted.count(p.name))
                continue;
            if (p.merge)
                runMerge(p);
            else
                runTrain(p);
        }
        m_result.stages.push_back({ "runs and measures", since(runsStart), false });
        return std::move(m_result);
    }

private:
    void say(const std::string& line) const
    {
        if (m_options.progress)
            m_options.progress(line);
    }

    // ---- building the model and the data -------------------------------------------------------
    void buildIfMissing()
    {
        const fs::path stamp = m_buildDir / "stamp.json";
        if (fs::exists(stamp)) {
            const json s = readJsonFile(stamp);
            if (s.value("key", "") == m_key && fs::exists(m_result.modelDir / "config.json")) {
                m_result.modelCached = true;
                say("reusing the demo model and data in " + m_buildDir.string() + " (built "
                    + s.value("built", std::string("earlier")) + ")");
                m_result.stages.push_back({ "data", 0, true });
                m_result.stages.push_back({ "tokenizer", 0, true });
                m_result.stages.push_back({ "pretraining", 0, true });
                importDatasets();
                return;
            }
        }
        // A build without its stamp is incomplete: start it again.
        if (fs::exists(m_buildDir))
            fs::remove_all(m_buildDir);
        fs::create_directories(m_result.dataDir);

        auto start = Clock::now();
        say("generating the demo data (seed " + std::to_string(m_options.seed) + ")");
        const DemoWorld world(m_options.seed, m_plan.world);
        const std::vector<json> corpus = world.corpus();
        writeLines(m_result.dataDir / "corpus.jsonl", corpus);
        writeLines(m_result.dataDir / "target_train.jsonl", world.targetTrain());
        writeLines(m_result.dataDir / "target_eval.jsonl", world.targetEval());
        writeLines(m_result.dataDir / "target_eval_probes.jsonl", world.targetEvalProbes());
        writeLines(m_result.dataDir / "reference.jsonl", world.reference());
        writeLines(m_result.dataDir / "preference.jsonl", world.preferencePairs());
        std::vector<json> probes;
        for (const std::string& prompt : world.probePrompts())
            probes.push_back({ { "prompt", prompt } });
        writeLines(m_result.dataDir / "probes.jsonl", probes);
        m_result.stages.push_back({ "data", since(start), false });

        start = Clock::now();
        say("training a byte-level BPE tokenizer (" + std::to_string(m_plan.tokenizerVocab) + " tokens)");
        BpeTrainer trainer({ m_plan.tokenizerVocab, 2, { kEos, kBos } });
        for (const json& r : corpus)
            trainer.addText(r.at("text").get<std::string>());
        // The target task's format is new to the model, but its characters should be cheap to write.
        for (const json& r : world.targetTrain())
            trainer.addText(DemoWorld::alpacaPrompt(r.at("instruction").get<std::string>()));
        const BpeModel bpe = trainer.train();
        const fs::path tokenizerDir = m_buildDir / "tokenizer";
        writeTokenizerFolder(bpe, tokenizerDir, { kBos, kEos, kEos, 512 });
        const Tokenizer tokenizer = Tokenizer::fromFolder(tokenizerDir);
        m_result.stages.push_back({ "tokenizer", since(start), false });

        start = Clock::now();
        RandomModelSpec spec = m_plan.model;
        spec.vocabSize = static_cast<std::int64_t>(tokenizer.vocabSize());
        spec.bosTokenId = *tokenizer.bosId();
        spec.eosTokenIds = { *tokenizer.eosId() };
        spec.padTokenId = *tokenizer.padId();
        const fs::path initDir = m_buildDir / "init";
        {
            const auto model = createRandomCausalLM(randomModelConfig(spec), m_options.seed);
            saveModelFolder(*model, initDir);
            copyTokenizerFiles(tokenizerDir, initDir);
            say("pretraining a Llama with " + std::to_string(model->parameterCount()) + " parameters (hidden "
                + std::to_string(spec.hiddenSize) + ", " + std::to_string(spec.numLayers) + " layers, vocabulary "
                + std::to_string(spec.vocabSize) + ") on " + std::to_string(corpus.size()) + " texts");
        }
        importDatasets();
        json config = m_plan.pretrain;
        config["model"] = initDir.string();
        config["dataset_id"] = m_datasets.at("corpus");
        const std::int64_t runId = train("pretrain", config, "demo pretraining");
        exportMergedModel(initDir, m_workspace.runDir(runId) / "adapter", m_result.modelDir, m_plugins);
        fs::remove_all(initDir);
        m_result.stages.push_back({ "pretraining", since(start), false });

        const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
        std::ostringstream built;
        built << std::put_time(std::gmtime(&now), "%Y-%m-%d %H:%M:%S UTC");
        writeText(m_buildDir / "stamp.json",
            json({ { "key", m_key }, { "version", kDemoVersion }, { "seed", m_options.seed },
                     { "quick", m_options.quick }, { "pretrain_run", runId }, { "built", built.str() } })
                    .dump(2)
                + "\n");
    }

    // The demo's datasets in the workspace (reused when already imported from the same file).
    void importDatasets()
    {
        DatasetStore store(m_workspace.db());
        const std::vector<DatasetRecord> existing = store.list();
        for (const char* role : { "corpus", "target_train", "target_eval", "preference" }) {
            const fs::path file = m_result.dataDir / (std::string(role) + ".jsonl");
            const std::string name = std::string("demo-") + role;
            auto it = std::find_if(existing.rbegin(), existing.rend(),
                [&](const DatasetRecord& d) { return d.name == name && d.sourcePath == file.string(); });
            if (it != existing.rend()) {
                m_datasets[role] = it->id;
                continue;
            }
            ImportOptions options;
            options.name = name;
            const ImportResult r = importDataset(m_workspace, file, options);
            if (!r.imported || !r.id)
                throw Error("could not import the demo dataset " + file.string()
                    + (r.errors.empty() ? std::string()
                                        : ": line " + std::to_string(r.errors.front().line) + ": "
                                + r.errors.front().field + ": " + r.errors.front().message));
            m_datasets[role] = *r.id;
        }
    }

    // ---- runs ----------------------------------------------------------------------------------
    // Records a run and trains it; returns its id. Throws after marking it failed.
    std::int64_t train(const std::string& name, json configJson, const std::string& source)
    {
        if (m_options.threads > 0) {
            json& section = configJson.contains("training") && configJson["training"].is_object()
                ? configJson["training"]
                : configJson;
            if (!configJson.contains("threads") && !section.contains("threads"))
                section["threads"] = m_options.threads;
        }
        TrainConfig config = TrainConfig::fromJson(configJson, m_plugins, source);
        config.name = "demo-" + name;
        NewRun run;
        run.name = config.name;
        run.configJson = config.toJson().dump();
        run.adapter = config.adapter;
        run.objective = config.objective;
        run.modelPath = config.model;
        run.datasetId = config.datasetId;
        const std::int64_t runId = m_runs.create(run);
        m_runs.setStatus(runId, RunStatus::Running, {}, static_cast<std::int64_t>(getpid()));
        TrainerOptions options;
        options.runDir = m_workspace.runDir(runId);
        options.workspace = &m_workspace;
        options.runId = runId;
        const auto start = Clock::now();
        auto lastReport = start;
        options.events = [&](const json& e) {
            const std::string kind = e.value("event", "");
            if (kind == "start") {
                m_lastStart = e;
                say(name + ": run " + std::to_string(runId) + ", " + std::to_string(e.value("total_steps", 0))
                    + " steps, " + std::to_string(e.value("trainable_parameters", 0)) + " of "
                    + std::to_string(e.value("total_parameters", 0)) + " parameters train");
            } else if (kind == "step" && since(lastReport) > 10) {
                lastReport = Clock::now();
                std::ostringstream line;
                line << name << ": step " << e.value("step", 0) << " loss " << std::fixed << std::setprecision(3)
                     << e.value("loss", 0.0) << " (" << std::setprecision(0) << since(start) << " s)";
                say(line.str());
            }
        };
        try {
            const TrainResult r = runTraining(config, m_plugins, options);
            m_runs.setStatus(runId, RunStatus::Finished);
            std::ostringstream line;
            line << name << ": finished " << r.steps << " steps in " << std::fixed << std::setprecision(1)
                 << since(start) << " s, last loss " << std::setprecision(3) << r.lastLoss;
            say(line.str());
        } catch (const std::exception& e) {
            m_runs.setStatus(runId, RunStatus::Failed, e.what());
            m_runs.addEvent(runId, "failed", json({ { "event", "failed" }, { "error", e.what() } }).dump());
            throw;
        }
        return runId;
    }

    // The manifest of the runs this build's presets made: name -> {run_id, preset, inputs, measures}.
    void loadManifest()
    {
        const fs::path file = m_buildDir / "runs.json";
        m_manifest = fs::exists(file) ? readJsonFile(file) : json::object();
        if (!m_manifest.is_object())
            m_manifest = json::object();
    }
    void saveManifest() const { writeText(m_buildDir / "runs.json", m_manifest.dump(2) + "\n"); }

    // A finished run of this preset with the same inputs, if the workspace still has it.
    std::optional<std::int64_t> reusable(const std::string& name, const std::string& inputs) const
    {
        const auto it = m_manifest.find(name);
        if (it == m_manifest.end() || it->value("inputs", "") != inputs)
            return std::nullopt;
        const std::int64_t id = it->value("run_id", static_cast<std::int64_t>(0));
        const auto run = m_runs.find(id);
        if (!run || run->status != RunStatus::Finished)
            return std::nullopt;
        return id;
    }

    std::int64_t parentRun(const std::string& name) const
    {
        const auto it = m_manifest.find(name);
        if (it == m_manifest.end())
            throw Error("preset '" + name + "' has no finished run (it was skipped or failed)");
        return it->at("run_id").get<std::int64_t>();
    }

    void runTrain(const Preset& p)
    {
        json config = p.config;
        if (m_options.quick)
            shortenForQuick(config);
        fs::path model = m_result.modelDir;
        if (!p.modelFrom.empty()) {
            const std::int64_t from = parentRun(p.modelFrom);
            model = m_buildDir / ("model-" + p.modelFrom + "-" + std::to_string(from));
            if (!fs::exists(model / "config.json")) {
                say(p.name + ": writing " + p.modelFrom + "'s model (base + adapter) to start from");
                exportMergedModel(m_result.modelDir, m_workspace.runDir(from) / "adapter", model, m_plugins);
            }
        }
        config["model"] = model.string();
        config["dataset_id"] = m_datasets.at(p.dataset == "preference" ? "preference" : "target_train");
        const std::string inputs = sha256Hex(p.hash + config.dump());
        std::int64_t runId = 0;
        bool reused = false;
        if (auto id = reusable(p.name, inputs); id && !m_options.fresh) {
            runId = *id;
            reused = true;
            say(p.name + ": reusing finished run " + std::to_string(runId));
        } else {
            runId = train(p.name, config, p.file.string());
            m_manifest[p.name] = { { "run_id", runId }, { "inputs", inputs } };
            saveManifest();
        }
        report(p, runId, reused, std::nullopt);
    }

    void runMerge(const Preset& p)
    {
        std::string ids;
        std::vector<std::int64_t> parentIds;
        for (const std::string& parent : p.parents) {
            parentIds.push_back(parentRun(parent));
            if (!ids.empty())
                ids += ",";
            ids += std::to_string(parentIds.back());
        }
        const std::string inputs = sha256Hex(p.hash + ids);
        std::int64_t runId = 0;
        bool reused = false;
        if (auto id = reusable(p.name, inputs); id && !m_options.fresh) {
            runId = *id;
            reused = true;
            say(p.name + ": reusing merged run " + std::to_string(runId));
        } else {
            if (!m_options.runCommand)
                throw Error(p.file.string() + ": a merge preset needs tunebench-cli to run `merge`");
            std::vector<std::string> args { "merge", "--workspace", m_workspace.root().string(), "--runs", ids,
                "--method", p.method, "--name", "demo-" + p.name };
            args.insert(args.end(), p.extraArgs.begin(), p.extraArgs.end());
            say(p.name + ": tunebench-cli merge --runs " + ids + " --method " + p.method);
            const CommandOutcome out = m_options.runCommand(args);
            if (out.exitCode == 2 && out.err.find("unknown command 'merge") != std::string::npos) {
                m_result.skipped.push_back(p.name + ": skipped, this tunebench-cli has no `merge` command");
                say(m_result.skipped.back());
                return;
            }
            if (out.exitCode != 0)
                throw Error(p.file.string() + ": tunebench-cli merge failed (exit code " + std::to_string(out.exitCode)
                    + "): " + out.err);
            json answer;
            std::istringstream lines(out.out);
            std::string line;
            while (std::getline(lines, line)) {
                if (!line.empty() && line.front() == '{')
                    answer = json::parse(line, nullptr, false);
            }
            if (!answer.is_object() || !answer.contains("run_id") || !answer["run_id"].is_number_integer())
                throw Error(p.file.string() + ": tunebench-cli merge printed no JSON line with run_id: " + out.out);
            runId = answer["run_id"].get<std::int64_t>();
            m_manifest[p.name] = { { "run_id", runId }, { "inputs", inputs } };
            saveManifest();
        }
        report(p, runId, reused, parentIds);
    }

    // ---- measuring -----------------------------------------------------------------------------
    ForgettingResult score(const CausalLM& tuned, const std::string& file)
    {
        const ReferenceSet set = ReferenceSet::load(m_result.dataDir / file);
        const EncodedReference encoded = encodeReference(set, *m_tokenizer, 256);
        const std::string key = forgettingCacheKey(m_result.modelDir, set, 256);
        const auto cached = loadCachedBaseScores(m_workspace.root(), key);
        const ForgettingResult r = measureForgetting(
            [&](bool base) -> const CausalLM& { return base ? *m_base : tuned; }, *m_tokenizer, encoded, cached);
        if (!r.baseFromCache)
            storeCachedBaseScores(m_workspace.root(), key, r.base);
        return r;
    }

    double distinct2(const CausalLM& tuned)
    {
        std::vector<std::vector<std::int32_t>> prompts;
        std::vector<std::string> texts;
        std::ifstream in(m_result.dataDir / "probes.jsonl");
        std::string line;
        constexpr int kSamples = 4;
        while (std::getline(in, line)) {
            const std::string prompt = json::parse(line).at("prompt").get<std::string>();
            for (int s = 0; s < kSamples; ++s) {
                prompts.push_back(m_tokenizer->encode(prompt, true));
                texts.push_back(prompt);
            }
        }
        GenerationOptions g;
        g.maxNewTokens = 32;
        g.sample = true;
        g.sampling.temperature = 1.0;
        g.seed = m_options.seed;
        g.eosTokenIds = { *m_tokenizer->eosId() };
        const std::vector<GeneratedSequence> out = generate(tuned, prompts, g);
        std::vector<DiversitySample> samples;
        for (std::size_t i = 0; i < out.size(); ++i)
            samples.push_back({ texts[i], m_tokenizer->decode(out[i].tokens, true) });
        return measureDiversity(samples).distinct.at(1);
    }

    void report(
        const Preset& p, std::int64_t runId, bool reused, const std::optional<std::vector<std::int64_t>>& parents)
    {
        const auto record = m_runs.find(runId);
        if (!record)
            throw Error("run " + std::to_string(runId) + " of preset '" + p.name + "' is not in the workspace");
        DemoRun r;
        r.name = p.name;
        r.runId = runId;
        r.reused = reused;
        r.finding = p.finding;
        const json config = json::parse(record->configJson, nullptr, false);
        r.adapter = p.merge ? p.method : record->adapter;
        r.objective = record->objective;

        // Trainable share from the run's start event (a merged run: its parents').
        auto shareOf = [this](std::int64_t id) -> std::optional<double> {
            for (const EventRecord& e : m_runs.events(id)) {
                if (e.kind != "start")
                    continue;
                const json s = json::parse(e.payloadJson, nullptr, false);
                const double total = s.value("total_parameters", 0.0);
                if (total > 0)
                    return s.value("trainable_parameters", 0.0) / total;
            }
            return std::nullopt;
        };
        if (auto share = shareOf(runId)) {
            r.trainableShare = *share;
        } else if (parents) {
            double sum = 0;
            for (std::int64_t id : *parents)
                sum += shareOf(id).value_or(0);
            r.trainableShare = sum / static_cast<double>(parents->size());
            if (p.merge) {
                const auto first = m_runs.find(parents->front());
                if (first)
                    r.objective = first->objective;
            }
        }
        const auto intruders = MetricQuery(m_workspace.db()).series(runId, "weights/intruder_dimensions");
        if (!intruders.empty())
            r.intruderDimensions = intruders.back().value;

        // The measures of a run are cached in the manifest with the inputs they came from.
        json& entry = m_manifest[p.name];
        const std::string measureKey = std::string(kDemoVersion) + "/" + std::to_string(runId);
        if (entry.contains("measures") && entry["measures"].value("key", "") == measureKey) {
            const json& m = entry["measures"];
            r.targetLoss = m.at("target_loss");
            r.targetAccuracy = m.at("target_accuracy");
            r.referenceDeltaLoss = m.at("reference_delta_loss");
            r.referenceKl = m.at("reference_kl");
            r.distinct2 = m.at("distinct_2");
        } else {
            const auto start = Clock::now();
            fs::path modelDir = record->modelPath.empty() ? m_result.modelDir : fs::path(record->modelPath);
            if (config.is_object() && config.contains("model") && config["model"].is_string())
                modelDir = config["model"].get<std::string>();
            const std::unique_ptr<CausalLM> tuned = loadCausalLM(modelDir);
            const fs::path adapterDir = m_workspace.runDir(runId) / "adapter";
            std::unique_ptr<Adapter> adapter;
            if (fs::exists(adapterDir / "adapter_config.json"))
                adapter = loadRunAdapter(adapterDir, *tuned, m_plugins, modelDir);
            else
                throw Error(
                    "run " + std::to_string(runId) + " (" + p.name + ") has no adapter folder " + adapterDir.string());
            const ForgettingResult target = score(*tuned, "target_eval_probes.jsonl");
            const ForgettingResult reference = score(*tuned, "reference.jsonl");
            r.targetLoss = target.tuned.loss;
            r.targetAccuracy = target.tuned.accuracy();
            r.referenceDeltaLoss = reference.deltaLoss();
            r.referenceKl = reference.kl;
            r.distinct2 = distinct2(*tuned);
            entry["measures"] = { { "key", measureKey }, { "target_loss", r.targetLoss },
                { "target_accuracy", r.targetAccuracy }, { "reference_delta_loss", r.referenceDeltaLoss },
                { "reference_kl", r.referenceKl }, { "distinct_2", r.distinct2 }, { "seconds", since(start) } };
            saveManifest();
            std::ostringstream line;
            line << p.name << ": measured in " << std::fixed << std::setprecision(1) << since(start) << " s";
            say(line.str());
        }
        recordMeasures(runId, r);
        m_result.runs.push_back(std::move(r));
    }

    // The demo's measures also go into the run's metrics, at its last step, under the names training measures use,
    // so the GUI's Compare page (summary, learning-versus-forgetting scatter) and reports show them. Once per run.
    void recordMeasures(std::int64_t runId, const DemoRun& r)
    {
        const MetricQuery query(m_workspace.db());
        const std::vector<std::string> names = query.names(runId);
        if (std::find(names.begin(), names.end(), "demo/target_loss") != names.end())
            return;
        std::int64_t step = 0;
        for (const MetricSummary& m : query.summary(runId))
            step = std::max(step, m.lastStep);
        BatchWriter writer(m_workspace.db());
        writer.addMetric(runId, step, "demo/target_loss", r.targetLoss);
        writer.addMetric(runId, step, "demo/target_accuracy", r.targetAccuracy);
        writer.addMetric(runId, step, "forgetting/delta_loss", r.referenceDeltaLoss);
        writer.addMetric(runId, step, "forgetting/kl", r.referenceKl);
        writer.addMetric(runId, step, "diversity/distinct_2", r.distinct2);
        writer.addMetric(runId, step, "demo/trainable_share", r.trainableShare);
        writer.flush();
    }

    const DemoOptions& m_options;
    const PluginRegistry& m_plugins;
    BuildPlan m_plan;
    Workspace m_workspace;
    RunStore m_runs;
    std::string m_key;
    fs::path m_buildDir;
    DemoResult m_result;
    std::map<std::string, std::int64_t> m_datasets;
    json m_manifest = json::object();
    json m_lastStart;
    std::unique_ptr<CausalLM> m_base;
    std::optional<Tokenizer> m_tokenizer;
};

std::string fixed(double v, int digits)
{
    std::ostringstream s;
    s << std::fixed << std::setprecision(digits) << v;
    return s.str();
}

} // namespace

json DemoResult::toJson() const
{
    json rows = json::array();
    for (const DemoRun& r : runs) {
        rows.push_back({ { "name", r.name }, { "adapter", r.adapter }, { "objective", r.objective },
            { "target_loss", r.targetLoss }, { "reference_delta_loss", r.referenceDeltaLoss },
            { "distinct_2", r.distinct2 }, { "trainable_share", r.trainableShare } });
    }
    return { { "runs", rows } };
}

std::string DemoResult::table() const
{
    const std::vector<std::string> header { "name", "run", "adapter", "objective", "target_loss", "target_acc",
        "ref_delta_loss", "ref_kl", "distinct_2", "trainable", "intruders" };
    std::vector<std::vector<std::string>> rows { header };
    for (const DemoRun& r : runs) {
        rows.push_back({ r.name, std::to_string(r.runId), r.adapter, r.objective, fixed(r.targetLoss, 3),
            fixed(r.targetAccuracy, 2), fixed(r.referenceDeltaLoss, 3), fixed(r.referenceKl, 3), fixed(r.distinct2, 3),
            fixed(100 * r.trainableShare, 2) + "%",
            r.intruderDimensions ? std::to_string(static_cast<std::int64_t>(std::lround(*r.intruderDimensions)))
                                 : "-" });
    }
    std::vector<std::size_t> width(header.size(), 0);
    for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i)
            width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        for (std::size_t i = 0; i < rows[k].size(); ++i) {
            const std::string& cell = rows[k][i];
            const bool left = i < 4;
            const std::string pad(width[i] - cell.size(), ' ');
            if (i)
                out += "  ";
            out += left ? cell + pad : pad + cell;
        }
        out += "\n";
        if (k == 0) {
            std::size_t total = 0;
            for (std::size_t w : width)
                total += w + 2;
            out += std::string(total - 2, '-') + "\n";
        }
    }
    for (const std::string& s : skipped)
        out += s + "\n";
    return out;
}

DemoResult runDemo(const DemoOptions& options, const PluginRegistry& plugins)
{
    Demo demo(options, plugins);
    return demo.run();
}

} // namespace tunebench::demo
