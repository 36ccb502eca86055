// PEFT adapter folders (adapter_config.json + adapter_model.safetensors, as Hugging Face PEFT's
// save_pretrained writes them and PeftModel.from_pretrained reads them): export of a run's adapter, and
// import of such a folder as the matching Tunebench plugin with its state.
#pragma once

#include "core/method/adapter.h"
#include "core/method/peft_form.h"
#include "core/train/run_adapter.h"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class PluginRegistry;

// One layer's update as a plain LoRA relative to the original base weight: W' = W + scale * b a.
struct LoraLayer {
    std::string module; // "model.layers.0.self_attn.q_proj"
    at::Tensor a; // [r, in]
    at::Tensor b; // [out, r]
    at::Tensor magnitude; // DoRA only: [out]
};

// A run's adapter as one LoRA (what llama.cpp's GGUF adapters hold), read from its plugin's PEFT form of type
// LORA: PiSSA as the rank-2r LoRA [B, -B0] [A; A0] against the original base, chain_of_lora as its links side by
// side; alpha is the one PEFT's scale (alpha / r, or alpha / sqrt(r) with rslora) needs to equal the plugin's.
struct LoraForm {
    std::int64_t r = 0;
    double alpha = 0;
    double scale = 0;
    double dropout = 0;
    bool rslora = false;
    bool dora = false;
    nlohmann::json targetModules; // as the run gave them
    std::vector<LoraLayer> layers;
};

// Throws InputError naming the adapter when its plugin's PEFT form is not LORA, or a state tensor that is missing.
LoraForm loraForm(const RunAdapterFiles& run, const ModelConfig& model, const PluginRegistry& plugins);

// A run's adapter (its files) in its plugin's PEFT form, for a base model of the given config; *peftType (when
// given) receives the type. Throws InputError suggesting --format merged for a plugin without a PEFT form.
PeftForm runPeftForm(
    const RunAdapterFiles& run, const ModelConfig& model, const PluginRegistry& plugins, std::string* peftType);

struct PeftExportResult {
    std::string adapter; // the run's plugin
    std::string peftType; // LORA, IA3, PROMPT_TUNING, PREFIX_TUNING
    std::int64_t tensors = 0;
};

// Writes `out`/adapter_config.json and `out`/adapter_model.safetensors for the run adapter in adapterDir, whose
// base model folder is baseModel (its config.json gives the sizes prompt and prefix tuning record). out is
// created. The plugin writes its own fields and tensors (Adapter::toPeft); one whose descriptor names no peftType
// (full, freeze, bitfit, hft, sparse) throws InputError suggesting --format merged.
PeftExportResult exportPeftAdapter(const std::filesystem::path& baseModel, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins);

// A PEFT folder read as a Tunebench plugin, its parameters and state (under the plugin's tensor names).
struct PeftAdapterData {
    std::string adapter;
    std::string peftType;
    nlohmann::json params = nlohmann::json::object();
    AdapterState state;
};

// Reads and maps peftDir as importPeftAdapter does, without attaching anything; model resolves a target_modules
// regular expression into module names. chosen: ask only that plugin (see PeftImport::chosen).
PeftAdapterData readPeftAdapter(const std::filesystem::path& peftDir, const CausalLM& model,
    const PluginRegistry& plugins, const std::string& chosen = {});

// A PEFT config (adapter_config.json's object) and its tensors as a plugin, its parameters (resolved against its
// schema) and state: every adapter plugin of the config's peft_type is asked (Adapter::fromPeft) and exactly one
// must take it, or only `chosen` when given. label starts every message (the config file's path).
PeftAdapterData peftAdapterData(const nlohmann::json& config, AdapterState tensors, const CausalLM& model,
    const PluginRegistry& plugins, const std::string& label, const std::string& chosen = {});

// A PEFT folder read back as a Tunebench plugin, its parameters and state, checked by attaching it to the model.
struct ImportedAdapter {
    std::string adapter;
    std::string peftType;
    nlohmann::json params = nlohmann::json::object();
    AdapterState state;
    std::unique_ptr<Adapter> attached; // the plugin attached to the model given, with the state restored
};

// Reads peftDir (adapter_config.json + adapter_model.safetensors; a folder with only adapter_model.bin is
// refused: pickled weights are never loaded), maps it to the plugin that takes it (peftAdapterData: LORA -> lora
// or dora, IA3 -> ia3 ...), attaches it to `model` and restores the tensors. Throws InputError naming the file and
// field for anything it cannot represent exactly (rank_pattern, layers_to_transform, modules_to_save, bias, another
// peft_type, a tensor that fits nothing).
ImportedAdapter importPeftAdapter(const std::filesystem::path& peftDir, CausalLM& model, const PluginRegistry& plugins);

// Whether dir holds a PEFT adapter folder (adapter_config.json with peft_type).
bool isPeftFolder(const std::filesystem::path& dir);

// The state an adapter named `adapter`, already attached to its model, starts from when a run configuration
// says init_adapter: `source` (a PEFT folder, or a run adapter folder): restores it into `target`. Throws
// InputError naming init_adapter when the source holds another kind of adapter or tensors that do not fit.
void initAdapterFrom(const std::filesystem::path& source, const std::string& adapter, Adapter& target,
    const CausalLM& model, const PluginRegistry& plugins);

} // namespace tunebench
