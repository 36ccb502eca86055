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

// The fields every PEFT type has.
nlohmann::json commonConfig(const fs::path& baseModel, const std::string& peftType)
{
    return { { "peft_type", peftType }, { "task_type", "CAUSAL_LM" },
        { "base_model_name_or_path", fs::absolute(baseModel).lexically_normal().string() }, { "revision", nullptr },
        { "inference_mode", true }, { "auto_mapping", nullptr }, { "modules_to_save", nullptr } };
}

// "lora, dora, ia3 (IA3), ...": the plugins with a PEFT form, for messages.
std::string peftPluginList(const PluginRegistry& plugins)
{
    std::string list;
    for (const PluginInfo* p : plugins.peftAdapters())
        list += (list.empty() ? "" : ", ") + p->name + " (" + p->peftType + ")";
    return list.empty() ? "none is loaded" : list;
}

} // namespace

// --- A run's adapter in its PEFT form ---

PeftForm runPeftForm(
    const RunAdapterFiles& run, const ModelConfig& model, const PluginRegistry& plugins, std::string* peftType)
{
    const PluginInfo& plugin = plugins.require(PluginKind::Adapter, run.adapter);
    if (plugin.peftType.empty())
        throw InputError("adapter '" + run.adapter
            + "' has no PEFT adapter form; export it with --format merged (PEFT forms: " + peftPluginList(plugins)
            + ")");
    if (peftType)
        *peftType = plugin.peftType;
    return plugins.createAdapter(run.adapter)->toPeft(run.params, run.state, model);
}

LoraForm loraForm(const RunAdapterFiles& run, const ModelConfig& model, const PluginRegistry& plugins)
{
    const PluginInfo& plugin = plugins.require(PluginKind::Adapter, run.adapter);
    if (plugin.peftType != "LORA")
        throw InputError("adapter '" + run.adapter + "' is not a LoRA (its PEFT form is "
            + (plugin.peftType.empty() ? std::string("none") : plugin.peftType) + ", not LORA)");
    const PeftForm form = runPeftForm(run, model, plugins, nullptr);
    const nlohmann::json& c = form.config;
    LoraForm f;
    f.r = c.at("r").get<std::int64_t>();
    f.alpha = c.at("lora_alpha").get<double>();
    f.rslora = c.value("use_rslora", false);
    f.dora = c.value("use_dora", false);
    f.dropout = c.value("lora_dropout", 0.0);
    f.scale = f.rslora ? f.alpha / std::sqrt(static_cast<double>(f.r)) : f.alpha / static_cast<double>(f.r);
    f.targetModules = c.value("target_modules", nlohmann::json::array());
    if (f.targetModules.is_string())
        f.targetModules = nlohmann::json::array({ f.targetModules });
    const std::string prefix = peftModulePrefix("");
    for (const auto& [name, a] : form.tensors) {
        const std::string suffix = ".lora_A.weight";
        if (!name.starts_with(prefix) || !name.ends_with(suffix))
            continue;
        LoraLayer l;
        l.module = name.substr(prefix.size(), name.size() - prefix.size() - suffix.size());
        const std::string base = peftModulePrefix(l.module);
        l.a = a;
        l.b = requireStateTensor(form.tensors, base + ".lora_B.weight", run.adapter);
        if (f.dora)
            l.magnitude = requireStateTensor(form.tensors, base + ".lora_magnitude_vector", run.adapter);
        f.layers.push_back(std::move(l));
    }
    if (f.layers.empty())
        throw InputError(run.adapter + " state: no lora_A tensor (base_model.model.<module>.lora_A.weight)");
    return f;
}

// --- Export ---

PeftExportResult exportPeftAdapter(
    const fs::path& baseModel, const fs::path& adapterDir, const fs::path& out, const PluginRegistry& plugins)
{
    const RunAdapterFiles run = RunAdapterFiles::read(adapterDir);
    const fs::path modelConfig = baseModel / "config.json";
    const ModelConfig model = readModelConfig(modelConfig);
    PeftExportResult result;
    result.adapter = run.adapter;
    PeftForm form;
    try {
        form = runPeftForm(run, model, plugins, &result.peftType);
    } catch (const InputError& e) {
        throw InputError(adapterDir.string() + ": " + e.what() + " (base model " + modelConfig.string() + ")");
    }
    nlohmann::json config = commonConfig(baseModel, result.peftType);
    config.update(form.config);
    fs::create_directories(out);
    writeSafetensors(out / "adapter_model.safetensors", form.tensors, { { "format", "pt" } });
    writeJsonFile(out / "adapter_config.json", config);
    result.tensors = static_cast<std::int64_t>(form.tensors.size());
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

PeftAdapterData readPeftAdapterFields(
    const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins, const std::string& chosen);
PeftAdapterData peftAdapterDataOf(const nlohmann::json& config, AdapterState tensors, const CausalLM& model,
    const PluginRegistry& plugins, const std::string& label, const std::string& chosen);

} // namespace

PeftAdapterData readPeftAdapter(
    const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins, const std::string& chosen)
{
    try {
        return readPeftAdapterFields(peftDir, model, plugins, chosen);
    } catch (const nlohmann::json::exception& e) {
        // A field of the wrong JSON type (null where a bool belongs, ...).
        throw InputError((peftDir / "adapter_config.json").string() + ": a field has the wrong type: " + e.what());
    }
}

namespace {

PeftAdapterData readPeftAdapterFields(
    const fs::path& peftDir, const CausalLM& model, const PluginRegistry& plugins, const std::string& chosen)
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
    if (config.contains("task_type") && !config["task_type"].is_null() && config["task_type"] != "CAUSAL_LM")
        throw InputError(label + ": field 'task_type' is " + config["task_type"].dump()
            + "; only CAUSAL_LM adapters apply to Tunebench's models");
    peftRefuseSet(config, "modules_to_save", label, "extra trained copies of whole modules are not imported");
    AdapterState tensors;
    for (auto& [name, tensor] : SafetensorsFile::open(weightsPath).tensors())
        tensors.emplace_back(name, tensor);
    return peftAdapterDataOf(config, std::move(tensors), model, plugins, label, chosen);
}

} // namespace

PeftAdapterData peftAdapterData(const nlohmann::json& config, AdapterState tensors, const CausalLM& model,
    const PluginRegistry& plugins, const std::string& label, const std::string& chosen)
{
    try {
        return peftAdapterDataOf(config, std::move(tensors), model, plugins, label, chosen);
    } catch (const nlohmann::json::exception& e) {
        // A field of the wrong JSON type (null where a bool belongs, ...).
        throw InputError(label + ": a field has the wrong type: " + e.what());
    }
}

namespace {

PeftAdapterData peftAdapterDataOf(const nlohmann::json& config, AdapterState tensors, const CausalLM& model,
    const PluginRegistry& plugins, const std::string& label, const std::string& chosen)
{
    const auto type = config.find("peft_type");
    if (type == config.end() || !type->is_string())
        throw InputError(label + ": field 'peft_type' is missing; expected one of the PEFT types the plugins take: "
            + peftPluginList(plugins));
    PeftAdapterData r;
    r.peftType = type->get<std::string>();
    const PeftImport folder { r.peftType, config, model, label, !chosen.empty() };
    std::vector<const PluginInfo*> candidates;
    if (!chosen.empty()) {
        const PluginInfo& p = plugins.require(PluginKind::Adapter, chosen);
        if (p.peftType == r.peftType)
            candidates.push_back(&p);
    } else {
        candidates = plugins.peftAdapters(r.peftType);
    }
    if (candidates.empty() && chosen.empty())
        throw InputError(label + ": field 'peft_type' is '" + r.peftType
            + "'; Tunebench imports the PEFT types its plugins take: " + peftPluginList(plugins));
    nlohmann::json params;
    for (const PluginInfo* p : candidates) {
        AdapterState renamed = tensors;
        std::optional<nlohmann::json> taken = plugins.createAdapter(p->name)->fromPeft(folder, renamed);
        if (!taken)
            continue;
        if (!r.adapter.empty())
            throw InputError(label + ": both the " + r.adapter + " and the " + p->name + " plugins take this "
                + r.peftType + " folder; one of them should decline it");
        r.adapter = p->name;
        params = std::move(*taken);
        r.state = std::move(renamed);
    }
    if (r.adapter.empty()) {
        if (!chosen.empty())
            throw InputError(label + ": a PEFT " + r.peftType + " adapter, which the " + chosen
                + " adapter does not take; the adapter types must match");
        throw InputError(
            label + ": no plugin takes this " + r.peftType + " folder (asked: " + peftPluginList(plugins) + ")");
    }
    try {
        r.params = plugins.require(PluginKind::Adapter, r.adapter).schema.resolve(params, label);
    } catch (const InputError& e) {
        const std::string what = e.what();
        throw InputError(what.rfind(label, 0) == 0 ? what : label + ": " + what);
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
    const std::string where = "init_adapter: " + source.string();
    AdapterState state;
    try {
        if (isPeftFolder(source)) {
            // The run's own plugin is asked (chosen): rslora takes a LORA folder lora would claim.
            state = readPeftAdapter(source, model, plugins, adapter).state;
        } else if (fs::exists(source / "adapter_config.json")) {
            RunAdapterFiles files = RunAdapterFiles::read(source);
            if (files.adapter == adapter) {
                state = std::move(files.state);
            } else {
                // Another plugin's run goes through its PEFT form, which the run's plugin may take (lora into
                // rslora: the same LORA tensors).
                const PluginInfo* from = plugins.find(PluginKind::Adapter, files.adapter);
                if (!from || from->peftType.empty())
                    throw InputError("it holds a " + files.adapter + " adapter, but this run's adapter is " + adapter
                        + "; the adapter types must match");
                std::string type;
                PeftForm form = runPeftForm(files, model.config(), plugins, &type);
                nlohmann::json config = form.config;
                config["peft_type"] = type;
                state = peftAdapterData(config, std::move(form.tensors), model, plugins,
                    "its " + files.adapter + " adapter (as PEFT " + type + ")", adapter)
                            .state;
            }
        } else {
            throw InputError("is neither a PEFT adapter folder nor a run's adapter folder (no adapter_config.json)");
        }
    } catch (const InputError& e) {
        throw InputError(where + ": " + e.what());
    }
    restoreChecked(target, state, adapter, where);
}

} // namespace tunebench
