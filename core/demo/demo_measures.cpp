#include "core/demo/demo_measures.h"

#include "core/demo/demo_build.h"
#include "core/evaluation/evaluate.h"
#include "core/metrics/diversity.h"
#include "core/metrics/forgetting.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/quant/quantize.h"
#include "core/store/batch_writer.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <algorithm>
#include <fstream>

namespace tunebench::demo {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr std::int64_t kMaxReferenceTokens = 256;

} // namespace

DemoMeasures::DemoMeasures(Workspace& workspace, const PluginRegistry& plugins, const fs::path& modelDir,
    const fs::path& dataDir, std::uint64_t seed, const fs::path& tasksFile)
    : m_workspace(workspace)
    , m_plugins(plugins)
    , m_modelDir(modelDir)
    , m_dataDir(dataDir)
    , m_seed(seed)
    , m_base(loadCausalLM(modelDir))
    , m_tokenizer(std::make_unique<Tokenizer>(Tokenizer::fromFolder(modelDir)))
{
    if (!tasksFile.empty())
        m_tasks = std::make_unique<EvalTaskFile>(EvalTaskFile::load(tasksFile));
}

DemoMeasures::~DemoMeasures() = default;

std::int64_t DemoMeasures::modelParameters() const
{
    return m_base->parameterCount();
}

std::int64_t DemoMeasures::baseWeightBytes(const std::string& scheme) const
{
    const quant::Scheme q = quant::schemeFromString(scheme, "quantize_base");
    std::int64_t bytes = 0;
    for (const auto& [name, w] : m_base->namedParameters()) {
        // Quantised as LoRA's all-linear would: the decoder layers' projections, never embeddings or norms.
        const bool linear = w.dim() == 2 && name.find("layers.") != std::string::npos;
        if (linear && q != quant::Scheme::None)
            bytes += quant::quantize(w.detach(), q).bytes();
        else
            bytes += w.numel() * static_cast<std::int64_t>(w.element_size());
    }
    return bytes;
}

void DemoMeasures::measure(const RunRecord& run, DemoRun& row)
{
    // The model the run trained on: its configuration's `model` (a preset may start from another run's model).
    fs::path modelDir = run.modelPath.empty() ? m_modelDir : fs::path(run.modelPath);
    const json config = json::parse(run.configJson, nullptr, false);
    if (config.is_object() && config.contains("model") && config["model"].is_string())
        modelDir = config["model"].get<std::string>();
    const std::unique_ptr<CausalLM> tuned = loadCausalLM(modelDir);
    const fs::path adapterDir = m_workspace.runDir(run.id) / "adapter";
    if (!RunAdapterFiles::exists(adapterDir))
        throw Error(
            "run " + std::to_string(run.id) + " (" + row.name + ") has no adapter folder " + adapterDir.string());
    const std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *tuned, m_plugins, modelDir);
    const ForgettingResult target = score(*tuned, "target_eval_probes.jsonl");
    const ForgettingResult reference = score(*tuned, "reference.jsonl");
    row.targetLoss = target.tuned.loss;
    row.targetAccuracy = target.tuned.accuracy();
    row.referenceDeltaLoss = reference.deltaLoss();
    row.referenceKl = reference.kl;
    row.distinct2 = distinct2(*tuned);
    if (m_tasks) {
        row.evaluation = flatEvaluation(evaluate(*tuned));
        // Where the run started from another run's model, that model is its "before".
        if (modelDir == m_modelDir) {
            row.evaluationBase = flatEvaluation(baseEvaluation(m_modelDir, *m_base));
        } else {
            const std::unique_ptr<CausalLM> start = loadCausalLM(modelDir);
            row.evaluationBase = flatEvaluation(baseEvaluation(modelDir, *start));
        }
    }
}

json DemoMeasures::evaluate(const CausalLM& model) const
{
    return evaluationJson(evaluateTasks(model, *m_tokenizer, *m_tasks));
}

json DemoMeasures::baseEvaluation(const fs::path& modelDir, const CausalLM& base)
{
    const std::string key = evaluationCacheKey(modelDir, *m_tasks, {});
    if (auto cached = loadCachedEvaluation(m_workspace.root(), key))
        return std::move(*cached);
    json values = evaluate(base);
    storeCachedEvaluation(m_workspace.root(), key, values);
    return values;
}

std::map<std::string, double> flatEvaluation(const json& evaluation)
{
    std::map<std::string, double> out;
    for (const auto& [task, metrics] : evaluation.at("tasks").items()) {
        for (const auto& [metric, value] : metrics.items()) {
            if (metric != "n" && value.is_number())
                out[task + "/" + metric] = value.get<double>();
        }
    }
    return out;
}

ForgettingResult DemoMeasures::score(const CausalLM& tuned, const std::string& file)
{
    const ReferenceSet set = ReferenceSet::load(m_dataDir / file);
    const EncodedReference encoded = encodeReference(set, *m_tokenizer, kMaxReferenceTokens);
    const std::string key = forgettingCacheKey(m_modelDir, set, kMaxReferenceTokens);
    const auto cached = loadCachedBaseScores(m_workspace.root(), key);
    const ForgettingResult r = measureForgetting(
        [&](bool base) -> const CausalLM& { return base ? *m_base : tuned; }, *m_tokenizer, encoded, cached);
    if (!r.baseFromCache)
        storeCachedBaseScores(m_workspace.root(), key, r.base);
    return r;
}

double DemoMeasures::distinct2(const CausalLM& tuned)
{
    std::vector<std::vector<std::int32_t>> prompts;
    std::vector<std::string> texts;
    std::ifstream in(m_dataDir / "probes.jsonl");
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
    g.seed = m_seed;
    g.eosTokenIds = { *m_tokenizer->eosId() };
    const std::vector<GeneratedSequence> out = generate(tuned, prompts, g);
    std::vector<DiversitySample> samples;
    for (std::size_t i = 0; i < out.size(); ++i)
        samples.push_back({ texts[i], m_tokenizer->decode(out[i].tokens, true) });
    return measureDiversity(samples).distinct.at(1);
}

std::string measuresKey(std::int64_t runId)
{
    return std::string(kDemoVersion) + "/" + std::to_string(runId);
}

json measuresToJson(const DemoRun& row, const std::string& key, double seconds)
{
    return { { "key", key }, { "target_loss", row.targetLoss }, { "target_accuracy", row.targetAccuracy },
        { "reference_delta_loss", row.referenceDeltaLoss }, { "reference_kl", row.referenceKl },
        { "distinct_2", row.distinct2 }, { "evaluation", row.evaluation }, { "evaluation_base", row.evaluationBase },
        { "seconds", seconds } };
}

void measuresFromJson(const json& cached, DemoRun& row)
{
    row.targetLoss = cached.at("target_loss");
    row.targetAccuracy = cached.at("target_accuracy");
    row.referenceDeltaLoss = cached.at("reference_delta_loss");
    row.referenceKl = cached.at("reference_kl");
    row.distinct2 = cached.at("distinct_2");
    row.evaluation = cached.value("evaluation", std::map<std::string, double> {});
    row.evaluationBase = cached.value("evaluation_base", std::map<std::string, double> {});
}

std::optional<double> trainableShare(const RunStore& runs, std::int64_t runId)
{
    for (const EventRecord& e : runs.events(runId)) {
        if (e.kind != "start")
            continue;
        const json s = json::parse(e.payloadJson, nullptr, false);
        const double total = s.value("total_parameters", 0.0);
        if (total > 0)
            return s.value("trainable_parameters", 0.0) / total;
    }
    return std::nullopt;
}

void recordMeasureMetrics(Workspace& workspace, std::int64_t runId, const DemoRun& row)
{
    const MetricQuery query(workspace.db());
    const std::vector<std::string> names = query.names(runId);
    std::int64_t step = 0;
    for (const MetricSummary& m : query.summary(runId))
        step = std::max(step, m.lastStep);
    BatchWriter writer(workspace.db());
    // Once per run and name: a run measured by an earlier demo gains only what it lacks (the evaluation tasks).
    auto add = [&](std::int64_t at, const std::string& name, double value) {
        if (!std::binary_search(names.begin(), names.end(), name))
            writer.addMetric(runId, at, name, value);
    };
    add(step, "demo/target_loss", row.targetLoss);
    add(step, "demo/target_accuracy", row.targetAccuracy);
    add(step, "forgetting/delta_loss", row.referenceDeltaLoss);
    add(step, "forgetting/kl", row.referenceKl);
    add(step, "diversity/distinct_2", row.distinct2);
    add(step, "demo/trainable_share", row.trainableShare);
    // As `tunebench-cli evaluate --run` stores them: the run's at its last step, the model it started from at 0.
    for (const auto& [key, value] : row.evaluation) {
        add(step, "eval/" + key, value);
        if (const auto base = row.evaluationBase.find(key); base != row.evaluationBase.end()) {
            add(0, "eval_base/" + key, base->second);
            add(step, "eval_delta/" + key, value - base->second);
        }
    }
    writer.flush();
}

} // namespace tunebench::demo
