#pragma once

// A finished run's adapter, loaded back onto a model: what `measure
// forgetting --adapter` evaluates and `export --format merged` folds in.

#include "core/method/adapter.h"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace tunebench {

class PluginRegistry;

// Attaches the adapter a run saved in `dir` (runs/<id>/adapter: adapter.safetensors and adapter_config.json naming
// the plugin, its parameters and seed) to `model` and restores its tensors. Throws InputError naming the file when
// the folder is not such a folder, or the plugin is missing.
// modelDir: the model folder, whose tokenizer adapters initialised from text (prompt tuning) attach with.
std::unique_ptr<Adapter> loadRunAdapter(const std::filesystem::path& dir, CausalLM& model,
    const PluginRegistry& plugins, const std::filesystem::path& modelDir);

// Writes the run's model with its adapter folded in as a Hugging Face folder (safetensors, sharded above
// maxShardBytes when given, config.json, tokenizer files from the base folder), so Tunebench and transformers load it
// without the adapter. Adapters that train the model's own tensors (full, freeze, BitFit, HFT, sparse) are written
// with those tensors; adapters that merge (the LoRA family, IA3) are merged; prompt and prefix tuning cannot be
// folded into weights (InputError). Returns the adapter's name.
std::string exportMergedModel(const std::filesystem::path& baseModel, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins, std::optional<std::uint64_t> maxShardBytes = {});

} // namespace tunebench
