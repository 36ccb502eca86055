#include "core/train/measures.h"

#include "core/evaluation/evaluate.h"
#include "core/method/adapter.h"
#include "core/metrics/diversity.h"
#include "core/metrics/forgetting.h"
#include "core/metrics/sample_measures.h"
#include "core/metrics/weight_space.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_weights.h"
#include "core/store/batch_writer.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <fstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

using Clock = std::chrono::steady_clock;

std::vector<std::string> readPrompts(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError("sample_prompts: cannot open " + path + " for reading");
    std::vector<std::string> prompts;
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos)
            continue;
        if (line.front() == '{') {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            const auto p = j.is_object() ? j.find("prompt") : j.end();
            if (j.is_discarded() || !j.is_object() || p == j.end() || !p->is_string())
                throw InputError(path + ":" + std::to_string(lineNo)
                    + ": field 'prompt' must be a string (a line is a prompt, or a JSON object {\"prompt\": ...})");
            prompts.push_back(p->get<std::string>());
        } else {
            prompts.push_back(line);
        }
    }
    if (prompts.empty())
        throw InputError("sample_prompts: " + path + " holds no prompt");
    return prompts;
}

} // namespace

struct TrainingMeasures::Data {
    std::vector<std::string> prompts;
    std::vector<std::vector<std::int32_t>> promptIds;
    std::optional<ReferenceSet> reference;
    EncodedReference encodedReference;
    std::string cacheKey;
    std::optional<ReferenceScores> cachedBase;
    std::unique_ptr<CausalLM> baseCopy;
    std::optional<ModelWeights> baseWeights;
    bool pendingSamples = false;
    bool pendingForgetting = false;
    bool pendingWeights = false;
    std::optional<EvalTaskFile> evalTasks;
    EvalOptions evalOptions;
    std::string evalCacheKey;
    std::optional<nlohmann::json> evalBase;
    bool pendingEvaluation = false;
};

TrainingMeasures::TrainingMeasures(Context context)
    : m_context(std::move(context))
    , m_data(std::make_unique<Data>())
    , m_started(Clock::now())
{
    const TrainConfig& c = m_context.config;
    m_data->prompts = c.samplePromptsFile.empty() ? c.samplePrompts : readPrompts(c.samplePromptsFile);
    for (std::size_t i = 0; i < m_data->prompts.size(); ++i) {
        const std::string& prompt = m_data->prompts[i];
        std::vector<std::int32_t> ids;
        if (m_context.chatTemplate) {
            nlohmann::ordered_json messages = nlohmann::ordered_json::array();
            messages.push_back({ { "role", "user" }, { "content", prompt } });
            ids = m_context.tokenizer.encode(m_context.chatTemplate->render(messages, true));
        } else {
            ids = m_context.tokenizer.encode(prompt, /*addSpecialTokens=*/true);
        }
        if (ids.empty() && m_context.tokenizer.bosId())
            ids.push_back(*m_context.tokenizer.bosId());
        if (ids.empty())
            throw InputError("sample_prompts: prompt " + std::to_string(i + 1)
                + " encodes to no tokens and the tokenizer has no BOS token to start from");
        m_data->promptIds.push_back(std::move(ids));
    }
    if (!c.forgettingReference.empty()) {
        m_data->reference = ReferenceSet::load(c.forgettingReference);
        m_data->encodedReference = encodeReference(*m_data->reference, m_context.tokenizer, c.cutoffLen);
        if (m_context.workspace) {
            m_data->cacheKey = forgettingCacheKey(c.model, *m_data->reference, c.cutoffLen);
            m_data->cachedBase = loadCachedBaseScores(m_context.workspace->root(), m_data->cacheKey);
        }
    }
    if (!c.evaluationTasks.empty()) {
        try {
            m_data->evalTasks = EvalTaskFile::load(c.evaluationTasks);
        } catch (const InputError& e) {
            throw InputError(std::string("evaluation.tasks: ") + e.what());
        }
        m_data->evalOptions.limit = c.evaluationLimit;
        if (m_context.workspace)
            m_data->evalCacheKey = evaluationCacheKey(c.model, *m_data->evalTasks, m_data->evalOptions);
    }
}

TrainingMeasures::~TrainingMeasures() = default;

bool TrainingMeasures::enabled() const
{
    return !m_data->prompts.empty() || m_data->reference || m_context.config.weightAnalysis || m_data->evalTasks;
}

double TrainingMeasures::timeShare() const
{
    const double elapsed = std::chrono::duration<double>(Clock::now() - m_started).count();
    return elapsed > 0 ? std::min(1.0, m_seconds / elapsed) : 0.0;
}

const CausalLM& TrainingMeasures::select(bool base)
{
    if (m_context.adapter.canDisable()) {
        m_context.adapter.setEnabled(!base);
        return m_context.model;
    }
    if (!base)
        return m_context.model;
    if (!m_data->baseCopy) {
        m_data->baseCopy = m_context.loadBase();
        m_data->baseCopy->setRequiresGrad(false);
    }
    return *m_data->baseCopy;
}

void TrainingMeasures::metric(std::int64_t step, const std::string& name, double value)
{
    if (m_context.writer && m_context.runId)
        m_context.writer->addMetric(*m_context.runId, step, name, value);
}

void TrainingMeasures::atStart(std::int64_t step)
{
    m_firstStep = step;
    if (step == 0 && enabled())
        measure(step, Samples | Forgetting | Evaluation);
}

void TrainingMeasures::afterStep(std::int64_t step, std::int64_t totalSteps, bool checkpointSaved)
{
    const TrainConfig& c = m_context.config;
    if (step >= totalSteps)
        return; // atEnd measures the last step
    Data& d = *m_data;
    d.pendingSamples = d.pendingSamples || (!d.prompts.empty() && c.sampleSteps > 0 && step % c.sampleSteps == 0);
    d.pendingForgetting
        = d.pendingForgetting || (d.reference && c.forgettingSteps > 0 && step % c.forgettingSteps == 0);
    d.pendingWeights = d.pendingWeights || (c.weightAnalysis && checkpointSaved);
    d.pendingEvaluation
        = d.pendingEvaluation || (d.evalTasks && c.evaluationSteps > 0 && step % c.evaluationSteps == 0);
    const int what = (d.pendingSamples ? Samples : 0) | (d.pendingForgetting ? Forgetting : 0)
        | (d.pendingWeights ? Weights : 0) | (d.pendingEvaluation ? Evaluation : 0);
    if (what == 0)
        return;
    // Run it only if the share stays within the budget at the end of the run: what was spent, this
    // measurement and the one at the end (each as long as its kind took last time), against the
    // projected wall time (the remaining steps at the mean step time so far).
    const double elapsed = std::chrono::duration<double>(Clock::now() - m_started).count();
    const std::int64_t stepsDone = std::max<std::int64_t>(1, step - m_firstStep);
    const double stepSeconds = std::max(0.0, elapsed - m_seconds) / static_cast<double>(stepsDone);
    auto cost = [&](int kinds) {
        double s = 0;
        for (int k : { Samples, Forgetting, Weights, Evaluation })
            s += (kinds & k) ? m_lastCost[k] : 0.0;
        return s;
    };
    const double atEnd = cost(Samples | Forgetting | Weights | Evaluation);
    const double projected = elapsed + static_cast<double>(totalSteps - step) * stepSeconds + cost(what) + atEnd;
    if (m_seconds + cost(what) + atEnd > c.measureTimeBudget * projected) {
        ++m_deferred;
        return;
    }
    measure(step, what);
}

void TrainingMeasures::atEnd(std::int64_t step)
{
    if (!enabled())
        return;
    measure(step, Samples | Forgetting | Weights | Evaluation);
    const double share = timeShare();
    m_context.record(
        { { "event", "measures" }, { "step", step }, { "measurements", m_measurements }, { "deferred", m_deferred },
            { "seconds", m_seconds }, { "time_share", share }, { "time_budget", m_context.config.measureTimeBudget } });
}

void TrainingMeasures::measure(std::int64_t step, int what)
{
    Data& d = *m_data;
    auto timed = [this](int kind, auto&& run) {
        const double before = m_seconds;
        run();
        m_lastCost[kind] = m_seconds - before;
    };
    if ((what & Samples) && !d.prompts.empty()) {
        timed(Samples, [&] { sampleAndDiversity(step); });
        d.pendingSamples = false;
    }
    if ((what & Forgetting) && d.reference) {
        timed(Forgetting, [&] { forgetting(step); });
        d.pendingForgetting = false;
    }
    if ((what & Weights) && m_context.config.weightAnalysis) {
        timed(Weights, [&] { weights(step); });
        d.pendingWeights = false;
    }
    if ((what & Evaluation) && d.evalTasks) {
        timed(Evaluation, [&] { evaluation(step); });
        d.pendingEvaluation = false;
    }
}

// Long for a reason: sampling, the diversity metrics and their recording share the generated batch and the
// measure budget's clock, in the order the run's events report them.
void TrainingMeasures::sampleAndDiversity(std::int64_t step)
{
    const auto started = Clock::now();
    const TrainConfig& c = m_context.config;
    const Tokenizer& tokenizer = m_context.tokenizer;
    struct Restore {
        TrainingMeasures& m;
        ~Restore() { m.select(false); }
    } restore { *this };
    const CausalLM& tuned = select(false);

    GenerationOptions o;
    o.maxNewTokens = c.sampleMaxNewTokens;
    o.sample = c.sampleTemperature > 0;
    o.sampling.temperature = c.sampleTemperature > 0 ? c.sampleTemperature : 1.0;
    o.sampling.topP = c.sampleTopP;
    for (auto id : tuned.config().eosTokenIds)
        o.eosTokenIds.push_back(id);
    if (tokenizer.eosId())
        o.eosTokenIds.push_back(*tokenizer.eosId());
    o.padTokenId = tokenizer.padId();

    std::vector<DiversitySample> samples;
    std::vector<std::vector<std::int32_t>> continuations;
    std::vector<std::size_t> promptOf;
    EntropySum entropy;
    double generationSeconds = 0, entropySeconds = 0;
    nlohmann::json list = nlohmann::json::array();
    for (std::size_t p = 0; p < d().prompts.size(); ++p) {
        o.seed = c.seed + p;
        const std::vector<std::vector<std::int32_t>> batch(
            static_cast<std::size_t>(c.samplesPerPrompt), d().promptIds[p]);
        auto mark = Clock::now();
        const std::vector<GeneratedSequence> out = generate(tuned, batch, o);
        generationSeconds += std::chrono::duration<double>(Clock::now() - mark).count();
        for (std::size_t k = 0; k < out.size(); ++k) {
            std::vector<std::int32_t> tokens = out[k].tokens;
            mark = Clock::now();
            const EntropySum e = continuationEntropy(tuned, d().promptIds[p], tokens);
            entropySeconds += std::chrono::duration<double>(Clock::now() - mark).count();
            entropy.sum += e.sum;
            entropy.count += e.count;
            if (out[k].reason == FinishReason::Eos && !tokens.empty())
                tokens.pop_back(); // the EOS token is not text
            std::string text = tokenizer.decode(tokens, /*skipSpecialTokens=*/true);
            if (m_context.writer && m_context.runId)
                m_context.writer->addSample(*m_context.runId, step, static_cast<int>(p), static_cast<int>(k),
                    d().prompts[p], text, static_cast<std::int64_t>(o.seed));
            list.push_back({ { "prompt_index", p }, { "sample_index", k }, { "seed", o.seed }, { "text", text } });
            samples.push_back({ d().prompts[p], std::move(text) });
            continuations.push_back(std::move(tokens));
            promptOf.push_back(p);
        }
    }
    if (m_context.emit)
        m_context.emit({ { "event", "samples" }, { "step", step }, { "prompts", d().prompts }, { "samples", list } });

    auto mark = Clock::now();
    const DiversityResult r = measureDiversity(samples);
    const double textSeconds = std::chrono::duration<double>(Clock::now() - mark).count();
    mark = Clock::now();
    const PooledEmbeddings embeddings = meanPooledEmbeddings(select(true), continuations);
    const double embeddingDistance = meanPairwiseCosineDistance(embeddings);
    double perInputEmbedding = 0;
    for (std::size_t p = 0; p < d().prompts.size(); ++p) {
        std::vector<std::size_t> rows;
        for (std::size_t i = 0; i < promptOf.size(); ++i) {
            if (promptOf[i] == p)
                rows.push_back(i);
        }
        perInputEmbedding += meanPairwiseCosineDistance(embeddings, rows);
    }
    perInputEmbedding /= static_cast<double>(d().prompts.size());
    select(false);
    const double embeddingSeconds = std::chrono::duration<double>(Clock::now() - mark).count();

    nlohmann::json values = nlohmann::json::object();
    for (std::size_t n = 0; n < r.distinct.size(); ++n) {
        const std::string suffix = std::to_string(n + 1);
        values["distinct_" + suffix] = r.distinct[n];
        values["ead_" + suffix] = r.ead[n];
        values["per_input_distinct_" + suffix] = r.perInputDistinct[n];
        values["per_input_ead_" + suffix] = r.perInputEad[n];
    }
    values["self_bleu"] = r.selfBleu;
    values["per_input_self_bleu"] = r.perInputSelfBleu;
    values["embedding_distance"] = embeddingDistance;
    values["per_input_embedding_distance"] = perInputEmbedding;
    values["token_entropy"] = entropy.mean();
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m_seconds += seconds;
    ++m_measurements;
    for (auto it = values.begin(); it != values.end(); ++it)
        metric(step, "diversity/" + it.key(), it.value().get<double>());
    metric(step, "measure_time_share", timeShare());
    m_context.record({ { "event", "measure" }, { "kind", "diversity" }, { "step", step }, { "samples", samples.size() },
        { "values", values }, { "seconds", seconds },
        { "seconds_by_part",
            { { "generation", generationSeconds }, { "token_entropy", entropySeconds }, { "text", textSeconds },
                { "embedding", embeddingSeconds } } },
        { "time_share", timeShare() } });
}

void TrainingMeasures::forgetting(std::int64_t step)
{
    const auto started = Clock::now();
    struct Restore {
        TrainingMeasures& m;
        ~Restore() { m.select(false); }
    } restore { *this };
    const ForgettingResult r = measureForgetting([this](bool base) -> const CausalLM& { return select(base); },
        m_context.tokenizer, d().encodedReference, d().cachedBase);
    if (!r.baseFromCache) {
        d().cachedBase = r.base;
        if (m_context.workspace)
            storeCachedBaseScores(m_context.workspace->root(), d().cacheKey, r.base);
    }
    // Without probes the model need not generate for the base numbers again; the
    // frozen copy stays for the KL of later measurements.
    nlohmann::json values = { { "loss", r.tuned.loss }, { "base_loss", r.base.loss }, { "delta_loss", r.deltaLoss() },
        { "perplexity", r.tuned.perplexity() }, { "delta_perplexity", r.deltaPerplexity() }, { "kl", r.kl } };
    if (r.tuned.probes > 0) {
        values["probe_accuracy"] = r.tuned.accuracy();
        values["base_probe_accuracy"] = r.base.accuracy();
        values["probe_accuracy_delta"] = r.probeAccuracyDelta();
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m_seconds += seconds;
    ++m_measurements;
    for (auto it = values.begin(); it != values.end(); ++it)
        metric(step, "forgetting/" + it.key(), it.value().get<double>());
    metric(step, "measure_time_share", timeShare());
    m_context.record(
        { { "event", "measure" }, { "kind", "forgetting" }, { "step", step }, { "reference", d().reference->path },
            { "tokens", r.tuned.tokens }, { "probes", r.tuned.probes }, { "base_cached", r.baseFromCache },
            { "values", values }, { "seconds", seconds }, { "time_share", timeShare() } });
}

void TrainingMeasures::weights(std::int64_t step)
{
    const auto started = Clock::now();
    at::NoGradGuard noGrad;
    if (!d().baseWeights)
        d().baseWeights.emplace(ModelWeights::open(m_context.config.model));
    const ModelWeights& base = *d().baseWeights;
    const WeightSpaceOptions options;
    nlohmann::json layers = nlohmann::json::array();
    double totalUpdate = 0, totalBase = 0, rankSum = 0;
    std::int64_t changed = 0, intruders = 0;
    for (const Linear* layer : m_context.model.linears()) {
        const std::string name = layer->name() + ".weight";
        if (!base.contains(name))
            continue;
        at::Tensor w0 = base.tensor(name).to(at::kDouble);
        if (layer->layout() == Linear::Layout::InOut)
            w0 = w0.t();
        // The layer's effective weight, adapter hooks included: L(I) - L(0) = W^T.
        const at::TensorOptions o
            = at::TensorOptions().dtype(layer->weight().scalar_type()).device(layer->weight().device());
        const at::Tensor eye = at::eye(layer->inFeatures(), o);
        const at::Tensor w1 = (layer->forward(eye) - layer->forward(at::zeros({ 1, layer->inFeatures() }, o)))
                                  .t()
                                  .to(at::kCPU, at::kDouble);
        if (w0.sizes() != w1.sizes())
            continue;
        const at::Tensor delta = w1 - w0;
        const double baseNorm = w0.norm().item<double>();
        const double updateNorm = delta.norm().item<double>();
        double rank = 0;
        std::int64_t found = 0;
        if (updateNorm > 0) {
            rank = effectiveRank(delta);
            found = intruderDimensions(w0, w1, options.intruderTopK, options.intruderThreshold);
            rankSum += rank;
            ++changed;
        }
        totalUpdate += updateNorm * updateNorm;
        totalBase += baseNorm * baseNorm;
        intruders += found;
        layers.push_back({ { "name", layer->name() }, { "update_norm", updateNorm },
            { "relative_update", baseNorm > 0 ? updateNorm / baseNorm : 0.0 }, { "effective_rank", rank },
            { "intruder_dimensions", found } });
    }
    const nlohmann::json values = { { "update_norm", std::sqrt(totalUpdate) },
        { "relative_update", totalBase > 0 ? std::sqrt(totalUpdate / totalBase) : 0.0 },
        { "effective_rank", changed > 0 ? rankSum / static_cast<double>(changed) : 0.0 },
        { "intruder_dimensions", static_cast<double>(intruders) }, { "changed_layers", static_cast<double>(changed) } };
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m_seconds += seconds;
    ++m_measurements;
    for (auto it = values.begin(); it != values.end(); ++it)
        metric(step, "weights/" + it.key(), it.value().get<double>());
    metric(step, "measure_time_share", timeShare());
    m_context.record({ { "event", "measure" }, { "kind", "weights" }, { "step", step }, { "values", values },
        { "layers", layers }, { "intruder_top_k", options.intruderTopK },
        { "intruder_threshold", options.intruderThreshold }, { "seconds", seconds }, { "time_share", timeShare() } });
}

void TrainingMeasures::evaluation(std::int64_t step)
{
    const auto started = Clock::now();
    struct Restore {
        TrainingMeasures& m;
        ~Restore() { m.select(false); }
    } restore { *this };
    Data& data = d();
    bool baseCached = false;
    if (!data.evalBase && m_context.workspace)
        data.evalBase = loadCachedEvaluation(m_context.workspace->root(), data.evalCacheKey);
    if (data.evalBase) {
        baseCached = true;
    } else {
        data.evalBase
            = evaluationJson(evaluateTasks(select(true), m_context.tokenizer, *data.evalTasks, data.evalOptions));
        if (m_context.workspace)
            storeCachedEvaluation(m_context.workspace->root(), data.evalCacheKey, *data.evalBase);
    }
    const nlohmann::json tuned
        = evaluationJson(evaluateTasks(select(false), m_context.tokenizer, *data.evalTasks, data.evalOptions));
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m_seconds += seconds;
    ++m_measurements;
    if (m_context.writer && m_context.runId) {
        if (step == 0)
            writeEvaluationMetrics(*m_context.writer, *m_context.runId, 0, "eval_base", *data.evalBase);
        writeEvaluationMetrics(*m_context.writer, *m_context.runId, step, "eval", tuned);
        writeEvaluationDeltas(*m_context.writer, *m_context.runId, step, tuned, *data.evalBase);
    }
    metric(step, "measure_time_share", timeShare());
    m_context.record({ { "event", "measure" }, { "kind", "evaluation" }, { "step", step },
        { "tasks_file", data.evalTasks->path }, { "values", tuned["tasks"] }, { "base", (*data.evalBase)["tasks"] },
        { "base_cached", baseCached }, { "seconds", seconds }, { "time_share", timeShare() } });
}

} // namespace tunebench
