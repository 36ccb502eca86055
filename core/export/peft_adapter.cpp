#include "core/export/peft_adapter.h"

#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/model/linear.h"
#include "core/model/safetensors.h"
#include "core/util/error.h"

#include <cmath>
#include <fstream>
#include <map>
#include <regex>
#include <set>

namespace tunebench {

namespace fs = std::filesystem;

namespace {

const std::string kPeftPrefix = "base_model.model.";

nlohmann::json readJsonFile(const fs::path& path, const std::string& expected)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open; expected " + expected);
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw InputError(path.string() + ": not a JSON object; expected " + expected);
    return j;
}

void writeJsonFile(const fs::path& path, const nlohmann::json& j)
{
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << j.dump(2) << "\n";
    if (!out)
        throw Error(path.string() + ": cannot write");
}

const at::Tensor* findTensor(const AdapterState& state, const std::string& name)
{
    for (const auto& [k, t] : state) {
        if (k == name)
            return &t;
    }
    return nullptr;
}

const at::Tensor& requireTensor(const AdapterState& state, const std::string& name, const std::string& method)
{
    if (const at::Tensor* t = findTensor(state, name))
        return *t;
    throw InputError(method + " state: no tensor '" + name + "'");
}

bool endsWith(const std::string& s, const std::string& suffix)
{
    return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Modules that carry lora_A in the state, in state order.
std::vector<std::string> loraModules(const AdapterState& state)
{
    const std::string suffix = ".lora_A.weight";
    std::vector<std::string> modules;
    for (const auto& [k, t] : state) {
        if (k.rfind(kPeftPrefix, 0) == 0 && endsWith(k, suffix) && k.find(".chain.") == std::string::npos
            && k.find(".pissa_init.") == std::string::npos)
            modules.push_back(k.substr(kPeftPrefix.size(), k.size() - kPeftPrefix.size() - suffix.size()));
    }
    return modules;
}

double alphaFor(double scale, std::int64_t r, bool rslora)
{
    return rslora ? scale * std::sqrt(static_cast<double>(r)) : scale * static_cast<double>(r);
}

// Adapters that change the model's own tensors: they have no adapter form, only a merged model.
bool trainsModelTensors(const std::string& adapter)
{
    return adapter == "full" || adapter == "freeze" || adapter == "bitfit" || adapter == "hft" || adapter == "sparse";
}

nlohmann::json commonConfig(const fs::path& baseModel, const std::string& peftType)
{
    return { { "peft_type", peftType }, { "task_type", "CAUSAL_LM" },
        { "base_model_name_or_path", fs::absolute(baseModel).lexically_normal().string() }, { "revision", nullptr },
        { "inference_mode", true }, { "auto_mapping", nullptr } };
}

} // namespace

// --- The LoRA family as one LoRA ---

bool isLoraFamily(const std::string& adapter)
{
    return adapter == "lora" || adapter == "rslora" || adapter == "dora" || adapter == "pissa"
        || adapter == "chain_of_lora";
}

LoraForm loraForm(const RunAdapterFiles& run)
{
    if (!isLoraFamily(run.adapter))
        throw InputError("adapter '" + run.adapter
            + "' is not of the LoRA family (lora, rslora, dora, pissa, "
              "chain_of_lora)");
    const auto& p = run.params;
    LoraForm f;
    const std::int64_t r = p.at("r").get<std::int64_t>();
    const double alpha = p.at("lora_alpha").get<double>();
    f.rslora = p.value("use_rslora", run.adapter == "rslora");
    f.scale = f.rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
    f.dropout = p.value("lora_dropout", 0.0);
    f.targetModules = p.value("target_modules", nlohmann::json::array());
    f.dora = run.adapter == "dora";
    f.r = r;
    const std::string method = run.adapter;
    for (const std::string& module : loraModules(run.state)) {
        const std::string base = kPeftPrefix + module;
        LoraLayer l;
        l.module = module;
        l.a = requireTensor(run.state, base + ".lora_A.weight", method);
        l.b = requireTensor(run.state, base + ".lora_B.weight", method);
        if (run.adapter == "dora")
            l.magnitude = requireTensor(run.state, base + ".lora_magnitude_vector", method);
        if (run.adapter == "pissa") {
            // Against the original W0 the update is s (B A - B0 A0) = s [B, -B0] [A; A0].
            const at::Tensor& a0 = requireTensor(run.state, base + ".pissa_init.lora_A.weight", method);
            const at::Tensor& b0 = requireTensor(run.state, base + ".pissa_init.lora_B.weight", method);
            l.a = at::cat({ l.a, a0 }, 0);
            l.b = at::cat({ l.b, -b0 }, 1);
        }
        if (run.adapter == "chain_of_lora") {
            // Finished links first, then the one in training: s sum_j B_j A_j = s [B_0 ... B_n] [A_0; ...; A_n].
            std::vector<at::Tensor> as, bs;
            for (int j = 0;; ++j) {
                const std::string link = base + ".chain." + std::to_string(j);
                const at::Tensor* a = findTensor(run.state, link + ".lora_A.weight");
                if (!a)
                    break;
                as.push_back(*a);
                bs.push_back(requireTensor(run.state, link + ".lora_B.weight", method));
            }
            as.push_back(l.a);
            bs.push_back(l.b);
            l.a = at::cat(as, 0);
            l.b = at::cat(bs, 1);
        }
        f.layers.push_back(std::move(l));
    }
    if (f.layers.empty())
        throw InputError(run.adapter + " state: no lora_A tensor (base_model.model.<module>.lora_A.weight)");
    f.r = f.layers.front().a.size(0);
    f.alpha = (f.r == r) ? alpha : alphaFor(f.scale, f.r, f.rslora);
    return f;
}

// --- Export ---

PeftExportResult exportPeftAdapter(const fs::path& baseModel, const fs::path& adapterDir, const fs::path& out)
{
    const RunAdapterFiles run = RunAdapterFiles::read(adapterDir);
    const ModelConfig model = readModelConfig(baseModel / "config.json");
    const bool gpt2 = model.architecture == Architecture::Gpt2;
    PeftExportResult result;
    result.adapter = run.adapter;
    nlohmann::json config;
    NamedTensors tensors;

    if (trainsModelTensors(run.adapter)) {
        throw InputError("adapter '" + run.adapter
            + "' trains the model's own weights and has no PEFT adapter form; export it with --format merged");
    } else if (isLoraFamily(run.adapter)) {
        const LoraForm f = loraForm(run);
        result.peftType = "LORA";
        config = commonConfig(baseModel, "LORA");
        // PEFT takes all-linear as a string only (as a list item it would be a module name).
        const bool allLinear
            = f.targetModules.is_array() && f.targetModules.size() == 1 && f.targetModules[0] == "all-linear";
        config.update({ { "r", f.r }, { "lora_alpha", f.alpha }, { "lora_dropout", f.dropout },
            { "target_modules", allLinear ? nlohmann::json("all-linear") : f.targetModules },
            { "use_rslora", f.rslora }, { "use_dora", f.dora }, { "bias", "none" }, { "lora_bias", false },
            // GPT-2's Conv1D stores [in, out]: PEFT sets this itself for such layers; the factors keep LoRA's shapes.
            { "fan_in_fan_out", gpt2 }, { "init_lora_weights", true }, { "modules_to_save", nullptr },
            { "rank_pattern", nlohmann::json::object() }, { "alpha_pattern", nlohmann::json::object() },
            { "layers_to_transform", nullptr }, { "layers_pattern", nullptr }, { "layer_replication", nullptr },
            { "exclude_modules", nullptr }, { "megatron_config", nullptr }, { "megatron_core", "megatron.core" },
            { "loftq_config", nlohmann::json::object() }, { "eva_config", nullptr }, { "corda_config", nullptr },
            { "trainable_token_indices", nullptr }, { "use_qalora", false } });
        for (const auto& l : f.layers) {
            const std::string base = kPeftPrefix + l.module;
            tensors.emplace_back(base + ".lora_A.weight", l.a.contiguous());
            tensors.emplace_back(base + ".lora_B.weight", l.b.contiguous());
            if (f.dora)
                tensors.emplace_back(base + ".lora_magnitude_vector", l.magnitude.contiguous());
        }
    } else if (run.adapter == "ia3") {
        result.peftType = "IA3";
        nlohmann::json targets = nlohmann::json::array();
        nlohmann::json feedforward = nlohmann::json::array();
        for (const auto& [k, t] : run.state) {
            if (k.rfind(kPeftPrefix, 0) != 0 || !endsWith(k, ".ia3_l"))
                throw InputError("ia3 state: unexpected tensor '" + k + "'");
            const std::string module = k.substr(kPeftPrefix.size(), k.size() - kPeftPrefix.size() - 6);
            targets.push_back(module);
            if (t.dim() == 2 && t.size(0) == 1 && t.size(1) != 1)
                feedforward.push_back(module); // [1, in]: the input is scaled
            tensors.emplace_back(k, t.contiguous());
        }
        config = commonConfig(baseModel, "IA3");
        // Full module names: PEFT matches a target as the whole name or a dotted suffix, so these select
        // exactly the layers Tunebench scaled (GPT-2's attn.c_proj and mlp.c_proj share their last name).
        config.update(
            { { "target_modules", targets }, { "feedforward_modules", feedforward }, { "exclude_modules", nullptr },
                { "fan_in_fan_out", gpt2 }, { "modules_to_save", nullptr }, { "init_ia3_weights", true } });
    } else if (run.adapter == "prompt_tuning") {
        result.peftType = "PROMPT_TUNING";
        const at::Tensor& e = requireTensor(run.state, "prompt_embeddings", "prompt_tuning");
        config = commonConfig(baseModel, "PROMPT_TUNING");
        // The embeddings are saved, so PEFT must not initialise them from text again: RANDOM, whatever the run
        // started from (prompt_tuning_init here is how training began, not how to load).
        config.update({ { "num_virtual_tokens", e.size(0) }, { "token_dim", model.hiddenSize },
            { "num_transformer_submodules", 1 }, { "num_attention_heads", model.numHeads },
            { "num_layers", model.numLayers }, { "prompt_tuning_init", "RANDOM" },
            { "prompt_tuning_init_text", nullptr }, { "tokenizer_name_or_path", nullptr },
            { "tokenizer_kwargs", nullptr }, { "modules_to_save", nullptr } });
        tensors.emplace_back("prompt_embeddings", e.contiguous());
    } else if (run.adapter == "prefix_tuning") {
        result.peftType = "PREFIX_TUNING";
        const at::Tensor& e = requireTensor(run.state, "prompt_embeddings", "prefix_tuning");
        // PEFT's _prepare_prompt_learning_config for grouped-query attention: token_dim = head_dim * kv heads and
        // num_attention_heads = kv heads; both written so that the computation leaves them as they are.
        const std::int64_t tokenDim = model.headDim * model.numKvHeads;
        if (e.dim() != 2 || e.size(1) != model.numLayers * 2 * tokenDim)
            throw InputError("prefix_tuning state: prompt_embeddings should be [n, " + std::to_string(model.numLayers)
                + " * 2 * " + std::to_string(tokenDim) + "] for " + (baseModel / "config.json").string());
        config = commonConfig(baseModel, "PREFIX_TUNING");
        // The projected prefix is what PEFT saves; without the MLP it loads with prefix_projection false.
        config.update(
            { { "num_virtual_tokens", e.size(0) }, { "token_dim", tokenDim }, { "num_transformer_submodules", 1 },
                { "num_attention_heads", model.numKvHeads }, { "num_layers", model.numLayers },
                { "encoder_hidden_size", tokenDim }, { "prefix_projection", false }, { "modules_to_save", nullptr } });
        tensors.emplace_back("prompt_embeddings", e.contiguous());
    } else {
        throw InputError("adapter '" + run.adapter
            + "' has no PEFT form (PEFT folders hold LoRA, rsLoRA, DoRA, PiSSA, chain of LoRA, IA3, prompt and "
              "prefix tuning); export it with --format merged");
    }
    fs::create_directories(out);
    writeSafetensors(out / "adapter_model.safetensors", tensors, { { "format", "pt" } });
    writeJsonFile(out / "adapter_config.json", config);
    result.tensors = static_cast<std::int64_t>(tensors.size());
    return result;
}

// --- Import ---

bool isPeftFolder(const fs::path& dir)
{
    std::ifstream in(dir / "adapter_config.json", std::ios::binary);
    if (!in)
        return false;
    const auto j = nlohmann::json::parse(in, nullptr, false);
    return !j.is_discarded() && j.is_object() && j.contains("peft_type");
}

namespace {

// target_modules / feedforward_modules of a PEFT config as Tunebench's list: a list stays (PEFT and Tunebench
// match names the same way); a string is a regular expression PEFT matches against whole module names,
// turned into the list of names it matches.
nlohmann::json moduleList(
    const nlohmann::json& value, const std::string& field, const CausalLM& model, const std::string& label)
{
    if (value.is_array()) {
        for (const auto& v : value) {
            if (!v.is_string())
                throw InputError(label + ": field '" + field + "' must be a list of module names");
        }
        return value;
    }
    if (!value.is_string())
        throw InputError(label + ": field '" + field + "' must be a list of module names or a regular expression");
    const std::string pattern = value.get<std::string>();
    if (pattern == "all-linear")
        return nlohmann::json::array({ "all-linear" });
    std::regex re;
    try {
        re = std::regex(pattern, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
        throw InputError(label + ": field '" + field + "': not a regular expression: " + e.what());
    }
    nlohmann::json names = nlohmann::json::array();
    for (const Linear* l : model.linears()) {
        if (std::regex_match(l->name(), re))
            names.push_back(l->name());
    }
    if (names.empty())
        throw InputError(
            label + ": field '" + field + "': the expression '" + pattern + "' matches no linear layer of this model");
    return names;
}

void refuseSet(const nlohmann::json& config, const std::string& field, const std::string& label, const std::string& why)
{
    auto it = config.find(field);
    if (it == config.end() || it->is_null())
        return;
    if ((it->is_object() || it->is_array()) && it->empty())
        return;
    if (it->is_boolean() && !it->get<bool>())
        return;
    throw InputError(label + ": field '" + field + "' is " + it->dump() + "; " + why);
}

} // namespace

namespace {

PeftAdapterData readPeftAdapterFields(const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins);

} // namespace

PeftAdapterData readPeftAdapter(const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins)
{
    try {
        return readPeftAdapterFields(peftDir, model, plugins);
    } catch (const nlohmann::json::exception& e) {
        // A field of the wrong JSON type (null where a bool belongs, ...).
        throw InputError((peftDir / "adapter_config.json").string() + ": a field has the wrong type: " + e.what());
    }
}

namespace {

PeftAdapterData readPeftAdapterFields(const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins)
{
    const fs::path configPath = peftDir / "adapter_config.json";
    const fs::path weightsPath = peftDir / "adapter_model.safetensors";
    if (!fs::is_directory(peftDir))
        throw InputError(peftDir.string()
            + ": not a folder; expected a PEFT adapter folder (adapter_config.json "
              "and adapter_model.safetensors)");
    const auto config = readJsonFile(configPath, "a PEFT adapter folder's adapter_config.json");
    const std::string label = configPath.string();
    if (!fs::exists(weightsPath)) {
        if (fs::exists(peftDir / "adapter_model.bin"))
            throw InputError(peftDir.string()
                + ": has adapter_model.bin only; pickled weights are never loaded. Save the adapter as safetensors "
                  "(save_pretrained(..., safe_serialization=True)) and import that");
        throw InputError(weightsPath.string() + ": missing; a PEFT folder holds adapter_model.safetensors");
    }
    if (!config.contains("peft_type") || !config["peft_type"].is_string())
        throw InputError(label + ": field 'peft_type' is missing; expected LORA, IA3, PROMPT_TUNING or PREFIX_TUNING");
    PeftAdapterData r;
    r.peftType = config["peft_type"].get<std::string>();
    if (config.contains("task_type") && !config["task_type"].is_null() && config["task_type"] != "CAUSAL_LM")
        throw InputError(label + ": field 'task_type' is " + config["task_type"].dump()
            + "; only CAUSAL_LM adapters apply to Tunebench's models");
    refuseSet(config, "modules_to_save", label, "extra trained copies of whole modules are not imported");

    nlohmann::json params = nlohmann::json::object();
    auto number = [&](const char* field) {
        if (!config.contains(field) || !config[field].is_number())
            throw InputError(label + ": field '" + std::string(field) + "' must be a number");
        return config[field];
    };
    if (r.peftType == "LORA") {
        for (const char* f : { "rank_pattern", "alpha_pattern" })
            refuseSet(config, f, label, "per-layer ranks and alphas are not imported");
        refuseSet(config, "layers_to_transform", label, "LoRA on a subset of layers is not imported");
        refuseSet(config, "layer_replication", label, "layer replication is not imported");
        refuseSet(config, "lora_bias", label, "LoRA biases are not imported");
        refuseSet(config, "exclude_modules", label, "excluded modules are not imported");
        refuseSet(config, "target_parameters", label, "LoRA on parameters is not imported");
        if (config.value("bias", std::string("none")) != "none")
            throw InputError(label + ": field 'bias' is " + config["bias"].dump() + "; only \"none\" is imported");
        r.adapter = config.value("use_dora", false) ? "dora" : "lora";
        params = { { "r", number("r") }, { "lora_alpha", number("lora_alpha") },
            { "lora_dropout", config.value("lora_dropout", 0.0) },
            { "target_modules",
                moduleList(config.value("target_modules", nlohmann::json()), "target_modules", model, label) },
            { "use_rslora", config.value("use_rslora", false) } };
    } else if (r.peftType == "IA3") {
        r.adapter = "ia3";
        params = { { "target_modules",
                       moduleList(config.value("target_modules", nlohmann::json()), "target_modules", model, label) },
            { "feedforward_modules",
                config.contains("feedforward_modules") && !config["feedforward_modules"].is_null()
                    ? moduleList(config["feedforward_modules"], "feedforward_modules", model, label)
                    : nlohmann::json::array() } };
        refuseSet(config, "exclude_modules", label, "excluded modules are not imported");
    } else if (r.peftType == "PROMPT_TUNING") {
        r.adapter = "prompt_tuning";
        if (config.value("num_transformer_submodules", 1) != 1)
            throw InputError(label + ": field 'num_transformer_submodules' must be 1 for a causal language model");
        params = { { "num_virtual_tokens", number("num_virtual_tokens") }, { "prompt_tuning_init", "random" } };
    } else if (r.peftType == "PREFIX_TUNING") {
        r.adapter = "prefix_tuning";
        if (config.value("num_transformer_submodules", 1) != 1)
            throw InputError(label + ": field 'num_transformer_submodules' must be 1 for a causal language model");
        // What PEFT saves is the prefix itself (projected when prefix_projection was on), so it loads plain.
        params = { { "num_virtual_tokens", number("num_virtual_tokens") }, { "prefix_projection", false } };
    } else {
        throw InputError(label + ": field 'peft_type' is '" + r.peftType
            + "'; Tunebench imports LORA (also rsLoRA and DoRA), IA3, PROMPT_TUNING and PREFIX_TUNING");
    }
    try {
        r.params = plugins.require(PluginKind::Adapter, r.adapter).schema.resolve(params, label);
    } catch (const InputError& e) {
        const std::string what = e.what();
        throw InputError(what.rfind(label, 0) == 0 ? what : label + ": " + what);
    }

    // PEFT's tensors under Tunebench's names (the same, but for DoRA's magnitude in older PEFT files).
    AdapterState state;
    for (auto& [name, tensor] : SafetensorsFile::open(weightsPath).tensors()) {
        std::string key = name;
        const std::string oldMagnitude = ".lora_magnitude_vector.weight";
        if (endsWith(key, oldMagnitude))
            key = key.substr(0, key.size() - 7);
        r.state.emplace_back(key, tensor);
    }
    return r;
}

} // namespace

namespace {

// Restores `state` into `target`, refusing tensors the adapter does not have (they would be dropped silently).
void restoreChecked(Adapter& target, const AdapterState& state, const std::string& adapter, const std::string& where)
{
    std::set<std::string> wanted;
    for (const auto& [k, t] : target.state())
        wanted.insert(k);
    for (const auto& [k, t] : state) {
        if (!wanted.count(k))
            throw InputError(where + ": tensor '" + k + "' belongs to no layer the " + adapter
                + " adapter attaches to on this model (check target_modules and the model)");
    }
    try {
        target.restoreState(state);
    } catch (const InputError& e) {
        throw InputError(where + ": " + e.what());
    }
}

} // namespace

ImportedAdapter importPeftAdapter(const fs::path& peftDir, CausalLM& model, const PluginRegistry& plugins)
{
    PeftAdapterData data = readPeftAdapter(peftDir, model, plugins);
    ImportedAdapter r;
    r.adapter = data.adapter;
    r.peftType = data.peftType;
    r.params = data.params;
    model.setRequiresGrad(false);
    r.attached = plugins.createAdapter(r.adapter);
    r.attached->attach({ model, r.params, 0, {} });
    restoreChecked(*r.attached, data.state, r.adapter, (peftDir / "adapter_model.safetensors").string());
    r.state = r.attached->state();
    return r;
}

void initAdapterFrom(const fs::path& source, const std::string& adapter, Adapter& target, const CausalLM& model,
    const PluginRegistry& plugins)
{
    std::string kind;
    AdapterState state;
    if (isPeftFolder(source)) {
        PeftAdapterData data = readPeftAdapter(source, model, plugins);
        kind = data.adapter;
        state = std::move(data.state);
    } else if (fs::exists(source / "adapter_config.json")) {
        RunAdapterFiles files = RunAdapterFiles::read(source);
        kind = files.adapter;
        state = std::move(files.state);
    } else {
        throw InputError("init_adapter: " + source.string()
            + " is neither a PEFT adapter folder nor a run's adapter folder (no adapter_config.json)");
    }
    // PEFT has one LORA type for LoRA and rsLoRA (use_rslora): both plugins take its tensors.
    const auto family = [](const std::string& a) { return a == "rslora" ? std::string("lora") : a; };
    if (family(kind) != family(adapter))
        throw InputError("init_adapter: " + source.string() + " holds a " + kind
            + " adapter, but this run's adapter is " + adapter + "; the adapter types must match");
    restoreChecked(target, state, adapter, "init_adapter: " + source.string());
}

} // namespace tunebench
