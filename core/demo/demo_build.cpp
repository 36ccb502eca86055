#include "core/demo/demo_build.h"

#include "core/data/dataset_import.h"
#include "core/demo/demo_runs.h"
#include "core/model/causal_lm.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kBos = "<|startoftext|>";
constexpr const char* kEos = "<|endoftext|>";

} // namespace

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

std::string buildKey(const BuildPlan& plan, std::uint64_t seed, bool quick)
{
    const json key = { { "version", kDemoVersion }, { "seed", seed }, { "quick", quick },
        { "world",
            { plan.world.people, plan.world.corpusParagraphs, plan.world.referenceTexts, plan.world.referenceProbes,
                plan.world.preferencePairs, plan.world.probePrompts } },
        { "vocab", plan.tokenizerVocab },
        { "model",
            { plan.model.hiddenSize, plan.model.numLayers, plan.model.numHeads, plan.model.intermediateSize.value_or(0),
                plan.model.maxPositions.value_or(0) } },
        { "pretrain", plan.pretrain } };
    return sha256Hex(key.dump()).substr(0, 16);
}

DemoBuild::DemoBuild(Workspace& workspace, const PluginRegistry& plugins, const DemoOptions& options)
    : m_workspace(workspace)
    , m_plugins(plugins)
    , m_options(options)
    , m_plan(buildPlan(options.quick, options.seed))
    , m_key(buildKey(m_plan, options.seed, options.quick))
    , m_dir(workspace.root() / "demo" / ((options.quick ? "quick-" : "build-") + m_key))
{ }

void DemoBuild::say(const std::string& line) const
{
    if (m_options.progress)
        m_options.progress(line);
}

std::vector<DemoStage> DemoBuild::ensure()
{
    if (reuseStamped()) {
        importDatasets();
        return { { "data", 0, true }, { "tokenizer", 0, true }, { "pretraining", 0, true } };
    }
    if (fs::exists(m_dir))
        fs::remove_all(m_dir);
    fs::create_directories(dataDir());
    std::vector<DemoStage> stages;

    auto start = Clock::now();
    say("generating the demo data (seed " + std::to_string(m_options.seed) + ")");
    const DemoWorld world(m_options.seed, m_plan.world);
    const std::vector<json> corpus = writeData(world);
    stages.push_back({ "data", secondsSince(start), false });

    start = Clock::now();
    const fs::path tokenizerDir = trainTokenizer(world, corpus);
    stages.push_back({ "tokenizer", secondsSince(start), false });

    start = Clock::now();
    const std::int64_t pretrainRun = pretrain(tokenizerDir, corpus.size());
    stages.push_back({ "pretraining", secondsSince(start), false });
    writeStamp(pretrainRun);
    return stages;
}

bool DemoBuild::reuseStamped()
{
    const fs::path stamp = m_dir / "stamp.json";
    if (!fs::exists(stamp))
        return false;
    const json s = readJsonFile(stamp);
    if (s.value("key", "") != m_key || !fs::exists(modelDir() / "config.json"))
        return false;
    m_cached = true;
    say("reusing the demo model and data in " + m_dir.string() + " (built " + s.value("built", std::string("earlier"))
        + ")");
    return true;
}

// Writes every data file; returns the corpus, which the tokenizer and the pretraining use.
std::vector<json> DemoBuild::writeData(const DemoWorld& world)
{
    const fs::path data = dataDir();
    std::vector<json> corpus = world.corpus();
    writeJsonLines(data / "corpus.jsonl", corpus);
    writeJsonLines(data / "target_train.jsonl", world.targetTrain());
    writeJsonLines(data / "target_eval.jsonl", world.targetEval());
    writeJsonLines(data / "target_eval_probes.jsonl", world.targetEvalProbes());
    writeJsonLines(data / "reference.jsonl", world.reference());
    writeJsonLines(data / "preference.jsonl", world.preferencePairs());
    std::vector<json> probes;
    for (const std::string& prompt : world.probePrompts())
        probes.push_back({ { "prompt", prompt } });
    writeJsonLines(data / "probes.jsonl", probes);
    writeEvaluationTasks(world, data);
    return corpus;
}

fs::path DemoBuild::evaluationTasksFile() const
{
    const fs::path tasks = dataDir() / "eval_tasks.yaml";
    if (fs::exists(tasks) && fs::exists(dataDir() / "eval_facts.jsonl") && fs::exists(dataDir() / "eval_sums.jsonl"))
        return tasks;
    return writeEvaluationTasks(DemoWorld(m_options.seed, m_plan.world), dataDir());
}

fs::path DemoBuild::trainTokenizer(const DemoWorld& world, const std::vector<json>& corpus)
{
    say("training a byte-level BPE tokenizer (" + std::to_string(m_plan.tokenizerVocab) + " tokens)");
    BpeTrainer trainer({ m_plan.tokenizerVocab, 2, { kEos, kBos } });
    for (const json& r : corpus)
        trainer.addText(r.at("text").get<std::string>());
    // The target task's format is new to the model, but its characters should be cheap to write.
    for (const json& r : world.targetTrain())
        trainer.addText(DemoWorld::alpacaPrompt(r.at("instruction").get<std::string>()));
    const BpeModel bpe = trainer.train();
    const fs::path dir = m_dir / "tokenizer";
    writeTokenizerFolder(bpe, dir, { kBos, kEos, kEos, 512 });
    return dir;
}

// A seeded random Llama, trained on the corpus as the run demo-pretrain and written (base + its full adapter) to
// model/. Returns the run's id.
std::int64_t DemoBuild::pretrain(const fs::path& tokenizerDir, std::size_t texts)
{
    const Tokenizer tokenizer = Tokenizer::fromFolder(tokenizerDir);
    RandomModelSpec spec = m_plan.model;
    spec.vocabSize = static_cast<std::int64_t>(tokenizer.vocabSize());
    spec.bosTokenId = *tokenizer.bosId();
    spec.eosTokenIds = { *tokenizer.eosId() };
    spec.padTokenId = *tokenizer.padId();
    const fs::path initDir = m_dir / "init";
    {
        const auto model = createRandomCausalLM(randomModelConfig(spec), m_options.seed);
        saveModelFolder(*model, initDir);
        copyTokenizerFiles(tokenizerDir, initDir);
        say("pretraining a Llama with " + std::to_string(model->parameterCount()) + " parameters (hidden "
            + std::to_string(spec.hiddenSize) + ", " + std::to_string(spec.numLayers) + " layers, vocabulary "
            + std::to_string(spec.vocabSize) + ") on " + std::to_string(texts) + " texts");
    }
    importDatasets();
    json config = m_plan.pretrain;
    config["model"] = initDir.string();
    config["dataset_id"] = m_datasets.at("corpus");
    const std::int64_t runId = trainDemoRun(
        m_workspace, m_plugins, "pretrain", config, "demo pretraining", m_options.threads, m_options.progress);
    exportMergedModel(initDir, m_workspace.runDir(runId) / "adapter", modelDir(), m_plugins);
    fs::remove_all(initDir);
    return runId;
}

void DemoBuild::writeStamp(std::int64_t pretrainRun)
{
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::ostringstream built;
    built << std::put_time(std::gmtime(&now), "%Y-%m-%d %H:%M:%S UTC");
    writeTextFile(m_dir / "stamp.json",
        json({ { "key", m_key }, { "version", kDemoVersion }, { "seed", m_options.seed }, { "quick", m_options.quick },
                 { "pretrain_run", pretrainRun }, { "built", built.str() } })
                .dump(2)
            + "\n");
}

void DemoBuild::importDatasets()
{
    // GRPO's prompts and the pipeline's new facts came after the first builds; they follow from the seed alone,
    // so a stamped build without them gets them here.
    const DemoWorld world(m_options.seed, m_plan.world);
    if (!fs::exists(dataDir() / "grpo_sums.jsonl"))
        writeJsonLines(dataDir() / "grpo_sums.jsonl", world.sumPrompts());
    if (!fs::exists(newFactsFile()))
        writeJsonLines(newFactsFile(), world.newFacts());
    DatasetStore store(m_workspace.db());
    const std::vector<DatasetRecord> existing = store.list();
    for (const char* role : { "corpus", "target_train", "target_eval", "preference", "grpo_sums" }) {
        const fs::path file = dataDir() / (std::string(role) + ".jsonl");
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
                                    : ": line " + std::to_string(r.errors.front().line) + ": " + r.errors.front().field
                            + ": " + r.errors.front().message));
        m_datasets[role] = *r.id;
    }
}

} // namespace tunebench::demo
