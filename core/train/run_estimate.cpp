#include "core/train/run_estimate.h"

#include "core/data/example_encoder.h"
#include "core/method/adapter.h"
#include "core/method/objective.h"
#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear_cross_entropy.h"
#include "core/model/model_loader.h"
#include "core/model/model_weights.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/adapter_attach.h"
#include "core/train/train_config.h"
#include "core/util/error.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <optional>

namespace tunebench {

namespace fs = std::filesystem;

ModelFolderFacts inspectModelFolder(const fs::path& dir, std::uintmax_t loadLimitBytes)
{
    if (!fs::is_directory(dir))
        throw InputError(dir.string() + ": not a folder (choose a Hugging Face model folder)");
    ModelFolderFacts out;
    out.config = readModelConfig(dir / "config.json");
    validateModelConfig(out.config, (dir / "config.json").string());
    const ModelWeights weights = ModelWeights::open(dir);
    for (const fs::path& f : weights.files())
        out.weightFileBytes += fs::file_size(f);
    out.loadable = out.weightFileBytes <= loadLimitBytes;
    if (out.loadable) {
        out.parameters = loadCausalLM(dir)->parameterCount();
    } else {
        // Counted from the headers; a stored copy of tied output weights is not a parameter.
        for (const std::string& name : weights.names()) {
            if (out.config.tieWordEmbeddings && name == "lm_head.weight")
                continue;
            out.parameters += weights.tensor(name).numel();
        }
    }
    Tokenizer::fromFolder(dir); // a run needs one: refuse the folder now if it has none
    // A run formats chat records with it, and refuses a template that does not parse.
    out.chatTemplate = ChatTemplate::fromFolderIfPresent(dir).has_value();
    return out;
}

TrainableCount countTrainable(
    const fs::path& modelDir, const ModelFolderFacts& facts, const MethodChoice& method, const PluginRegistry& plugins)
{
    TrainableCount out;
    nlohmann::json objectiveConfig = method.objectiveParams;
    const nlohmann::json objectiveParams = plugins.require(PluginKind::Objective, method.objective)
                                               .schema.resolve(objectiveConfig, "objective " + method.objective);
    std::unique_ptr<Objective> objective = plugins.createObjective(method.objective);
    objective->configure(objectiveParams);
    out.objectiveNeedsReference = objective->needsReference();
    out.pairwise = objective->data() == ObjectiveData::PreferencePairs;
    // Counted from its files' headers, not loaded: a run checks the rest (tokenizer, vocabulary) when it starts.
    if (const std::string teacher = objective->teacherModel(); !teacher.empty())
        out.teacherParameters = inspectModelFolder(teacher, 0).parameters;
    nlohmann::json adapterConfig = method.adapterParams;
    const nlohmann::json adapterParams = plugins.require(PluginKind::Adapter, method.adapter)
                                             .schema.resolve(adapterConfig, "adapter " + method.adapter);
    if (!facts.loadable) {
        if (method.adapter != "full")
            throw InputError(modelDir.string() + ": the model's weight files take "
                + std::to_string(facts.weightFileBytes) + " bytes, more than are loaded for an estimate; the "
                + "trainable count of adapter '" + method.adapter + "' is reported when the run starts");
        out.trainable = out.total = facts.parameters;
        out.adapterCanDisable = false;
        return out;
    }
    std::unique_ptr<CausalLM> model = loadCausalLM(modelDir);
    std::optional<Tokenizer> tokenizer;
    const TextEncoder encode = [&](const std::string& text) {
        if (!tokenizer)
            tokenizer.emplace(Tokenizer::fromFolder(modelDir));
        return tokenizer->encode(text, /*addSpecialTokens=*/true);
    };
    const std::unique_ptr<Adapter> adapter
        = attachAdapter(plugins, method.adapter, *model, adapterParams, method.seed, encode);
    out.trainable = trainableElements(*adapter);
    out.total = model->parameterCount();
    out.adapterCanDisable = adapter->canDisable();
    return out;
}

MemorySettings MemorySettings::fromConfig(const TrainConfig& config)
{
    MemorySettings s;
    s.batchSize = config.batchSize;
    s.cutoffLen = config.cutoffLen;
    s.optim = config.optim;
    s.sgdMomentum = config.sgdMomentum;
    s.precomputeRefLogProbs = config.precomputeRefLogProbs;
    s.packing = config.packing;
    s.gradientCheckpointing = config.gradientCheckpointing;
    s.lossChunkTokens = lossChunkFor(config.objective, config.objectiveParams);
    return s;
}

std::int64_t MemorySettings::lossChunkFor(const std::string& objective, const nlohmann::json& objectiveParams)
{
    if (objective != "sft")
        return -1;
    const auto it = objectiveParams.find("loss_chunk_tokens");
    return it != objectiveParams.end() && it->is_number_integer() ? std::max<std::int64_t>(it->get<std::int64_t>(), 0)
                                                                  : 0;
}

std::int64_t MemorySettings::effectiveSequenceLen() const
{
    return sequenceLen > 0 ? std::min(sequenceLen, cutoffLen) : cutoffLen;
}

EstimateSequenceLength sequenceLengthForEstimate(
    const std::vector<std::int64_t>& exampleLengths, std::int64_t cutoffLen, bool packing)
{
    EstimateSequenceLength out;
    out.tokens = cutoffLen;
    if (exampleLengths.empty())
        return out;
    std::int64_t total = 0;
    for (const std::int64_t n : exampleLengths) {
        out.longest = std::max(out.longest, n);
        total += std::max<std::int64_t>(n, 0);
    }
    if (packing) {
        out.basis = EstimateSequenceLength::Basis::Packed;
        out.tokens = std::min(cutoffLen, std::max<std::int64_t>(total, 1));
    } else {
        out.basis = EstimateSequenceLength::Basis::LongestExample;
        out.tokens = std::min(cutoffLen, std::max<std::int64_t>(out.longest, 1));
    }
    return out;
}

bool needsReferenceCopy(const TrainableCount& count, const MemorySettings& settings)
{
    return count.objectiveNeedsReference && !count.adapterCanDisable && !settings.precomputeRefLogProbs;
}

MemoryEstimate estimateMemory(const ModelConfig& c, const TrainableCount& count, const MemorySettings& settings)
{
    MemoryEstimate m;
    const auto p = static_cast<double>(count.total);
    const auto t = static_cast<double>(count.trainable);
    const double f32 = 4.0;
    m.weights = p * settings.weightBytes;
    m.gradients = t * f32;
    if (settings.optim == "mezo")
        m.optimizer = 0.0; // MeZO: no state, and no gradients (below)
    else if (settings.optim == "sgd")
        m.optimizer = settings.sgdMomentum > 0 ? t * f32 : 0.0;
    else
        m.optimizer = 2.0 * t * f32; // AdamW: first and second moments
    m.reference = needsReferenceCopy(count, settings) ? p * settings.weightBytes : 0.0;
    const double sequences = static_cast<double>(settings.batchSize) * (count.pairwise ? 2.0 : 1.0);
    const auto s = static_cast<double>(settings.effectiveSequenceLen());
    const auto h = static_cast<double>(c.hiddenSize);
    const auto inter = static_cast<double>(c.intermediateSize);
    const auto layers = static_cast<double>(c.numLayers);
    const auto heads = static_cast<double>(c.numHeads);
    const auto vocab = static_cast<double>(c.vocabSize);
    // Saved for backward, float32, per token and layer: norm inputs, q/k/v,
    // attention output and o_proj input (about 8 H), the MLP's gate, up,
    // activation and down input (about 3 I); per layer the attention scores
    // and probabilities (2 x heads x S x S). With gradient checkpointing only
    // each layer's input (H) is kept, and one layer's activations exist while
    // backward runs it again.
    const double tokens = sequences * s;
    const double layerActivations = tokens * (8.0 * h + 3.0 * inter) * f32 + sequences * heads * s * s * 2.0 * f32;
    m.activations
        = settings.gradientCheckpointing ? layers * tokens * h * f32 + layerActivations : layers * layerActivations;
    // While backward runs a layer's attention, the gradients of its scores and probabilities exist beside what
    // is saved (2 x heads x S x S more, once).
    m.activations += sequences * heads * s * s * 2.0 * f32;
    // The logits, the log-probabilities the loss saves and, in backward, their gradient (3 V per token); a
    // chunked loss recomputes instead of saving, and holds one chunk's logits and their gradient at a time, with
    // the gradient of the hidden states (H per token).
    const std::int64_t chunk = settings.lossChunkTokens < 0 ? 0
        : settings.lossChunkTokens > 0                      ? settings.lossChunkTokens
                                                            : crossEntropyChunkTokens(c.vocabSize);
    if (chunk > 0 && tokens > static_cast<double>(chunk))
        m.activations += (2.0 * vocab * static_cast<double>(chunk) + tokens * h) * f32;
    else
        m.activations += tokens * 3.0 * vocab * f32;
    // A teacher: its weights, and its logits for the batch (no activations are saved: it runs without gradients).
    if (count.teacherParameters > 0)
        m.teacher = static_cast<double>(count.teacherParameters) * settings.weightBytes + tokens * vocab * f32;
    if (settings.optim == "mezo") {
        // Forward passes only: nothing is saved for backward; one layer's activations and the logits live at once.
        m.gradients = 0.0;
        m.activations = tokens * ((8.0 * h + 3.0 * inter) + vocab) * f32 + sequences * heads * s * s * f32;
    }
    return m;
}

std::vector<std::int64_t> encodedExampleLengths(const std::vector<nlohmann::json>& records, DatasetFormat format,
    const Tokenizer& tokenizer, const ChatTemplate* chatTemplate)
{
    EncoderOptions options;
    options.cutoffLen = std::numeric_limits<std::int32_t>::max(); // lengths uncut: the caller caps them
    const ExampleEncoder encoder(tokenizer, chatTemplate, options);
    const bool preference = format == DatasetFormat::Preference || format == DatasetFormat::UnpairedPreference;
    std::vector<std::int64_t> lengths;
    lengths.reserve(records.size());
    for (std::size_t i = 0; i < records.size(); ++i) {
        const std::string where = "record " + std::to_string(i + 1);
        try {
            if (preference) {
                const EncodedPreference p = encoder.encodePreference(records[i], format, where);
                lengths.push_back(
                    static_cast<std::int64_t>(p.prompt.size() + std::max(p.chosen.size(), p.rejected.size())));
            } else {
                lengths.push_back(static_cast<std::int64_t>(encoder.encode(records[i], format, where).ids.size()));
            }
        } catch (const nlohmann::json::exception& e) {
            // The encoder reads some fields unchecked (a text record's "text"): name the record all the same.
            throw InputError(where + " does not fit the " + std::string(toString(format)) + " format: " + e.what());
        }
    }
    return lengths;
}

RunEstimate estimateRun(const TrainConfig& config, const PluginRegistry& plugins, std::uintmax_t loadLimitBytes)
{
    RunEstimate e;
    e.model = config.model;
    e.adapter = config.adapter;
    e.objective = config.objective;
    e.facts = inspectModelFolder(e.model, loadLimitBytes);
    MethodChoice method;
    method.adapter = config.adapter;
    method.adapterParams = config.adapterParams;
    method.objective = config.objective;
    method.objectiveParams = config.objectiveParams;
    method.seed = config.seed;
    e.count = countTrainable(e.model, e.facts, method, plugins);
    e.settings = MemorySettings::fromConfig(config);
    e.memory = estimateMemory(e.facts.config, e.count, e.settings);
    return e;
}

nlohmann::json toJson(const RunEstimate& e)
{
    auto bytes = [](double b) { return static_cast<std::int64_t>(std::llround(b)); };
    const ModelConfig& c = e.facts.config;
    return {
        { "model",
            { { "path", e.model.string() }, { "architecture", std::string(architectureClassName(c.architecture)) },
                { "dtype", std::string(storageDtypeName(c.torchDtype)) }, { "parameters", e.facts.parameters },
                { "vocab_size", c.vocabSize }, { "layers", c.numLayers }, { "hidden_size", c.hiddenSize },
                { "intermediate_size", c.intermediateSize }, { "heads", c.numHeads },
                { "key_value_heads", c.numKvHeads }, { "chat_template", e.facts.chatTemplate },
                { "weight_file_bytes", e.facts.weightFileBytes }, { "loaded", e.facts.loadable } } },
        { "method",
            { { "adapter", e.adapter }, { "objective", e.objective },
                { "adapter_can_disable", e.count.adapterCanDisable },
                { "objective_needs_reference", e.count.objectiveNeedsReference }, { "pairwise", e.count.pairwise },
                { "teacher_parameters", e.count.teacherParameters } } },
        { "parameters", { { "trainable", e.count.trainable }, { "total", e.count.total } } },
        { "memory",
            { { "weights", bytes(e.memory.weights) }, { "gradients", bytes(e.memory.gradients) },
                { "optimizer", bytes(e.memory.optimizer) }, { "reference", bytes(e.memory.reference) },
                { "activations", bytes(e.memory.activations) }, { "teacher", bytes(e.memory.teacher) },
                { "total", bytes(e.memory.total()) } } },
        { "memory_settings",
            { { "per_device_train_batch_size", e.settings.batchSize }, { "cutoff_len", e.settings.cutoffLen },
                { "sequence_len", e.settings.effectiveSequenceLen() }, { "packing", e.settings.packing },
                { "gradient_checkpointing", e.settings.gradientCheckpointing },
                { "loss_chunk_tokens", e.settings.lossChunkTokens },
                { "sequences_per_batch", e.settings.batchSize * (e.count.pairwise ? 2 : 1) },
                { "optim", e.settings.optim }, { "sgd_momentum", e.settings.sgdMomentum },
                { "precompute_ref_log_probs", e.settings.precomputeRefLogProbs },
                { "reference_copy", needsReferenceCopy(e.count, e.settings) },
                { "weight_bytes", e.settings.weightBytes } } },
    };
}

} // namespace tunebench
