// The fuzz binaries load no plugin libraries (plugins need LibTorch, which is not fuzzed), so this file
// stands in for the lookups of core/method/plugin_registry.cpp that TrainConfig::fromJson makes: a fixed
// set of real plugins' names and parameter schemas, copied from their descriptors in plugins/, so that
// the run configuration's adapter and objective parameters are checked as in the product.
#include "core/method/plugin_registry.h"

#include "core/util/error.h"

namespace tunebench {

namespace {

PluginInfo info(const char* name, PluginKind kind, const char* schema)
{
    PluginInfo p;
    p.name = name;
    p.kind = kind;
    p.schema = ParameterSchema::fromJson(nlohmann::json::parse(schema), name);
    return p;
}

// The LoRA family's common schema (plugins/lora, plugins/dora).
const char* const kLoraSchema = R"([
            {"name": "r", "aliases": ["lora_r", "lora_rank"], "type": "integer", "default": 8, "minimum": 1,
             "maximum": 65536},
            {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0},
            {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1},
            {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list",
             "default": ["q_proj", "v_proj"]},
            {"name": "use_rslora", "type": "boolean", "default": false}])";

const std::vector<PluginInfo>& builtinPlugins()
{
    static const std::vector<PluginInfo> all = {
        info("full", PluginKind::Adapter, "[]"),
        info("lora", PluginKind::Adapter, kLoraSchema),
        info("dora", PluginKind::Adapter, kLoraSchema),
        info("ia3", PluginKind::Adapter, R"([
            {"name": "target_modules", "aliases": ["ia3_target"], "type": "string_list", "default": []},
            {"name": "feedforward_modules", "type": "string_list", "default": []}])"),
        info("prompt_tuning", PluginKind::Adapter, R"([
            {"name": "num_virtual_tokens", "type": "integer", "default": 20, "minimum": 1, "maximum": 4096},
            {"name": "prompt_tuning_init", "type": "choice", "default": "random",
             "choices": ["random", "sample_vocab", "text"]},
            {"name": "prompt_tuning_init_text", "type": "string", "default": ""},
            {"name": "prompt_tuning_init_token_ids", "type": "integer_list", "default": [], "minimum": 0}])"),
        info("prefix_tuning", PluginKind::Adapter, R"([
            {"name": "num_virtual_tokens", "aliases": ["pre_seq_len"], "type": "integer", "default": 20,
             "minimum": 1, "maximum": 4096},
            {"name": "prefix_projection", "type": "boolean", "default": false},
            {"name": "encoder_hidden_size", "type": "integer", "default": 0, "minimum": 0, "maximum": 1048576},
            {"name": "init_weights", "type": "choice", "default": "random", "choices": ["random", "zero"]}])"),
        info("sft", PluginKind::Objective, R"([
            {"name": "label_smoothing", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1}])"),
        info("ipo", PluginKind::Objective, R"([
            {"name": "beta", "aliases": ["pref_beta"], "type": "number", "default": 0.1, "minimum": 0.0001,
             "maximum": 100},
            {"name": "average_log_prob", "type": "boolean", "default": false},
            {"name": "prefix_sharing", "type": "boolean", "default": false}])"),
    };
    return all;
}

} // namespace

const PluginInfo* PluginRegistry::find(PluginKind kind, std::string_view name) const
{
    for (const PluginInfo& p : builtinPlugins()) {
        if (p.kind == kind && p.name == name)
            return &p;
    }
    return nullptr;
}

const PluginInfo& PluginRegistry::require(PluginKind kind, std::string_view name) const
{
    if (const PluginInfo* p = find(kind, name))
        return *p;
    throw InputError("no " + std::string(kind == PluginKind::Adapter ? "adapter" : "objective") + " named '"
        + std::string(name) + "' (available: full, lora, dora, ia3, prompt_tuning, prefix_tuning, sft, ipo)");
}

} // namespace tunebench
