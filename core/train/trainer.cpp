#include "core/train/trainer.h"

#include "core/data/dataset_import.h"
#include "core/data/example_encoder.h"
#include "core/device_memory.h"
#include "core/export/peft_adapter.h"
#include "core/method/adapter.h"
#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/model/safetensors.h"
#include "core/runtime.h"
#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/torch_compat.h"
#include "core/train/batching.h"
#include "core/train/checkpoint.h"
#include "core/train/gradients.h"
#include "core/train/lr_schedule.h"
#include "core/train/measures.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/csrc/autograd/autograd.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

using Clock = std::chrono::steady_clock;

struct LoadedData {
    DatasetFormat format = DatasetFormat::Text;
    std::vector<nlohmann::json> records;
    std::string origin; // for messages
};

LoadedData loadData(const TrainConfig& c, Workspace* workspace)
{
    LoadedData d;
    if (c.datasetId) {
        if (!workspace)
            throw InputError("dataset_id " + std::to_string(*c.datasetId) + " needs a workspace");
        const auto record = DatasetStore(workspace->db()).find(*c.datasetId);
        if (!record)
            throw InputError("dataset_id: no dataset with id " + std::to_string(*c.datasetId) + " in workspace "
                + workspace->root().string());
        d.format = datasetFormatFromString(record->format);
        d.records = loadDatasetRecords(*workspace, *c.datasetId);
        d.origin = "dataset " + std::to_string(*c.datasetId);
        return d;
    }
    // A file: read and validated as an import would, without storing it.
    std::optional<DatasetFormat> format;
    if (!c.datasetFormat.empty())
        format = datasetFormatFromString(c.datasetFormat);
    std::vector<RecordError> errors;
    readRecords(
        c.dataset, detectFileType(c.dataset),
        [&](SourceRecord&& r) {
            if (!format)
                format = detectFormat(r.value);
            if (!format)
                throw InputError(c.dataset + ":" + std::to_string(r.line)
                    + ": cannot tell the dataset format from the fields; set dataset_format");
            if (auto n = normalizeRecord(r.value, r.line, *format, {}, errors))
                d.records.push_back(std::move(*n));
            return errors.empty();
        },
        [&](RecordError&& e) { errors.push_back(std::move(e)); });
    if (!errors.empty()) {
        const RecordError& e = errors.front();
        throw InputError(c.dataset + ":" + std::to_string(e.line) + (e.field.empty() ? "" : ": field '" + e.field + "'")
            + ": " + e.message + " (import it with 'tunebench-cli dataset import --skip-invalid' to drop bad records)");
    }
    if (d.records.empty())
        throw InputError(c.dataset + ": no records");
    d.format = *format;
    d.origin = c.dataset;
    return d;
}

// The models an objective runs: the policy (model with adapter) and the
// reference (the adapter switched off, without gradients).
// The policy is the model with its adapter; the reference is the base model:
// the same model with the adapter switched off when it can be, else a frozen
// copy loaded from the model folder (full and partial fine-tuning), made only
// when an objective first asks for it.
class TrainerModels final : public ModelAccess {
public:
    TrainerModels(const CausalLM& model, Adapter& adapter, std::function<std::unique_ptr<CausalLM>()> loadCopy)
        : m_model(model)
        , m_adapter(adapter)
        , m_loadCopy(std::move(loadCopy))
    { }
    ForwardOutput policy(const ForwardInput& input) override { return m_model.forward(input); }
    ForwardOutput reference(const ForwardInput& input) override
    {
        at::NoGradGuard noGrad;
        if (!m_adapter.canDisable()) {
            if (!m_copy) {
                m_copy = m_loadCopy();
                m_copy->setRequiresGrad(false);
            }
            return m_copy->forward(input);
        }
        m_adapter.setEnabled(false);
        struct Restore {
            Adapter& a;
            ~Restore() { a.setEnabled(true); }
        } restore { m_adapter };
        return m_model.forward(input);
    }

    // Frees the frozen copy (its numbers are cached); a later reference() loads it again.
    void dropReference() { m_copy.reset(); }

private:
    const CausalLM& m_model;
    Adapter& m_adapter;
    std::function<std::unique_ptr<CausalLM>()> m_loadCopy;
    std::unique_ptr<CausalLM> m_copy;
};

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

} // namespace

TrainResult runTraining(const TrainConfig& c, const PluginRegistry& plugins, const TrainerOptions& options)
{
    auto emit = [&](nlohmann::json event) {
        if (options.events)
            options.events(event);
    };
    configureThreads(static_cast<int>(c.threads));
    at::manual_seed(c.seed);

    // Model, tokenizer and template.
    LoadOptions load;
    load.device = at::Device(c.device);
    std::unique_ptr<CausalLM> model = loadCausalLM(c.model, load);
    const Tokenizer tokenizer = Tokenizer::fromFolder(c.model);
    const std::optional<ChatTemplate> chatTemplate = ChatTemplate::fromFolderIfPresent(c.model);
    const std::int32_t padId = tokenizer.padId().value_or(tokenizer.eosId().value_or(0));

    // Methods.
    std::unique_ptr<Objective> objective = plugins.createObjective(c.objective);
    objective->configure(c.objectiveParams);
    std::unique_ptr<Adapter> adapter = plugins.createAdapter(c.adapter);

    // Data.
    const LoadedData data = loadData(c, options.workspace);
    EncoderOptions encoderOptions;
    encoderOptions.cutoffLen = c.cutoffLen;
    encoderOptions.trainOnPrompt = c.trainOnPrompt;
    const ExampleEncoder encoder(tokenizer, chatTemplate ? &*chatTemplate : nullptr, encoderOptions);
    const ObjectiveData kind = objective->data();
    std::vector<EncodedExample> sequences;
    std::vector<EncodedPreference> preferences;
    std::int64_t truncated = 0;
    for (std::size_t i = 0; i < data.records.size(); ++i) {
        const std::string where = data.origin + ", record " + std::to_string(i + 1);
        if (kind == ObjectiveData::Sequences) {
            sequences.push_back(encoder.encode(data.records[i], data.format, where));
            truncated += sequences.back().truncated ? 1 : 0;
        } else {
            if (kind == ObjectiveData::PreferencePairs && data.format != DatasetFormat::Preference)
                throw InputError("objective '" + c.objective + "' needs preference pairs (prompt/chosen/rejected), "
                    + data.origin + " holds " + std::string(toString(data.format)) + " data");
            preferences.push_back(encoder.encodePreference(data.records[i], data.format, where));
            truncated += preferences.back().truncated ? 1 : 0;
        }
    }
    // Examples whose response the cut removed entirely train nothing; if that is every example, say why.
    std::int64_t withoutTarget = 0;
    for (const auto& e : sequences)
        withoutTarget += e.trainedTokens() == 0 ? 1 : 0;
    for (const auto& e : preferences)
        withoutTarget += e.chosen.empty() ? 1 : 0;
    const auto n = static_cast<std::int64_t>(kind == ObjectiveData::Sequences ? sequences.size() : preferences.size());
    if (n > 0 && withoutTarget == n)
        throw InputError(data.origin + ": no example keeps a response token within cutoff_len "
            + std::to_string(c.cutoffLen) + " (the prompts fill it); raise cutoff_len or shorten the prompts");
    auto [trainIdx, evalIdx] = splitTrainEval(n, c.valSize, c.seed);
    // Packing: each split's examples, in order, share rows of up to cutoff_len tokens; the rows are what
    // batches draw from. The model keeps the examples apart (segments), so the loss is theirs.
    std::int64_t packedRows = 0;
    if (c.packing) {
        if (kind != ObjectiveData::Sequences)
            throw InputError("packing: objective '" + c.objective
                + "' trains on preference data; packing is for sequence objectives such as sft");
        auto packSubset = [&](const std::vector<std::int64_t>& subset) {
            std::vector<const EncodedExample*> ex;
            for (auto i : subset)
                ex.push_back(&sequences[static_cast<std::size_t>(i)]);
            return packExamples(ex, c.cutoffLen);
        };
        std::vector<EncodedExample> rows = packSubset(trainIdx);
        std::vector<EncodedExample> evalRows = packSubset(evalIdx);
        const auto trainRows = static_cast<std::int64_t>(rows.size());
        rows.insert(rows.end(), std::make_move_iterator(evalRows.begin()), std::make_move_iterator(evalRows.end()));
        sequences = std::move(rows);
        trainIdx.resize(static_cast<std::size_t>(trainRows));
        std::iota(trainIdx.begin(), trainIdx.end(), 0);
        evalIdx.resize(sequences.size() - static_cast<std::size_t>(trainRows));
        std::iota(evalIdx.begin(), evalIdx.end(), trainRows);
        packedRows = static_cast<std::int64_t>(sequences.size());
    }

    at::Tensor referenceCache; // [examples, K]: precomputed reference numbers by example index
    auto makeBatch = [&](const std::vector<std::int64_t>& idx, const std::vector<std::int64_t>& subset) {
        ObjectiveBatch b;
        if (kind == ObjectiveData::Sequences) {
            std::vector<const EncodedExample*> ex;
            for (auto i : idx)
                ex.push_back(&sequences[static_cast<std::size_t>(subset[static_cast<std::size_t>(i)])]);
            b.sequences = collate(ex, padId);
        } else {
            std::vector<const EncodedPreference*> ex;
            for (auto i : idx)
                ex.push_back(&preferences[static_cast<std::size_t>(subset[static_cast<std::size_t>(i)])]);
            b = collatePreferences(ex, padId, kind == ObjectiveData::PreferencePairs);
        }
        auto move = [&](TokenBatch& t) {
            if (t.inputIds.defined()) {
                t.inputIds = t.inputIds.to(model->device());
                t.attentionMask = t.attentionMask.to(model->device());
                t.labels = t.labels.to(model->device());
            }
        };
        if (referenceCache.defined()) {
            std::vector<std::int64_t> examples;
            for (auto i : idx)
                examples.push_back(subset[static_cast<std::size_t>(i)]);
            b.referenceLogProbs = referenceCache.index_select(0, at::tensor(examples, at::kLong));
        }
        move(b.sequences);
        move(b.chosen);
        move(b.rejected);
        if (b.desirable.defined())
            b.desirable = b.desirable.to(model->device());
        return b;
    };
    auto batchTokens = [](const ObjectiveBatch& b) {
        std::int64_t t = 0;
        for (const TokenBatch* tb : { &b.sequences, &b.chosen, &b.rejected }) {
            if (tb->attentionMask.defined())
                t += tb->attentionMask.sum().item<std::int64_t>();
        }
        return t;
    };

    // Adapter and optimiser.
    model->setRequiresGrad(false);
    adapter->attach({ *model, c.adapterParams, c.seed,
        [&tokenizer](const std::string& text) { return tokenizer.encode(text, /*addSpecialTokens=*/true); } });
    if (!c.initAdapter.empty() && !options.resume) {
        // init_adapter: a run id (its runs/<id>/adapter in this workspace), a PEFT folder or a run adapter folder.
        std::filesystem::path source = c.initAdapter;
        if (c.initAdapter.find_first_not_of("0123456789") == std::string::npos) {
            if (!options.workspace)
                throw InputError("init_adapter: run id " + c.initAdapter + " needs a workspace (--workspace)");
            source = options.workspace->runDir(std::stoll(c.initAdapter)) / "adapter";
        }
        initAdapterFrom(source, c.adapter, *adapter, *model, plugins);
    }
    std::vector<ParameterGroup> groups = adapter->parameterGroups(c.weightDecay);
    TrainResult result;
    result.totalParameters = model->parameterCount();
    for (const auto& g : groups) {
        for (const auto& p : g.parameters)
            result.trainableParameters += p.tensor.numel();
    }
    if (result.trainableParameters == 0)
        throw InputError("adapter '" + c.adapter + "' leaves nothing to train on this model");
    auto makeOptimizer = [&c](const std::vector<ParameterGroup>& g) {
        return c.optim == "sgd" ? makeSgd(g, { c.sgdMomentum, false })
                                : makeAdamW(g, { c.adamBeta1, c.adamBeta2, c.adamEpsilon });
    };
    std::unique_ptr<Optimizer> optimizer = makeOptimizer(groups);

    const DataOrder order(static_cast<std::int64_t>(trainIdx.size()), c.batchSize, c.seed);
    const std::int64_t accum = c.gradientAccumulationSteps;
    const std::int64_t stepsPerEpoch = std::max<std::int64_t>(1, (order.batchesPerEpoch() + accum - 1) / accum);
    const std::int64_t totalSteps = c.maxSteps > 0
        ? c.maxSteps
        : std::max<std::int64_t>(
            1, static_cast<std::int64_t>(std::ceil(c.numTrainEpochs * static_cast<double>(stepsPerEpoch))));
    LrSchedule schedule { scheduleTypeFromString(c.lrSchedulerType), c.learningRate,
        c.warmupSteps > 0 ? c.warmupSteps : warmupStepsFromRatio(c.warmupRatio, totalSteps), totalSteps, 0.0 };

    // Store and checkpoints.
    std::optional<BatchWriter> writer;
    if (options.workspace && options.runId)
        writer.emplace(options.workspace->db());
    CheckpointStore checkpoints(options.runDir, c.saveTotalLimit);
    std::int64_t step = 0;
    std::optional<double> bestEval;
    std::int64_t evalsWithoutImprovement = 0;
    std::int64_t skippedSteps = 0;
    auto snapshot = [&]() {
        CheckpointData d;
        d.adapter = adapter->state();
        d.optimizer = optimizer->state();
        d.optimizer["rng.cpu"] = cpuRngState();
        d.trainer = { { "best_eval_loss", bestEval ? nlohmann::json(*bestEval) : nlohmann::json(nullptr) },
            { "evals_without_improvement", evalsWithoutImprovement }, { "skipped_steps", skippedSteps },
            { "total_steps", totalSteps } };
        return d;
    };
    if (options.resume) {
        const auto latest = checkpoints.latest();
        if (!latest)
            throw InputError(
                "cannot resume: the run has no checkpoint in " + (options.runDir / "checkpoints").string());
        CheckpointData d = CheckpointStore::load(*latest);
        adapter->restoreState(d.adapter);
        // The restored state may change what trains (sparse fine-tuning past its dense phase).
        groups = adapter->parameterGroups(c.weightDecay);
        optimizer = makeOptimizer(groups);
        auto rng = d.optimizer.find("rng.cpu");
        if (rng != d.optimizer.end()) {
            setCpuRngState(rng->second);
            d.optimizer.erase(rng);
        }
        optimizer->restoreState(d.optimizer);
        step = d.trainer.at("step").get<std::int64_t>();
        if (!d.trainer["best_eval_loss"].is_null())
            bestEval = d.trainer["best_eval_loss"].get<double>();
        evalsWithoutImprovement = d.trainer.value("evals_without_improvement", std::int64_t { 0 });
        skippedSteps = d.trainer.value("skipped_steps", std::int64_t { 0 });
    }

    auto record = [&](const nlohmann::json& event) {
        emit(event);
        if (writer) {
            const std::string kindName = event.value("event", "");
            if (kindName != "step")
                writer->addEvent(*options.runId, kindName, event.dump());
        }
    };
    auto metric = [&](const std::string& name, double value) {
        if (writer)
            writer->addMetric(*options.runId, step, name, value);
    };

    TrainerModels models(*model, *adapter, [&c, &load]() { return loadCausalLM(c.model, load); });

    // Reference numbers computed once (before any step, so from the base model) and kept in the run folder;
    // a resumed run reads them back. Afterwards the reference model is neither run nor kept.
    if (c.precomputeRefLogProbs) {
        if (!objective->needsReference() || !objective->canCacheReference())
            throw InputError("precompute_ref_log_probs: objective '" + c.objective
                + (objective->needsReference() ? "' cannot precompute its reference numbers"
                                               : "' uses no reference model"));
        const fs::path cachePath = options.runDir / "reference_logps.safetensors";
        const auto started = Clock::now();
        bool loaded = false;
        if (fs::exists(cachePath)) {
            const at::Tensor cached = SafetensorsFile::open(cachePath).tensor("reference_logps");
            if (cached.size(0) == n) {
                referenceCache = cached.clone();
                loaded = true;
            }
        }
        if (!loaded) {
            at::NoGradGuard noGrad;
            std::vector<std::int64_t> all(static_cast<std::size_t>(n));
            std::iota(all.begin(), all.end(), 0);
            std::vector<at::Tensor> parts;
            for (std::int64_t first = 0; first < n; first += c.batchSize) {
                std::vector<std::int64_t> idx;
                for (std::int64_t i = first; i < std::min(n, first + c.batchSize); ++i)
                    idx.push_back(i);
                parts.push_back(objective->referenceLogProbs(makeBatch(idx, all), models).to(at::kCPU));
            }
            referenceCache = at::cat(parts).to(at::kFloat).contiguous();
            fs::create_directories(options.runDir);
            const fs::path temp = cachePath.string() + ".tmp";
            writeSafetensors(temp, { { "reference_logps", referenceCache } }, { { "objective", c.objective } });
            fs::rename(temp, cachePath);
        }
        models.dropReference();
        emit({ { "event", "reference_cached" }, { "examples", n }, { "loaded", loaded }, { "path", cachePath.string() },
            { "seconds", std::chrono::duration<double>(Clock::now() - started).count() } });
    }
    // Mixed precision: the objective's forward passes run under autocast; backward follows it.
    const bool autocast = c.mixedPrecision == "bf16";
    const c10::DeviceType deviceType = model->device().type();
    if (autocast && !compat::hasAutocast(deviceType, at::kBFloat16))
        throw InputError("mixed_precision: bf16 autocast is not available on device " + c.device);
    auto lossOf = [&](const ObjectiveBatch& b) {
        compat::AutocastGuard guard(deviceType, at::kBFloat16, autocast);
        return objective->loss(b, models);
    };
    auto evaluate = [&]() -> std::optional<double> {
        if (evalIdx.empty())
            return std::nullopt;
        at::NoGradGuard noGrad;
        double weighted = 0;
        std::int64_t tokens = 0;
        for (std::size_t first = 0; first < evalIdx.size(); first += static_cast<std::size_t>(c.batchSize)) {
            std::vector<std::int64_t> idx;
            for (std::size_t i = first; i < std::min(evalIdx.size(), first + static_cast<std::size_t>(c.batchSize));
                 ++i)
                idx.push_back(static_cast<std::int64_t>(i));
            const LossOutput out = lossOf(makeBatch(idx, evalIdx));
            weighted += out.loss.item<double>() * static_cast<double>(out.tokens);
            tokens += out.tokens;
        }
        return tokens > 0 ? weighted / static_cast<double>(tokens) : 0.0;
    };
    auto saveCheckpoint = [&]() {
        const fs::path dir = checkpoints.save(step, snapshot());
        record({ { "event", "checkpoint" }, { "step", step }, { "path", dir.string() } });
        return dir;
    };

    record({ { "event", "start" },
        { "run_id", options.runId ? nlohmann::json(*options.runId) : nlohmann::json(nullptr) }, { "step", step },
        { "total_steps", totalSteps }, { "train_examples", trainIdx.size() }, { "eval_examples", evalIdx.size() },
        { "truncated_examples", truncated }, { "examples_without_response", withoutTarget },
        { "packed_rows", packedRows }, { "trainable_parameters", result.trainableParameters },
        { "total_parameters", result.totalParameters }, { "adapter", c.adapter }, { "objective", c.objective } });

    // Samples, diversity, forgetting and weight space while training (measures.h).
    TrainingMeasures measures(
        { c, *model, *adapter, tokenizer, chatTemplate ? &*chatTemplate : nullptr, options.workspace, options.runId,
            writer ? &*writer : nullptr, record, emit, [&c, &load]() { return loadCausalLM(c.model, load); } });
    measures.atStart(step);

    std::int64_t lastStage = -1;
    double lastLoss = NAN;
    while (step < totalSteps) {
        if (options.cancel && options.cancel->load()) {
            result.status = TrainResult::Status::Cancelled;
            break;
        }
        const auto started = Clock::now();
        const std::int64_t firstMicro = step * accum;
        const std::int64_t stage = order.epochOf(firstMicro);
        if (stage != lastStage) {
            adapter->beginStage(stage);
            lastStage = stage;
        }
        // Token-weighted over the whole step, so accumulation equals one big batch.
        std::vector<ObjectiveBatch> micro;
        for (std::int64_t m = firstMicro; m < firstMicro + accum; ++m)
            micro.push_back(makeBatch(order.batch(m), trainIdx));
        optimizer->zeroGrad();
        double stepLoss = 0;
        std::int64_t stepTokens = 0;
        std::int64_t lossTokens = 0;
        std::map<std::string, double> stepMetrics;
        std::vector<LossOutput> outputs;
        for (const ObjectiveBatch& b : micro) {
            outputs.push_back(lossOf(b));
            lossTokens += outputs.back().tokens;
            stepTokens += batchTokens(b);
            for (const auto& [k, v] : outputs.back().metrics)
                stepMetrics[k] += v / static_cast<double>(micro.size());
            // Backward right away frees this micro-batch's activations.
            const double share = static_cast<double>(outputs.back().tokens);
            at::Tensor scaled = outputs.back().loss * (share > 0 ? share : 1.0);
            stepLoss += scaled.item<double>();
            if (outputs.back().loss.requires_grad())
                scaled.backward();
            outputs.back().loss = at::Tensor();
        }
        const double denominator = std::max<std::int64_t>(1, lossTokens);
        for (auto& g : groups) {
            for (auto& p : g.parameters) {
                if (p.tensor.grad().defined())
                    p.tensor.mutable_grad().div_(denominator);
            }
        }
        stepLoss /= denominator;
        const GradNorm norm = clipGradNorm(groups, c.maxGradNorm);
        if (!std::isfinite(stepLoss) || !norm.finite) {
            const std::string what = std::string(!std::isfinite(stepLoss) ? "the loss" : "the gradient norm")
                + " is not finite at step " + std::to_string(step + 1);
            if (c.nanPolicy == "skip") {
                ++skippedSteps;
                optimizer->zeroGrad();
                record({ { "event", "skipped" }, { "step", step + 1 }, { "reason", what } });
                ++step;
                continue;
            }
            saveCheckpoint(); // the weights are still those of the last good step
            if (writer)
                writer->flush();
            throw TrainingError(what
                + "; the run stopped (nan_policy: stop). The last good state is in the newest "
                  "checkpoint; lower the learning rate or set nan_policy: skip");
        }
        const double lr = schedule.lr(step);
        optimizer->step(lr);
        ++step;
        if (adapter->afterStep(step)) {
            groups = adapter->parameterGroups(c.weightDecay);
            optimizer = makeOptimizer(groups);
        }
        lastLoss = stepLoss;
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        const double tokensPerSecond = seconds > 0 ? static_cast<double>(stepTokens) / seconds : 0.0;
        if (step % c.loggingSteps == 0 || step == totalSteps) {
            nlohmann::json event = { { "event", "step" }, { "step", step },
                { "epoch", static_cast<double>(firstMicro + accum) / static_cast<double>(order.batchesPerEpoch()) },
                { "loss", stepLoss }, { "lr", lr }, { "grad_norm", finiteOr(norm.norm, -1) },
                { "tokens_per_s", tokensPerSecond }, { "step_seconds", seconds } };
            for (const auto& [k, v] : stepMetrics)
                event[k] = v;
            if (const auto memory = deviceMemory(model->device())) {
                event["device_memory_mb"] = static_cast<double>(memory->allocated) / (1 << 20);
                event["device_peak_memory_mb"] = static_cast<double>(memory->peakAllocated) / (1 << 20);
            }
            record(event);
            metric("loss", stepLoss);
            metric("lr", lr);
            metric("grad_norm", norm.norm);
            metric("tokens_per_s", tokensPerSecond);
            for (const auto& [k, v] : stepMetrics)
                metric(k, v);
        }
        const bool epochEnd = (step % stepsPerEpoch) == 0;
        const bool evalNow
            = !evalIdx.empty() && (step == totalSteps || (c.evalSteps > 0 ? step % c.evalSteps == 0 : epochEnd));
        if (evalNow) {
            const double evalLoss = *evaluate();
            metric("eval_loss", evalLoss);
            const bool improved = !bestEval || evalLoss < *bestEval - c.earlyStoppingThreshold;
            if (improved) {
                bestEval = evalLoss;
                evalsWithoutImprovement = 0;
                checkpoints.saveBest(step, snapshot());
            } else {
                ++evalsWithoutImprovement;
            }
            record(
                { { "event", "eval" }, { "step", step }, { "eval_loss", evalLoss }, { "best_eval_loss", *bestEval } });
            if (c.earlyStoppingPatience > 0 && evalsWithoutImprovement >= c.earlyStoppingPatience) {
                result.status = TrainResult::Status::EarlyStopped;
                break;
            }
        }
        const bool checkpointNow = c.saveSteps > 0 && step % c.saveSteps == 0 && step < totalSteps;
        if (checkpointNow)
            saveCheckpoint();
        measures.afterStep(step, totalSteps, checkpointNow);
    }
    saveCheckpoint();
    {
        const fs::path adapterDir = options.runDir / "adapter";
        fs::create_directories(adapterDir);
        writeSafetensors(adapterDir / "adapter.safetensors", adapter->state(), { { "format", "pt" } });
        // What loads the adapter again (tunebench-cli measure forgetting --adapter DIR).
        std::ofstream(adapterDir / "adapter_config.json", std::ios::binary) << nlohmann::json(
            { { "adapter", c.adapter }, { "params", c.adapterParams }, { "model", c.model },
                { "seed", c.seed } }).dump(2);
    }
    if (result.status != TrainResult::Status::Cancelled)
        measures.atEnd(step);
    result.steps = step;
    result.lastLoss = lastLoss;
    result.bestEvalLoss = bestEval;
    const char* status = result.status == TrainResult::Status::Cancelled ? "cancelled"
        : result.status == TrainResult::Status::EarlyStopped             ? "early_stopped"
                                                                         : "finished";
    record({ { "event", "finished" },
        { "run_id", options.runId ? nlohmann::json(*options.runId) : nlohmann::json(nullptr) }, { "status", status },
        { "steps", step }, { "loss", finiteOr(lastLoss, -1) },
        { "best_eval_loss", bestEval ? nlohmann::json(*bestEval) : nlohmann::json(nullptr) },
        { "skipped_steps", skippedSteps } });
    if (writer)
        writer->flush();
    return result;
}

} // namespace tunebench
