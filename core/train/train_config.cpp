#include "core/train/train_config.h"
#include "core/train/trainer_schema.h"

#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/util/error.h"

#include <algorithm>
#include <map>

namespace tunebench {

namespace {

using Type = ParameterSpec::Type;

} // namespace

// The trainer's own keys, checked like a plugin's parameters.
const ParameterSchema& trainerParameterSchema()
{
    static const ParameterSchema schema({
        { "name", { "run_name" }, Type::String, "", {}, {}, {}, "run name" },
        { "model", { "model_name_or_path" }, Type::String, {}, {}, {}, {}, "model folder (Hugging Face format)" },
        { "dataset", { "data_path", "train_file" }, Type::String, "", {}, {}, {}, "dataset file" },
        { "dataset_id", {}, Type::Integer, -1, -1, {}, {}, "workspace dataset id" },
        { "dataset_format", {}, Type::String, "", {}, {}, {}, "dataset format (default: detected)" },
        { "adapter", { "method", "finetuning_type" }, Type::String, "full", {}, {}, {}, "what is trained" },
        { "objective", { "stage" }, Type::String, "sft", {}, {}, {}, "what is optimised" },
        { "init_adapter", {}, Type::String, "", {}, {}, {},
            "start the adapter from a PEFT adapter folder, a run's adapter folder or a run id (same adapter type)" },
        { "learning_rate", { "lr" }, Type::Number, 5e-5, 0.0, 10.0, {}, "peak learning rate" },
        { "num_train_epochs", { "epochs" }, Type::Number, 1.0, 0.0, 1e6, {}, "passes over the data" },
        { "max_steps", {}, Type::Integer, -1, -1, {}, {}, "optimiser steps; overrides epochs when > 0" },
        { "per_device_train_batch_size", { "batch_size" }, Type::Integer, 8, 1, 65536, {}, "examples per micro-batch" },
        { "gradient_accumulation_steps", {}, Type::Integer, 1, 1, 65536, {}, "micro-batches per step" },
        { "lr_scheduler_type", {}, Type::Choice, "linear", {}, {},
            { "constant", "constant_with_warmup", "linear", "cosine" }, "schedule" },
        { "warmup_ratio", {}, Type::Number, 0.0, 0.0, 1.0, {}, "share of steps warming up" },
        { "warmup_steps", {}, Type::Integer, 0, 0, {}, {}, "warm-up steps; overrides warmup_ratio" },
        { "weight_decay", {}, Type::Number, 0.0, 0.0, 10.0, {}, "decoupled weight decay (not on biases and norms)" },
        { "max_grad_norm", {}, Type::Number, 1.0, 0.0, {}, {}, "clip gradients to this global norm; 0: off" },
        { "optim", { "optimizer" }, Type::Choice, "adamw_torch", {}, {}, { "adamw_torch", "adamw", "sgd", "mezo" },
            "optimiser (mezo: forward-only zeroth-order SPSA, no gradients)" },
        { "adam_beta1", {}, Type::Number, 0.9, 0.0, 1.0, {}, "AdamW beta1" },
        { "adam_beta2", {}, Type::Number, 0.999, 0.0, 1.0, {}, "AdamW beta2" },
        { "adam_epsilon", {}, Type::Number, 1e-8, 0.0, 1.0, {}, "AdamW epsilon" },
        { "sgd_momentum", { "momentum" }, Type::Number, 0.0, 0.0, 1.0, {}, "SGD momentum" },
        { "mezo_eps", { "zo_eps" }, Type::Number, 1e-3, 1e-8, 1.0, {},
            "MeZO perturbation scale: the loss is taken at theta +/- mezo_eps z" },
        { "seed", {}, Type::Integer, 42, 0, {}, {}, "seed for data order, initialisation and dropout" },
        { "cutoff_len", { "max_seq_length", "max_length" }, Type::Integer, 1024, 2, 1048576, {}, "longest sequence" },
        { "train_on_prompt", { "train_on_inputs" }, Type::Boolean, false, {}, {}, {}, "also train on prompt tokens" },
        { "packing", {}, Type::Boolean, false, {}, {}, {},
            "pack short examples into rows of cutoff_len tokens (each still attends only to itself)" },
        { "gradient_checkpointing", {}, Type::Boolean, false, {}, {}, {},
            "keep only each decoder layer's input and run the layer again in backward: less activation memory, "
            "about one more forward per step" },
        { "val_size", {}, Type::Number, 0.0, 0.0, 0.9, {}, "share of the data held out for evaluation" },
        { "eval_steps", {}, Type::Integer, 0, 0, {}, {}, "evaluate every N steps; 0: each epoch" },
        { "logging_steps", {}, Type::Integer, 1, 1, {}, {}, "log every N steps" },
        { "save_steps", {}, Type::Integer, 0, 0, {}, {}, "checkpoint every N steps; 0: at the end" },
        { "save_total_limit", {}, Type::Integer, 2, 1, {}, {}, "checkpoints kept (besides the best)" },
        { "early_stopping_patience", {}, Type::Integer, 0, 0, {}, {}, "stop after N evaluations without improvement" },
        { "early_stopping_threshold", {}, Type::Number, 0.0, 0.0, {}, {}, "smallest eval loss drop that counts" },
        { "nan_policy", {}, Type::Choice, "stop", {}, {}, { "stop", "skip" }, "on a NaN/Inf loss or gradient" },
        { "precompute_ref_log_probs", {}, Type::Boolean, false, {}, {}, {},
            "compute the reference model's numbers once before training and cache them in the run folder" },
        { "device", {}, Type::String, "cpu", {}, {}, {}, "cpu, cuda or cuda:N" },
        { "mixed_precision", {}, Type::Choice, "none", {}, {}, { "none", "bf16" },
            "bf16: matrix products in bfloat16 under autocast (weights, gradients and optimiser state stay "
            "float32)" },
        { "threads", {}, Type::Integer, 0, 0, 1024, {}, "CPU threads; 0: one per core" },
        { "sample_prompts", {}, Type::StringList, nlohmann::json::array(), {}, {}, {},
            "prompts sampled at the start, every sample_steps and at the end (a list, or a file with one prompt "
            "a line); their samples are stored and their diversity measured" },
        { "sample_steps", {}, Type::Integer, 0, 0, {}, {}, "sample every N steps; 0: at the start and end only" },
        { "samples_per_prompt", {}, Type::Integer, 4, 1, 1024, {}, "samples per prompt, each with a fixed seed" },
        { "sample_max_new_tokens", {}, Type::Integer, 32, 1, 65536, {}, "longest sample in tokens" },
        { "sample_temperature", {}, Type::Number, 1.0, 0.0, 100.0, {}, "sampling temperature; 0: greedy" },
        { "sample_top_p", {}, Type::Number, 1.0, 0.0, 1.0, {}, "nucleus sampling threshold; 1: off" },
        { "forgetting_reference", {}, Type::String, "", {}, {}, {},
            "reference set file (JSON Lines: text, or prompt with answer/choices): loss, KL and probe accuracy "
            "versus the base model at the start, every forgetting_steps and at the end" },
        { "forgetting_steps", {}, Type::Integer, 0, 0, {}, {},
            "measure forgetting every N steps; 0: at the start and end only" },
        { "weight_analysis", {}, Type::Boolean, false, {}, {}, {},
            "update norm, effective rank and intruder dimensions of each linear layer at checkpoints and at the end" },
        { "evaluation_tasks", {}, Type::String, "", {}, {}, {},
            "evaluation tasks file (YAML, see docs/architecture.md): its tasks' metrics eval/<task>/<metric> at the "
            "start, every evaluation_steps and at the end, the base model's as eval_base/ (written in a run file as "
            "evaluation: {tasks, steps, limit})" },
        { "evaluation_steps", {}, Type::Integer, 0, 0, {}, {}, "evaluate every N steps; 0: at the start and end only" },
        { "evaluation_limit", {}, Type::Integer, 0, 0, {}, {}, "the first N records of each task; 0: all" },
        { "measure_time_budget", {}, Type::Number, 0.1, 0.0, 1.0, {},
            "share of wall time the measures may take: a scheduled one waits unless the share projected to the "
            "run's end stays within it (those at the start and end always run)" },
    });
    return schema;
}

namespace {

const ParameterSchema& trainerSchema()
{
    return trainerParameterSchema();
}

std::size_t editDistance(const std::string& a, const std::string& b)
{
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        row[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diag = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t up = row[j];
            row[j] = std::min({ row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1) });
            diag = up;
        }
    }
    return row[b.size()];
}

void addKeys(const ParameterSchema& schema, std::vector<std::string>& keys)
{
    for (const auto& s : schema.specs()) {
        keys.push_back(s.name);
        keys.insert(keys.end(), s.aliases.begin(), s.aliases.end());
    }
}

// A configuration may group keys in sections, as users write them:
//   adapter: {type: lora, r: 8, ...}      objective: {type: dpo, beta: 0.1}
//   training: {learning_rate: ..., ...}
// Every section's keys join the flat namespace; `where` remembers each key's
// place ("training.learning_rate") for messages. `dataset: 3` (a number) is
// the workspace dataset with that id.
nlohmann::json flattenSections(
    const nlohmann::json& input, const std::string& source, std::map<std::string, std::string>& where)
{
    nlohmann::json flat = nlohmann::json::object();
    auto put = [&](const std::string& key, const nlohmann::json& value, const std::string& place) {
        auto [it, inserted] = where.emplace(key, place);
        if (!inserted)
            throw InputError(source + ": key '" + key + "' is given twice (as '" + it->second + "' and as '" + place
                + "'); keep one");
        flat[key] = value;
    };
    for (auto it = input.begin(); it != input.end(); ++it) {
        const std::string& key = it.key();
        const nlohmann::json& value = it.value();
        if ((key == "adapter" || key == "method" || key == "objective") && value.is_object()) {
            const std::string kindKey = key == "objective" ? "objective" : "adapter";
            for (auto p = value.begin(); p != value.end(); ++p) {
                if (p.key() == "type" || p.key() == "name") {
                    if (!p.value().is_string())
                        throw InputError(source + ": field '" + key + "." + p.key() + "' must be a plugin name (text)");
                    put(kindKey, p.value(), key + "." + p.key());
                } else {
                    put(p.key(), p.value(), key + "." + p.key());
                }
            }
            if (!where.count(kindKey))
                throw InputError(source + ": section '" + key + "' needs 'type' (the " + kindKey
                    + " plugin's name, e.g. " + (kindKey == "adapter" ? "lora" : "sft") + ")");
        } else if (key == "training" || key == "train" || key == "trainer") {
            if (!value.is_object())
                throw InputError(source + ": section '" + key + "' must be a mapping of training keys");
            for (auto p = value.begin(); p != value.end(); ++p)
                put(p.key(), p.value(), key + "." + p.key());
        } else if (key == "evaluation") {
            // evaluation: {tasks, steps, limit} is evaluation_tasks, evaluation_steps, evaluation_limit.
            if (!value.is_object())
                throw InputError(source
                    + ": section 'evaluation' must be a mapping {tasks: FILE.yaml, steps: N, "
                      "limit: M}, got "
                    + value.dump());
            for (auto p = value.begin(); p != value.end(); ++p)
                put("evaluation_" + p.key(), p.value(), key + "." + p.key());
        } else if (key == "dataset" && value.is_number_integer()) {
            put("dataset_id", value, key);
        } else {
            put(key, value, key);
        }
    }
    return flat;
}

} // namespace

// Long for a reason: the run keys read one after another in the order the documentation lists them, each a few
// lines with its own message; splitting would scatter the one place a key is read.
TrainConfig TrainConfig::fromJson(const nlohmann::json& input, const PluginRegistry& plugins, const std::string& source)
{
    if (!input.is_object())
        throw InputError(source + ": a run configuration must be a mapping of keys to values");
    std::map<std::string, std::string> where;
    nlohmann::json rest = flattenSections(input, source, where);
    // sample_prompts as text names the file the prompts are in.
    std::string promptsFile;
    if (auto p = rest.find("sample_prompts"); p != rest.end() && p->is_string()) {
        promptsFile = p->get<std::string>();
        rest.erase(p);
    }
    // init_adapter may name a run by its id, which YAML reads as a number.
    if (auto ia = rest.find("init_adapter"); ia != rest.end() && ia->is_number_integer())
        *ia = std::to_string(ia->get<std::int64_t>());
    nlohmann::json rewards = nlohmann::json::array();
    if (auto r = rest.find("rewards"); r != rest.end()) {
        rewards = *r;
        rest.erase(r);
    }
    DistributedConfig distributed;
    if (auto d = rest.find("distributed"); d != rest.end()) {
        distributed = DistributedConfig::fromJson(*d, source);
        rest.erase(d);
    }
    const nlohmann::json t = trainerSchema().resolve(rest, source);
    TrainConfig c;
    c.name = t["name"];
    c.model = t["model"];
    c.dataset = t["dataset"];
    if (t["dataset_id"].get<std::int64_t>() >= 0)
        c.datasetId = t["dataset_id"].get<std::int64_t>();
    if (c.dataset.empty() && !c.datasetId)
        throw InputError(
            source + ": field 'dataset' is required (a dataset file), or 'dataset_id' (a workspace dataset)");
    if (!c.dataset.empty() && c.datasetId)
        throw InputError(source + ": give 'dataset' or 'dataset_id', not both");
    c.datasetFormat = t["dataset_format"];
    c.adapter = t["adapter"];
    c.objective = t["objective"];
    c.initAdapter = t["init_adapter"];
    c.learningRate = t["learning_rate"];
    c.numTrainEpochs = t["num_train_epochs"];
    c.maxSteps = t["max_steps"];
    c.batchSize = t["per_device_train_batch_size"];
    c.gradientAccumulationSteps = t["gradient_accumulation_steps"];
    c.lrSchedulerType = t["lr_scheduler_type"];
    c.warmupRatio = t["warmup_ratio"];
    c.warmupSteps = t["warmup_steps"];
    c.weightDecay = t["weight_decay"];
    c.maxGradNorm = t["max_grad_norm"];
    c.optim = t["optim"] == "adamw" ? std::string("adamw_torch") : t["optim"].get<std::string>();
    c.adamBeta1 = t["adam_beta1"];
    c.adamBeta2 = t["adam_beta2"];
    c.adamEpsilon = t["adam_epsilon"];
    c.sgdMomentum = t["sgd_momentum"];
    c.mezoEps = t["mezo_eps"];
    c.seed = t["seed"].get<std::uint64_t>();
    c.cutoffLen = t["cutoff_len"];
    c.trainOnPrompt = t["train_on_prompt"];
    c.packing = t["packing"];
    c.gradientCheckpointing = t["gradient_checkpointing"];
    c.valSize = t["val_size"];
    c.evalSteps = t["eval_steps"];
    c.loggingSteps = t["logging_steps"];
    c.saveSteps = t["save_steps"];
    c.saveTotalLimit = t["save_total_limit"];
    c.earlyStoppingPatience = t["early_stopping_patience"];
    c.earlyStoppingThreshold = t["early_stopping_threshold"];
    c.nanPolicy = t["nan_policy"];
    c.precomputeRefLogProbs = t["precompute_ref_log_probs"];
    c.device = t["device"];
    c.mixedPrecision = t["mixed_precision"];
    c.threads = t["threads"];
    c.distributed = distributed;
    c.samplePromptsFile = promptsFile;
    c.samplePrompts = t["sample_prompts"].get<std::vector<std::string>>();
    c.sampleSteps = t["sample_steps"];
    c.samplesPerPrompt = t["samples_per_prompt"];
    c.sampleMaxNewTokens = t["sample_max_new_tokens"];
    c.sampleTemperature = t["sample_temperature"];
    c.sampleTopP = t["sample_top_p"];
    if (c.sampleTopP <= 0)
        throw InputError(source + ": field 'sample_top_p' must be above 0 (1 switches nucleus sampling off)");
    c.forgettingReference = t["forgetting_reference"];
    c.forgettingSteps = t["forgetting_steps"];
    c.weightAnalysis = t["weight_analysis"];
    c.evaluationTasks = t["evaluation_tasks"];
    c.evaluationSteps = t["evaluation_steps"];
    c.evaluationLimit = t["evaluation_limit"];
    c.measureTimeBudget = t["measure_time_budget"];
    if (c.numTrainEpochs <= 0 && c.maxSteps <= 0)
        throw InputError(source + ": field 'num_train_epochs' must be above 0 unless 'max_steps' is set");

    std::vector<std::string> known;
    addKeys(trainerSchema(), known);
    try {
        const PluginInfo& adapter = plugins.require(PluginKind::Adapter, c.adapter);
        c.adapterParams = adapter.schema.resolve(rest, source + " (adapter " + c.adapter + ")");
        addKeys(adapter.schema, known);
        const PluginInfo& objective = plugins.require(PluginKind::Objective, c.objective);
        c.objectiveParams = objective.schema.resolve(rest, source + " (objective " + c.objective + ")");
        addKeys(objective.schema, known);
    } catch (const InputError& e) {
        const std::string what = e.what();
        throw InputError(what.rfind(source, 0) == 0 ? what : source + ": " + what);
    }
    // The workspace is not known here: a reward model named by run id is found when the run starts.
    RewardContext rewardContext;
    rewardContext.policyModel = c.model;
    rewardContext.device = c.device;
    c.rewards = parseRewards(rewards, plugins, source, &rewardContext);
    if (!rest.empty()) {
        const std::string key = rest.begin().key();
        const auto place = where.find(key);
        std::string message = source + ": unknown key '" + (place != where.end() ? place->second : key) + "'";
        std::string best;
        std::size_t bestDistance = 4;
        for (const auto& k : known) {
            const std::size_t d = editDistance(key, k);
            if (d < bestDistance) {
                bestDistance = d;
                best = k;
            }
        }
        if (!best.empty())
            message += " (did you mean '" + best + "'?)";
        else
            message += " (not a trainer key, nor a parameter of adapter '" + c.adapter + "' or objective '"
                + c.objective + "')";
        throw InputError(message);
    }
    return c;
}

void TrainConfig::resolvePaths(nlohmann::json& config, const std::filesystem::path& configFile)
{
    if (!config.is_object())
        return;
    const std::filesystem::path folder = std::filesystem::absolute(configFile).parent_path();
    auto resolve = [&](nlohmann::json& value) {
        if (!value.is_string() || value.get<std::string>().empty())
            return;
        const std::filesystem::path p = value.get<std::string>();
        if (p.is_relative())
            value = (folder / p).lexically_normal().string();
    };
    if (auto e = config.find("evaluation"); e != config.end() && e->is_object() && e->contains("tasks"))
        resolve((*e)["tasks"]);
    if (auto t = config.find("evaluation_tasks"); t != config.end())
        resolve(*t);
    for (const char* section : { "training", "train", "trainer" }) {
        if (auto s = config.find(section); s != config.end() && s->is_object() && s->contains("evaluation_tasks"))
            resolve((*s)["evaluation_tasks"]);
    }
}

nlohmann::json TrainConfig::toJson() const
{
    nlohmann::json j = {
        { "name", name },
        { "model", model },
        { "adapter", adapter },
        { "objective", objective },
        { "init_adapter", initAdapter },
        { "learning_rate", learningRate },
        { "num_train_epochs", numTrainEpochs },
        { "max_steps", maxSteps },
        { "per_device_train_batch_size", batchSize },
        { "gradient_accumulation_steps", gradientAccumulationSteps },
        { "lr_scheduler_type", lrSchedulerType },
        { "warmup_ratio", warmupRatio },
        { "warmup_steps", warmupSteps },
        { "weight_decay", weightDecay },
        { "max_grad_norm", maxGradNorm },
        { "optim", optim },
        { "adam_beta1", adamBeta1 },
        { "adam_beta2", adamBeta2 },
        { "adam_epsilon", adamEpsilon },
        { "sgd_momentum", sgdMomentum },
        { "mezo_eps", mezoEps },
        { "seed", seed },
        { "cutoff_len", cutoffLen },
        { "train_on_prompt", trainOnPrompt },
        { "packing", packing },
        { "gradient_checkpointing", gradientCheckpointing },
        { "val_size", valSize },
        { "eval_steps", evalSteps },
        { "logging_steps", loggingSteps },
        { "save_steps", saveSteps },
        { "save_total_limit", saveTotalLimit },
        { "early_stopping_patience", earlyStoppingPatience },
        { "early_stopping_threshold", earlyStoppingThreshold },
        { "nan_policy", nanPolicy },
        { "precompute_ref_log_probs", precomputeRefLogProbs },
        { "device", device },
        { "mixed_precision", mixedPrecision },
        { "threads", threads },
        { "sample_steps", sampleSteps },
        { "samples_per_prompt", samplesPerPrompt },
        { "sample_max_new_tokens", sampleMaxNewTokens },
        { "sample_temperature", sampleTemperature },
        { "sample_top_p", sampleTopP },
        { "forgetting_reference", forgettingReference },
        { "forgetting_steps", forgettingSteps },
        { "weight_analysis", weightAnalysis },
        { "evaluation_tasks", evaluationTasks },
        { "evaluation_steps", evaluationSteps },
        { "evaluation_limit", evaluationLimit },
        { "measure_time_budget", measureTimeBudget },
    };
    if (!(distributed == DistributedConfig {}))
        j["distributed"] = distributed.toJson();
    if (!samplePromptsFile.empty())
        j["sample_prompts"] = samplePromptsFile;
    else
        j["sample_prompts"] = samplePrompts;
    if (!dataset.empty())
        j["dataset"] = dataset;
    if (datasetId)
        j["dataset_id"] = *datasetId;
    if (!datasetFormat.empty())
        j["dataset_format"] = datasetFormat;
    for (auto it = adapterParams.begin(); it != adapterParams.end(); ++it)
        j[it.key()] = it.value();
    for (auto it = objectiveParams.begin(); it != objectiveParams.end(); ++it)
        j[it.key()] = it.value();
    if (!rewards.empty())
        j["rewards"] = rewardsToJson(rewards);
    return j;
}

} // namespace tunebench
