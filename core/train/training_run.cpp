#include "core/train/training_run.h"

#include "core/device_memory.h"
#include "core/distributed/communicator.h"
#include "core/distributed/data_parallel.h"
#include "core/export/peft_adapter.h"
#include "core/method/adapter.h"
#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/model/safetensors.h"
#include "core/reward/reward_set.h"
#include "core/runtime.h"
#include "core/store/batch_writer.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/torch_compat.h"
#include "core/train/adapter_attach.h"
#include "core/train/batching.h"
#include "core/train/checkpoint.h"
#include "core/train/gradients.h"
#include "core/train/measures.h"
#include "core/train/mezo.h"
#include "core/train/optimizer.h"
#include "core/train/teacher.h"
#include "core/train/throughput.h"
#include "core/train/trainer_models.h"
#include "core/train/training_examples.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <cmath>
#include <numeric>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

using Clock = std::chrono::steady_clock;

// The objective's state (Objective::state) travels in the checkpoint's optimizer file under this prefix.
constexpr const char* kObjectiveStatePrefix = "objective.";

at::Tensor cpuRngState()
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return gen.get_state();
}

void setCpuRngState(const at::Tensor& state)
{
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(state);
}

double finiteOr(double x, double fallback)
{
    return std::isfinite(x) ? x : fallback;
}

std::vector<std::int64_t> range(std::int64_t first, std::int64_t end)
{
    std::vector<std::int64_t> r(static_cast<std::size_t>(std::max<std::int64_t>(0, end - first)));
    std::iota(r.begin(), r.end(), first);
    return r;
}

// init_adapter: a run id (its runs/<id>/adapter in this workspace), a PEFT folder or a run adapter folder.
fs::path initAdapterSource(const TrainConfig& c, const TrainerOptions& options)
{
    if (c.initAdapter.find_first_not_of("0123456789") != std::string::npos)
        return c.initAdapter;
    if (!options.workspace)
        throw InputError("init_adapter: run id " + c.initAdapter + " needs a workspace (--workspace)");
    return options.workspace->runDir(std::stoll(c.initAdapter)) / "adapter";
}

} // namespace

struct TrainingRun::Accumulated {
    double loss = 0; // token-weighted over the step's micro-batches
    std::int64_t tokens = 0; // all tokens the step read (throughput)
    std::int64_t lossTokens = 0; // tokens its loss was taken over
    std::map<std::string, double> metrics; // the objective's, averaged over micro-batches
    std::int64_t rankTokens = 0; // tokens this rank read (several processes)
    AttentionWork work; // this rank's, for its model FLOPs
    int passes = 3; // forward-pass equivalents per token (MeZO: 2)
};

TrainingRun::TrainingRun(const TrainConfig& c, const PluginRegistry& plugins, const TrainerOptions& options)
    : m_config(c)
    , m_options(options)
    , m_lastLoss(NAN)
{
    configureThreads(static_cast<int>(c.threads));
    at::manual_seed(c.seed);
    if (options.communicator) {
        // MeZO's two forwards per step are not split over ranks (each would repeat the same estimate).
        if (c.optim == "mezo")
            throw InputError("optim: mezo runs in one process; remove the distributed settings or choose adamw");
        m_parallel = std::make_unique<DataParallel>(*options.communicator);
        m_lead = m_parallel->lead();
    }

    LoadOptions load;
    load.device = at::Device(c.device);
    m_model = loadCausalLM(c.model, load);
    m_model->setGradientCheckpointing(c.gradientCheckpointing);
    m_deviceType = m_model->device().type();
    m_tokenizer = std::make_unique<Tokenizer>(Tokenizer::fromFolder(c.model));
    if (auto t = ChatTemplate::fromFolderIfPresent(c.model))
        m_chatTemplate = std::make_unique<ChatTemplate>(std::move(*t));
    m_objective = plugins.createObjective(c.objective);
    m_objective->configure(c.objectiveParams);
    setUpRollouts(plugins);
    m_examples = std::make_unique<TrainingExamples>(
        c, options.workspace, *m_tokenizer, m_chatTemplate.get(), m_objective->data());

    m_adapter = attachAdapter(plugins, c.adapter, *m_model, c.adapterParams, c.seed,
        [this](const std::string& text) { return m_tokenizer->encode(text, /*addSpecialTokens=*/true); });
    if (!c.initAdapter.empty() && !options.resume)
        initAdapterFrom(initAdapterSource(c, options), c.adapter, *m_adapter, *m_model, plugins);
    m_result.totalParameters = m_model->parameterCount();
    m_objective->attach(m_model->config(), m_model->device());
    m_result.trainableParameters = trainableElements(*m_adapter);
    for (const ParameterGroup& group : m_objective->parameterGroups(0.0))
        for (const NamedParameter& p : group.parameters)
            m_result.trainableParameters += p.tensor.numel();
    rebuildOptimizer();
    if (m_result.trainableParameters == 0)
        throw InputError("adapter '" + c.adapter + "' leaves nothing to train on this model");

    m_order = std::make_unique<DataOrder>(static_cast<std::int64_t>(m_examples->train().size()), c.batchSize, c.seed);
    const std::int64_t accum = c.gradientAccumulationSteps * (m_parallel ? m_parallel->worldSize() : 1);
    m_microPerStep = accum;
    m_stepsPerBatch = std::max<std::int64_t>(1, m_objective->stepsPerBatch());
    m_stepsPerEpoch = std::max<std::int64_t>(1, (m_order->batchesPerEpoch() + accum - 1) / accum) * m_stepsPerBatch;
    m_totalSteps = c.maxSteps > 0
        ? c.maxSteps
        : std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::ceil(c.numTrainEpochs * static_cast<double>(m_stepsPerEpoch))));
    m_schedule = { scheduleTypeFromString(c.lrSchedulerType), c.learningRate,
        c.warmupSteps > 0 ? c.warmupSteps : warmupStepsFromRatio(c.warmupRatio, m_totalSteps), m_totalSteps, 0.0 };

    // Mixed precision: the objective's forward passes run under autocast; backward follows it.
    m_autocast = c.mixedPrecision == "bf16";
    if (m_autocast && !compat::hasAutocast(m_deviceType, at::kBFloat16))
        throw InputError("mixed_precision: bf16 autocast is not available on device " + c.device);

    if (options.workspace && options.runId && m_lead)
        m_writer = std::make_unique<BatchWriter>(options.workspace->db());
    m_checkpoints = std::make_unique<CheckpointStore>(options.runDir, c.saveTotalLimit);
    auto loadBase = [&c, load]() { return loadCausalLM(c.model, load); };
    m_models = std::make_unique<TrainerModels>(*m_model, *m_adapter, loadBase);
    if (const std::string teacher = m_objective->teacherModel(); !teacher.empty())
        m_models->setTeacher(loadTeacher(teacher, *m_model, *m_tokenizer, load));
    // Samples, diversity, forgetting and weight space while training (measures.h).
    m_measures = std::make_unique<TrainingMeasures>(TrainingMeasures::Context { c, *m_model, *m_adapter, *m_tokenizer,
        m_chatTemplate.get(), options.workspace, options.runId, m_writer.get(),
        [this](const nlohmann::json& e) { record(e); }, [this](const nlohmann::json& e) { emit(e); }, loadBase });
    // Dropout and sampling draw from each rank's own stream; rank 0's is the single process's.
    if (m_parallel && !m_lead)
        at::manual_seed(c.seed + static_cast<std::uint64_t>(m_parallel->rank()) * 0x9E3779B9ULL);
}

TrainingRun::~TrainingRun() = default;

// Online objectives (prompt data) sample completions and score them with the run's reward functions; their
// completions go to the samples table as they are sampled.
void TrainingRun::setUpRollouts(const PluginRegistry& plugins)
{
    const bool online = m_objective->data() == ObjectiveData::Prompts;
    if (!online) {
        if (!m_config.rewards.empty())
            throw InputError("rewards: objective '" + m_config.objective
                + "' does not sample completions, so it uses no reward functions (grpo does)");
        return;
    }
    if (m_config.rewards.empty())
        throw InputError("rewards: objective '" + m_config.objective
            + "' needs at least one reward function, e.g. rewards: [{type: numeric, weight: 1.0}]");
    RewardContext context;
    context.policyModel = m_config.model;
    context.device = m_config.device;
    if (m_options.workspace)
        context.workspace = m_options.workspace->root();
    m_rewards = std::make_unique<RewardSet>(m_config.rewards, plugins, context);
    m_rollout = std::make_unique<RolloutContext>();
    m_rollout->rewards = m_rewards.get();
    m_rollout->decode
        = [this](std::span<const std::int32_t> ids) { return m_tokenizer->decode(ids, /*skipSpecialTokens=*/true); };
    for (auto id : m_model->config().eosTokenIds)
        m_rollout->eosTokenIds.push_back(id);
    if (m_tokenizer->eosId())
        m_rollout->eosTokenIds.push_back(*m_tokenizer->eosId());
    m_rollout->padTokenId = m_tokenizer->padId();
    m_rollout->seed = m_config.seed;
    m_rollout->recordCompletions = [this](std::int64_t step, const std::vector<CompletionRecord>& completions) {
        nlohmann::json list = nlohmann::json::array();
        for (const CompletionRecord& r : completions) {
            if (m_writer)
                m_writer->addSample(*m_options.runId, step, static_cast<int>(r.example), r.sampleIndex, r.prompt,
                    r.text, static_cast<std::int64_t>(r.seed));
            nlohmann::json scores = nlohmann::json::object();
            for (std::size_t i = 0; i < r.rewards.size() && i < m_rewards->size(); ++i)
                scores[m_rewards->name(i)] = r.rewards[i];
            list.push_back({ { "example", r.example }, { "sample_index", r.sampleIndex }, { "seed", r.seed },
                { "text", r.text }, { "reward", r.reward }, { "rewards", scores } });
        }
        record({ { "event", "completions" }, { "step", step }, { "completions", list } });
    };
}

void TrainingRun::rebuildOptimizer()
{
    m_groups = m_adapter->parameterGroups(m_config.weightDecay);
    for (ParameterGroup& group : m_objective->parameterGroups(m_config.weightDecay))
        m_groups.push_back(std::move(group));
    if (m_config.optim == "mezo")
        m_optimizer = makeMezo(m_groups, { m_config.mezoEps, m_config.seed });
    else if (m_config.optim == "sgd")
        m_optimizer = makeSgd(m_groups, { m_config.sgdMomentum, false });
    else
        m_optimizer = makeAdamW(m_groups, { m_config.adamBeta1, m_config.adamBeta2, m_config.adamEpsilon });
    // Every rank starts from rank 0's trainable values (and takes them again when the trainable set changes).
    if (m_parallel)
        m_parallel->attach(m_groups, /*broadcastValues=*/true);
}

bool TrainingRun::cancelRequested(bool requestedHere)
{
    return m_parallel ? m_parallel->any(requestedHere) : requestedHere;
}

void TrainingRun::resume()
{
    const auto latest = m_checkpoints->latest();
    if (!latest)
        throw InputError("cannot resume: the run has no checkpoint in " + (m_options.runDir / "checkpoints").string());
    CheckpointData d = CheckpointStore::load(*latest);
    m_adapter->restoreState(d.adapter);
    // The restored state may change what trains (sparse fine-tuning past its dense phase).
    rebuildOptimizer();
    // Each rank continues its own random stream; from a run with fewer ranks, a rank without one
    // restarts its stream from the seed (said in an event).
    const std::int64_t rank = m_parallel ? m_parallel->rank() : 0;
    const std::string ownKey = "rng.cpu.rank" + std::to_string(rank);
    auto own = d.optimizer.find(ownKey);
    auto rng = own != d.optimizer.end() ? own : (rank == 0 ? d.optimizer.find("rng.cpu") : d.optimizer.end());
    if (rng != d.optimizer.end())
        setCpuRngState(rng->second);
    else
        record({ { "event", "rng_reseeded" }, { "rank", rank },
            { "reason", "the checkpoint holds no random state for this rank (saved by fewer ranks)" } });
    std::int64_t savedRanks = 0;
    for (auto it = d.optimizer.begin(); it != d.optimizer.end();) {
        if (it->first.rfind("rng.cpu", 0) == 0) {
            savedRanks += it->first != "rng.cpu" ? 1 : 0;
            it = d.optimizer.erase(it);
        } else {
            ++it;
        }
    }
    std::map<std::string, at::Tensor> objectiveState;
    for (auto it = d.optimizer.begin(); it != d.optimizer.end();) {
        if (it->first.rfind(kObjectiveStatePrefix, 0) == 0) {
            objectiveState[it->first.substr(std::string_view(kObjectiveStatePrefix).size())] = it->second;
            it = d.optimizer.erase(it);
        } else {
            ++it;
        }
    }
    m_objective->restoreState(objectiveState);
    const std::int64_t world = m_parallel ? m_parallel->worldSize() : 1;
    if (savedRanks > 0 && savedRanks != world)
        record({ { "event", "world_size_changed" }, { "saved_ranks", savedRanks }, { "ranks", world },
            { "note",
                "resuming with another number of processes: the data order continues from the same step, "
                "the result is not bit-identical to an uninterrupted run" } });
    m_optimizer->restoreState(d.optimizer);
    m_step = d.trainer.at("step").get<std::int64_t>();
    if (!d.trainer["best_eval_loss"].is_null())
        m_bestEval = d.trainer["best_eval_loss"].get<double>();
    m_evalsWithoutImprovement = d.trainer.value("evals_without_improvement", std::int64_t { 0 });
    m_skippedSteps = d.trainer.value("skipped_steps", std::int64_t { 0 });
    // Rows of the steps after the checkpoint came from the interrupted attempt; those steps run again.
    if (m_writer && m_options.runId) {
        const std::size_t removed = m_writer->discardAfter(*m_options.runId, m_step);
        if (removed > 0)
            record({ { "event", "rows_discarded" }, { "after_step", m_step }, { "rows", removed } });
    }
}

void TrainingRun::cacheReference()
{
    if (!m_objective->needsReference() || !m_objective->canCacheReference())
        throw InputError("precompute_ref_log_probs: objective '" + m_config.objective
            + (m_objective->needsReference() ? "' cannot precompute its reference numbers"
                                             : "' uses no reference model"));
    const fs::path cachePath = m_options.runDir / "reference_logps.safetensors";
    const auto started = Clock::now();
    const std::int64_t n = m_examples->size();
    bool loaded = false;
    if (fs::exists(cachePath)) {
        const at::Tensor cached = SafetensorsFile::open(cachePath).tensor("reference_logps");
        if (cached.size(0) == n) {
            m_examples->setReferenceCache(cached.clone());
            loaded = true;
        }
    }
    if (!loaded) {
        at::NoGradGuard noGrad;
        const std::vector<std::int64_t> all = range(0, n);
        std::vector<at::Tensor> parts;
        for (std::int64_t first = 0; first < n; first += m_config.batchSize) {
            const auto batch
                = m_examples->batch(range(first, std::min(n, first + m_config.batchSize)), all, m_model->device());
            parts.push_back(m_objective->referenceLogProbs(batch, *m_models).to(at::kCPU));
        }
        const at::Tensor cache = at::cat(parts).to(at::kFloat).contiguous();
        if (m_lead) {
            fs::create_directories(m_options.runDir);
            const fs::path temp = cachePath.string() + ".tmp";
            writeSafetensors(temp, { { "reference_logps", cache } }, { { "objective", m_config.objective } });
            fs::rename(temp, cachePath);
        }
        m_examples->setReferenceCache(cache);
    }
    m_models->dropReference();
    emit({ { "event", "reference_cached" }, { "examples", n }, { "loaded", loaded }, { "path", cachePath.string() },
        { "seconds", std::chrono::duration<double>(Clock::now() - started).count() } });
}

void TrainingRun::begin()
{
    record({ { "event", "start" },
        { "run_id", m_options.runId ? nlohmann::json(*m_options.runId) : nlohmann::json(nullptr) }, { "step", m_step },
        { "total_steps", m_totalSteps }, { "train_examples", m_examples->train().size() },
        { "eval_examples", m_examples->eval().size() }, { "truncated_examples", m_examples->truncated() },
        { "examples_without_response", m_examples->withoutTarget() }, { "packed_rows", m_examples->packedRows() },
        { "trainable_parameters", m_result.trainableParameters }, { "total_parameters", m_result.totalParameters },
        { "adapter", m_config.adapter }, { "objective", m_config.objective },
        { "world_size", m_parallel ? m_parallel->worldSize() : 1 } });
    if (m_lead)
        m_measures->atStart(m_step);
}

bool TrainingRun::done() const
{
    return m_stoppedEarly || m_step >= m_totalSteps;
}

LossOutput TrainingRun::lossOf(const ObjectiveBatch& batch)
{
    compat::AutocastGuard guard(m_deviceType, at::kBFloat16, m_autocast);
    return m_objective->loss(batch, *m_models);
}

// Backward right after each micro-batch frees its activations; the gradients are then divided
// by the step's loss tokens, so accumulation equals one big token-weighted batch.
TrainingRun::Accumulated TrainingRun::accumulateGradients(std::int64_t firstMicro)
{
    std::vector<std::int64_t> indices = m_parallel ? m_parallel->localMicroBatches(firstMicro, m_microPerStep)
                                                   : range(firstMicro, firstMicro + m_microPerStep);
    std::vector<ObjectiveBatch> micro;
    for (const std::int64_t m : indices) {
        micro.push_back(m_examples->batch(m_order->batch(m), m_examples->train(), m_model->device()));
        micro.back().step = m_step;
        micro.back().micro = m - firstMicro;
        micro.back().rollout = m_rollout.get();
    }
    m_optimizer->zeroGrad();
    Accumulated a;
    StepSums sums;
    for (const ObjectiveBatch& b : micro) {
        if (m_parallel && &b == &micro.back())
            m_parallel->beforeLastBackward();
        LossOutput out = lossOf(b);
        a.lossTokens += out.tokens;
        a.tokens += TrainingExamples::tokens(b);
        for (const TokenBatch* tb : { &b.sequences, &b.chosen, &b.rejected })
            a.work += attentionWork(*tb);
        for (const auto& [k, v] : out.metrics) {
            a.metrics[k] += v / static_cast<double>(micro.size());
            sums.metricSums[k] += v;
        }
        const double share = static_cast<double>(out.tokens);
        const at::Tensor scaled = out.loss * (share > 0 ? share : 1.0);
        a.loss += scaled.item<double>();
        if (out.loss.requires_grad())
            scaled.backward();
    }
    if (m_parallel) {
        // Summed over ranks: the gradients in place, the numbers here; then divided as one process divides.
        sums.scaledLoss = a.loss;
        sums.tokens = a.tokens;
        sums.lossTokens = a.lossTokens;
        sums.microBatches = static_cast<std::int64_t>(micro.size());
        a.rankTokens = a.tokens;
        const StepSums all = m_parallel->reduce(sums);
        a.loss = all.scaledLoss;
        a.tokens = all.tokens;
        a.lossTokens = all.lossTokens;
        for (auto& [k, v] : a.metrics)
            v = all.metricSums.at(k) / static_cast<double>(std::max<std::int64_t>(1, all.microBatches));
    }
    const double denominator = static_cast<double>(std::max<std::int64_t>(1, a.lossTokens));
    for (auto& g : m_groups) {
        for (auto& p : g.parameters) {
            if (p.tensor.grad().defined())
                p.tensor.mutable_grad().div_(denominator);
        }
    }
    a.loss /= denominator;
    return a;
}

// MeZO: the step's loss at theta + eps z and theta - eps z, token-weighted over its micro-batches as
// accumulateGradients weighs them, without gradients. Logged: their mean (the loss at theta up to
// O(eps^2)), both losses and the projected gradient; the objective's metrics from the first pass.
TrainingRun::Accumulated TrainingRun::zerothOrderEstimate(std::int64_t firstMicro)
{
    at::NoGradGuard noGrad;
    const std::int64_t accum = m_config.gradientAccumulationSteps;
    std::vector<ObjectiveBatch> micro;
    for (std::int64_t m = firstMicro; m < firstMicro + accum; ++m)
        micro.push_back(m_examples->batch(m_order->batch(m), m_examples->train(), m_model->device()));
    Accumulated a;
    a.passes = 2;
    bool firstPass = true;
    auto loss = [&]() {
        double weighted = 0;
        std::int64_t lossTokens = 0;
        for (const ObjectiveBatch& b : micro) {
            const LossOutput out = lossOf(b);
            weighted += out.loss.item<double>() * static_cast<double>(out.tokens > 0 ? out.tokens : 1);
            lossTokens += out.tokens;
            if (firstPass) {
                a.tokens += TrainingExamples::tokens(b);
                for (const TokenBatch* tb : { &b.sequences, &b.chosen, &b.rejected })
                    a.work += attentionWork(*tb);
                for (const auto& [k, v] : out.metrics)
                    a.metrics[k] += v / static_cast<double>(micro.size());
            }
        }
        firstPass = false;
        a.lossTokens = lossTokens;
        return weighted / static_cast<double>(std::max<std::int64_t>(1, lossTokens));
    };
    const MezoEstimate e = static_cast<MezoOptimizer&>(*m_optimizer).estimate(loss);
    a.loss = 0.5 * (e.lossPlus + e.lossMinus);
    a.metrics["mezo_loss_plus"] = e.lossPlus;
    a.metrics["mezo_loss_minus"] = e.lossMinus;
    a.metrics["mezo_projected_grad"] = e.projectedGrad;
    return a;
}

void TrainingRun::skipOrStop(const std::string& what)
{
    if (m_config.nanPolicy == "skip") {
        ++m_skippedSteps;
        m_optimizer->zeroGrad();
        record({ { "event", "skipped" }, { "step", m_step + 1 }, { "reason", what } });
        ++m_step;
        return;
    }
    saveCheckpoint(); // the weights are still those of the last good step
    if (m_writer)
        m_writer->flush();
    throw TrainingError(what
        + "; the run stopped (nan_policy: stop). The last good state is in the newest "
          "checkpoint; lower the learning rate or set nan_policy: skip");
}

void TrainingRun::step()
{
    const auto started = Clock::now();
    // An objective may train several steps on one batch (GRPO's num_iterations): the batch changes after them.
    const std::int64_t firstMicro = (m_step / m_stepsPerBatch) * m_microPerStep;
    const std::int64_t stage = m_order->epochOf(firstMicro);
    if (stage != m_lastStage) {
        m_adapter->beginStage(stage);
        m_lastStage = stage;
    }
    const bool zerothOrder = m_config.optim == "mezo";
    const Accumulated a = zerothOrder ? zerothOrderEstimate(firstMicro) : accumulateGradients(firstMicro);
    GradNorm norm;
    if (zerothOrder) { // no gradient to clip: the norm is the projected gradient's size
        norm.norm = std::abs(a.metrics.at("mezo_projected_grad"));
        norm.finite = std::isfinite(norm.norm);
    } else {
        norm = clipGradNorm(m_groups, m_config.maxGradNorm);
    }
    if (!std::isfinite(a.loss) || !norm.finite) {
        skipOrStop(std::string(!std::isfinite(a.loss) ? "the loss" : "the gradient norm") + " is not finite at step "
            + std::to_string(m_step + 1));
        return;
    }
    const double lr = m_schedule.lr(m_step);
    m_optimizer->step(lr);
    ++m_step;
    if (m_adapter->afterStep(m_step))
        rebuildOptimizer();
    m_lastLoss = a.loss;
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    if (m_step % m_config.loggingSteps == 0 || m_step == m_totalSteps)
        logStep(a, lr, firstMicro, seconds, norm.norm);
    evaluateIfDue();
    if (m_stoppedEarly)
        return;
    const bool checkpointNow = m_config.saveSteps > 0 && m_step % m_config.saveSteps == 0 && m_step < m_totalSteps;
    if (checkpointNow)
        saveCheckpoint();
    if (m_lead)
        m_measures->afterStep(m_step, m_totalSteps, checkpointNow);
}

void TrainingRun::logStep(const Accumulated& a, double lr, std::int64_t firstMicro, double seconds, double gradNorm)
{
    const double tokensPerSecond = seconds > 0 ? static_cast<double>(a.tokens) / seconds : 0.0;
    const double epoch
        = static_cast<double>(firstMicro + m_microPerStep) / static_cast<double>(m_order->batchesPerEpoch());
    nlohmann::json event = { { "event", "step" }, { "step", m_step }, { "epoch", epoch }, { "loss", a.loss },
        { "lr", lr }, { "grad_norm", finiteOr(gradNorm, -1) }, { "tokens_per_s", tokensPerSecond },
        { "step_seconds", seconds } };
    for (const auto& [k, v] : a.metrics)
        event[k] = v;
    // Examples of the whole global batch (a preference pair is one), read from the order: no communication.
    std::int64_t samples = 0;
    for (std::int64_t m = firstMicro; m < firstMicro + m_microPerStep; ++m)
        samples += static_cast<std::int64_t>(m_order->batch(m).size());
    const double samplesPerSecond = seconds > 0 ? static_cast<double>(samples) / seconds : 0.0;
    event["samples_per_s"] = samplesPerSecond;
    // MFU of this rank's device (each rank has one): the model FLOPs of what it computed over its peak.
    std::optional<double> mfu;
    if (a.work.tokens > 0 && seconds > 0) {
        if (!m_peakFlops) {
            const bool sixteenBit = m_autocast || m_model->dtype() == at::kBFloat16 || m_model->dtype() == at::kHalf;
            m_peakFlops = devicePeakFlops(m_model->device(), sixteenBit);
            record({ { "event", "throughput_reference" }, { "peak_flops", m_peakFlops->flopsPerSecond },
                { "peak_source", m_peakFlops->source }, { "matmul_weights", matmulWeights(m_model->config()) } });
        }
        const double flops = modelFlops(m_model->config(), a.work, a.passes);
        event["model_flops_per_s"] = flops / seconds;
        if (m_peakFlops->flopsPerSecond > 0) {
            mfu = flops / seconds / m_peakFlops->flopsPerSecond;
            event["mfu"] = *mfu;
        }
    }
    if (m_parallel) {
        // Each rank's throughput and the communication it waited for (after backward: what hooks did not hide).
        const auto& sync = m_parallel->lastSync();
        event["world_size"] = m_parallel->worldSize();
        event["rank_tokens_per_s"]
            = m_parallel->gather(seconds > 0 ? static_cast<double>(a.rankTokens) / seconds : 0.0);
        event["rank_comm_seconds"] = m_parallel->gather(m_parallel->lastCommSeconds());
        event["allreduce_bytes"] = sync.bytes;
        event["allreduce_buckets"] = sync.buckets;
        event["buckets_overlapped"] = sync.bucketsFromHooks;
    }
    if (const auto memory = deviceMemory(m_model->device())) {
        event["device_memory_mb"] = static_cast<double>(memory->allocated) / (1 << 20);
        event["device_peak_memory_mb"] = static_cast<double>(memory->peakAllocated) / (1 << 20);
    }
    record(event);
    metric("loss", a.loss);
    metric("lr", lr);
    metric("grad_norm", gradNorm);
    metric("tokens_per_s", tokensPerSecond);
    metric("samples_per_s", samplesPerSecond);
    if (mfu)
        metric("mfu", *mfu);
    for (const auto& [k, v] : a.metrics)
        metric(k, v);
}

std::optional<double> TrainingRun::evaluate()
{
    const std::vector<std::int64_t>& evalIdx = m_examples->eval();
    if (evalIdx.empty())
        return std::nullopt;
    at::NoGradGuard noGrad;
    double weighted = 0;
    std::int64_t tokens = 0;
    m_evalMetrics.clear();
    const auto n = static_cast<std::int64_t>(evalIdx.size());
    // Several processes: rank r takes batches r, r+W, ...; the sums are then added up over ranks.
    const std::int64_t stride = m_parallel ? m_parallel->worldSize() : 1;
    std::int64_t batchIndex = 0;
    for (std::int64_t first = 0; first < n; first += m_config.batchSize, ++batchIndex) {
        if (m_parallel && batchIndex % stride != m_parallel->rank())
            continue;
        ObjectiveBatch batch
            = m_examples->batch(range(first, std::min(n, first + m_config.batchSize)), evalIdx, m_model->device());
        batch.rollout = m_rollout.get();
        const LossOutput out = lossOf(batch);
        weighted += out.loss.item<double>() * static_cast<double>(out.tokens);
        tokens += out.tokens;
        for (const auto& [k, v] : out.metrics)
            m_evalMetrics[k] += v * static_cast<double>(out.tokens);
    }
    // The objective's metrics over the split (a reward model's held-out accuracy), weighted as the loss is; on
    // several processes only the loss is summed over ranks, so they are left out there.
    if (m_parallel)
        m_evalMetrics.clear();
    for (auto& [k, v] : m_evalMetrics)
        v /= static_cast<double>(std::max<std::int64_t>(1, tokens));
    if (m_parallel)
        std::tie(weighted, tokens) = m_parallel->sum(weighted, tokens);
    return tokens > 0 ? weighted / static_cast<double>(tokens) : 0.0;
}

// At the last step, and every eval_steps (or at each epoch's end); the best state is kept, and
// early stopping counts evaluations without improvement.
void TrainingRun::evaluateIfDue()
{
    if (m_examples->eval().empty())
        return;
    const bool epochEnd = (m_step % m_stepsPerEpoch) == 0;
    if (m_step != m_totalSteps && !(m_config.evalSteps > 0 ? m_step % m_config.evalSteps == 0 : epochEnd))
        return;
    const double evalLoss = *evaluate();
    metric("eval_loss", evalLoss);
    if (!m_bestEval || evalLoss < *m_bestEval - m_config.earlyStoppingThreshold) {
        m_bestEval = evalLoss;
        m_evalsWithoutImprovement = 0;
        CheckpointData best = snapshot(); // on every rank: it gathers their random states
        if (m_lead)
            m_checkpoints->saveBest(m_step, best);
    } else {
        ++m_evalsWithoutImprovement;
    }
    nlohmann::json event
        = { { "event", "eval" }, { "step", m_step }, { "eval_loss", evalLoss }, { "best_eval_loss", *m_bestEval } };
    for (const auto& [k, v] : m_evalMetrics) {
        event["eval_" + k] = v;
        metric("eval_" + k, v);
    }
    record(event);
    if (m_config.earlyStoppingPatience > 0 && m_evalsWithoutImprovement >= m_config.earlyStoppingPatience)
        m_stoppedEarly = true;
}

CheckpointData TrainingRun::snapshot() const
{
    CheckpointData d;
    d.adapter = m_adapter->state();
    d.optimizer = m_optimizer->state();
    d.optimizer["rng.cpu"] = cpuRngState();
    for (const auto& [name, tensor] : m_objective->state())
        d.optimizer[kObjectiveStatePrefix + name] = tensor;
    if (m_parallel) {
        const std::vector<at::Tensor> states = m_parallel->gather(d.optimizer["rng.cpu"]);
        for (std::size_t r = 0; r < states.size(); ++r)
            d.optimizer["rng.cpu.rank" + std::to_string(r)] = states[r];
    }
    d.trainer = { { "best_eval_loss", m_bestEval ? nlohmann::json(*m_bestEval) : nlohmann::json(nullptr) },
        { "evals_without_improvement", m_evalsWithoutImprovement }, { "skipped_steps", m_skippedSteps },
        { "total_steps", m_totalSteps } };
    return d;
}

void TrainingRun::saveCheckpoint()
{
    // The rows of the steps the checkpoint covers are committed first: a resume recomputes only the steps
    // after it, so a row still buffered when the worker is killed would otherwise never be written.
    if (m_writer)
        m_writer->flush();
    CheckpointData d = snapshot(); // on every rank: it gathers their random states
    if (!m_lead)
        return;
    const fs::path dir = m_checkpoints->save(m_step, d);
    record({ { "event", "checkpoint" }, { "step", m_step }, { "path", dir.string() } });
}

// What loads the adapter again (measure forgetting --adapter, export, init_adapter).
void TrainingRun::writeAdapter() const
{
    if (!m_lead)
        return;
    RunAdapterFiles { m_config.adapter, m_config.adapterParams, m_config.seed, m_config.model, m_adapter->state() }
        .write(m_options.runDir / "adapter");
    // The objective's own trained tensors (a reward model's head), named as in Hugging Face's folders.
    NamedTensors own;
    for (const ParameterGroup& group : m_objective->parameterGroups(0.0))
        for (const NamedParameter& p : group.parameters)
            own.emplace_back(p.name, p.tensor.detach().to(at::kCPU).contiguous());
    if (!own.empty()) {
        const fs::path path = m_options.runDir / "objective.safetensors";
        const fs::path temp = path.string() + ".tmp";
        writeSafetensors(temp, own, { { "format", "pt" }, { "objective", m_config.objective } });
        fs::rename(temp, path);
    }
}

TrainResult TrainingRun::finish(TrainResult::Status status)
{
    if (m_stoppedEarly)
        status = TrainResult::Status::EarlyStopped;
    saveCheckpoint();
    writeAdapter();
    if (status != TrainResult::Status::Cancelled && m_lead)
        m_measures->atEnd(m_step);
    m_result.status = status;
    m_result.steps = m_step;
    m_result.lastLoss = m_lastLoss;
    m_result.bestEvalLoss = m_bestEval;
    const char* name = status == TrainResult::Status::Cancelled ? "cancelled"
        : status == TrainResult::Status::EarlyStopped           ? "early_stopped"
                                                                : "finished";
    record({ { "event", "finished" },
        { "run_id", m_options.runId ? nlohmann::json(*m_options.runId) : nlohmann::json(nullptr) }, { "status", name },
        { "steps", m_step }, { "loss", finiteOr(m_lastLoss, -1) },
        { "best_eval_loss", m_bestEval ? nlohmann::json(*m_bestEval) : nlohmann::json(nullptr) },
        { "skipped_steps", m_skippedSteps } });
    if (m_writer)
        m_writer->flush();
    return m_result;
}

void TrainingRun::emit(const nlohmann::json& event) const
{
    if (m_options.events)
        m_options.events(event);
}

// Sent to the sink, and stored as an event unless it is a step (steps are stored as metrics).
void TrainingRun::record(const nlohmann::json& event)
{
    emit(event);
    if (m_writer) {
        const std::string kind = event.value("event", "");
        if (kind != "step")
            m_writer->addEvent(*m_options.runId, kind, event.dump());
    }
}

void TrainingRun::metric(const std::string& name, double value)
{
    if (m_writer)
        m_writer->addMetric(*m_options.runId, m_step, name, value);
}

} // namespace tunebench
