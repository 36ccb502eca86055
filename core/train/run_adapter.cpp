#include "core/train/run_adapter.h"

#include "core/method/adapter_fold.h"
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

namespace {

nlohmann::json readConfig(const std::filesystem::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string()
            + ": cannot open; expected a run's adapter folder (runs/<id>/adapter), which names its adapter there");
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object())
        throw InputError(path.string() + ": not a JSON object; expected a run's adapter folder (runs/<id>/adapter)");
    return j;
}

} // namespace

RunAdapterFiles RunAdapterFiles::read(const std::filesystem::path& dir)
{
    const std::filesystem::path configPath = dir / "adapter_config.json";
    nlohmann::json config = readConfig(configPath);
    if (!config.contains("adapter") || !config["adapter"].is_string())
        throw InputError(configPath.string() + ": field 'adapter' must name the adapter plugin"
            + (config.contains("peft_type") ? " (this is a PEFT folder: import it with tunebench-cli import-adapter)"
                                            : ""));
    RunAdapterFiles r;
    try {
        r.adapter = config["adapter"].get<std::string>();
        r.params = config.value("params", nlohmann::json::object());
        r.seed = config.value("seed", std::uint64_t { 0 });
        r.model = config.value("model", std::string());
    } catch (const nlohmann::json::exception& e) {
        throw InputError(configPath.string() + ": a field has the wrong type: " + e.what());
    }
    for (const char* key : { "adapter", "params", "seed", "model" })
        config.erase(key);
    r.extra = std::move(config);
    const auto tensors = SafetensorsFile::open(dir / "adapter.safetensors").tensors();
    r.state.assign(tensors.begin(), tensors.end());
    return r;
}

void RunAdapterFiles::write(const std::filesystem::path& folder) const
{
    std::filesystem::path dir = folder.lexically_normal();
    if (!dir.has_filename()) // "runs/3/adapter/": the temporary folder goes beside it, not inside
        dir = dir.parent_path();
    const std::filesystem::path temp = dir.string() + ".tmp";
    std::filesystem::remove_all(temp);
    std::filesystem::create_directories(temp);
    writeSafetensors(temp / "adapter.safetensors", NamedTensors(state.begin(), state.end()), { { "format", "pt" } });
    nlohmann::json config = extra;
    config["adapter"] = adapter;
    config["params"] = params;
    config["model"] = model;
    config["seed"] = seed;
    {
        std::ofstream out(temp / "adapter_config.json", std::ios::binary | std::ios::trunc);
        out << config.dump(2) << "\n";
        if (!out)
            throw Error((temp / "adapter_config.json").string() + ": cannot write");
    }
    std::filesystem::remove_all(dir);
    std::filesystem::rename(temp, dir);
}

bool RunAdapterFiles::exists(const std::filesystem::path& dir)
{
    return std::filesystem::exists(dir / "adapter_config.json") && std::filesystem::exists(dir / "adapter.safetensors");
}

std::unique_ptr<Adapter> loadRunAdapter(const std::filesystem::path& dir, CausalLM& model,
    const PluginRegistry& plugins, const std::filesystem::path& modelDir)
{
    RunAdapterFiles files = RunAdapterFiles::read(dir);
    const nlohmann::json params = plugins.require(PluginKind::Adapter, files.adapter)
                                      .schema.resolve(files.params, (dir / "adapter_config.json").string());
    std::unique_ptr<Adapter> adapter = plugins.createAdapter(files.adapter);
    model.setRequiresGrad(false);
    std::optional<Tokenizer> tokenizer;
    adapter->attach({ model, params, files.seed, [&](const std::string& text) {
                         if (!tokenizer)
                             tokenizer = Tokenizer::fromFolder(modelDir);
                         return tokenizer->encode(text, /*addSpecialTokens=*/true);
                     } });
    adapter->restoreState(files.state);
    return adapter;
}

std::string exportMergedModel(const std::filesystem::path& baseModel, const std::filesystem::path& adapterDir,
    const std::filesystem::path& out, const PluginRegistry& plugins, std::optional<std::uint64_t> maxShardBytes)
{
    std::unique_ptr<CausalLM> model = loadCausalLM(baseModel);
    std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *model, plugins, baseModel);
    foldAdapterIntoWeights(
        *adapter, *model, adapterDir.string() + ": this run's adapter", "export it as an adapter instead");
    std::filesystem::create_directories(out);
    saveModelFolder(*model, out, maxShardBytes);
    copyTokenizerFiles(baseModel, out);
    return RunAdapterFiles::read(adapterDir).adapter;
}

} // namespace tunebench
