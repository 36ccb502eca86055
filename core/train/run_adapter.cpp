#include "core/train/run_adapter.h"

#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <fstream>
#include <optional>

namespace tunebench {

std::unique_ptr<Adapter> loadRunAdapter(const std::filesystem::path& dir, CausalLM& model,
    const PluginRegistry& plugins, const std::filesystem::path& modelDir)
{
    const std::filesystem::path configPath = dir / "adapter_config.json";
    std::ifstream in(configPath, std::ios::binary);
    if (!in)
        throw InputError(configPath.string()
            + ": cannot open; expected a run's adapter folder (runs/<id>/adapter), which names its adapter there");
    const auto config = nlohmann::json::parse(in, nullptr, false);
    if (config.is_discarded() || !config.is_object() || !config.contains("adapter") || !config["adapter"].is_string())
        throw InputError(configPath.string() + ": field 'adapter' must name the adapter plugin");
    const std::string name = config["adapter"].get<std::string>();
    nlohmann::json params = config.value("params", nlohmann::json::object());
    params = plugins.require(PluginKind::Adapter, name).schema.resolve(params, configPath.string());
    std::unique_ptr<Adapter> adapter = plugins.createAdapter(name);
    model.setRequiresGrad(false);
    std::optional<Tokenizer> tokenizer;
    adapter->attach({ model, params, config.value("seed", std::uint64_t { 0 }), [&](const std::string& text) {
                         if (!tokenizer)
                             tokenizer = Tokenizer::fromFolder(modelDir);
                         return tokenizer->encode(text, /*addSpecialTokens=*/true);
                     } });
    const auto state = SafetensorsFile::open(dir / "adapter.safetensors").tensors();
    adapter->restoreState(AdapterState(state.begin(), state.end()));
    return adapter;
}

std::string exportMergedModel(const std::filesystem::path& baseModel, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins, std::optional<std::uint64_t> maxShardBytes)
{
    std::unique_ptr<CausalLM> model = loadCausalLM(baseModel);
    std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *model, plugins, baseModel);
    if (adapter->canMerge()) {
        at::NoGradGuard noGrad;
        adapter->merge();
    }
    // What is left hooked in computes beside the weights; without hooks, restoreState has put the tuned tensors
    // into the model itself (full, freeze, BitFit, HFT, sparse).
    bool hooked = model->virtualTokenCount() > 0;
    for (const Linear* layer : model->linears())
        hooked = hooked || layer->hook() != nullptr;
    if (hooked)
        throw InputError(adapterDir.string()
            + ": this run's adapter cannot be folded into the model's weights (prompt and prefix tuning add inputs, "
              "not weights); export it as an adapter instead");
    std::filesystem::create_directories(out);
    saveModelFolder(*model, out, maxShardBytes);
    copyTokenizerFiles(baseModel, out);
    std::ifstream config(adapterDir / "adapter_config.json", std::ios::binary);
    return nlohmann::json::parse(config, nullptr, false).value("adapter", std::string());
}

} // namespace tunebench
