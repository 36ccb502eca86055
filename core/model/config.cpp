#include "core/model/config.h"

#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <sstream>

namespace tunebench {

namespace {

struct ArchitectureEntry {
    Architecture arch;
    std::string_view className;
    std::string_view modelType;
};

constexpr std::array<ArchitectureEntry, 5> kArchitectures { {
    { Architecture::Llama, "LlamaForCausalLM", "llama" },
    { Architecture::Mistral, "MistralForCausalLM", "mistral" },
    { Architecture::Qwen2, "Qwen2ForCausalLM", "qwen2" },
    { Architecture::Qwen3, "Qwen3ForCausalLM", "qwen3" },
    { Architecture::Gpt2, "GPT2LMHeadModel", "gpt2" },
} };

std::string supportedList()
{
    std::string out;
    for (const auto& e : kArchitectures)
        out += (out.empty() ? "" : ", ") + std::string(e.className);
    return out;
}

// Typed access to config keys with messages that name the key and the file.
class Keys {
public:
    Keys(const nlohmann::json& json, std::string fileLabel)
        : m_json(json)
        , m_file(std::move(fileLabel))
    { }

    bool has(const char* key) const { return m_json.contains(key) && !m_json[key].is_null(); }
    bool present(const char* key) const { return m_json.contains(key); }
    // Callers check has() or present() first; .at() keeps a slip from being undefined behaviour.
    const nlohmann::json& at(const char* key) const { return m_json.at(key); }
    const std::string& file() const { return m_file; }

    [[noreturn]] void fail(const std::string& key, const std::string& what) const
    {
        throw InputError(m_file + ": key '" + key + "' " + what);
    }

    std::int64_t integer(const char* key, const nlohmann::json& v) const
    {
        if (!v.is_number_integer())
            fail(key, "must be a whole number, got " + v.dump());
        return v.get<std::int64_t>();
    }

    std::int64_t requiredInt(const char* key) const
    {
        if (!has(key))
            fail(key, "is missing (required for this architecture)");
        return integer(key, at(key));
    }

    std::int64_t optionalInt(const char* key, std::int64_t fallback) const
    {
        return has(key) ? integer(key, at(key)) : fallback;
    }

    std::optional<std::int64_t> nullableInt(const char* key) const
    {
        if (!has(key))
            return std::nullopt;
        return integer(key, at(key));
    }

    double number(const char* key, double fallback) const
    {
        if (!has(key))
            return fallback;
        if (!at(key).is_number())
            fail(key, "must be a number, got " + at(key).dump());
        return at(key).get<double>();
    }

    bool boolean(const char* key, bool fallback) const
    {
        if (!has(key))
            return fallback;
        if (!at(key).is_boolean())
            fail(key, "must be true or false, got " + at(key).dump());
        return at(key).get<bool>();
    }

    std::string string(const char* key, const std::string& fallback) const
    {
        if (!has(key))
            return fallback;
        if (!at(key).is_string())
            fail(key, "must be a string, got " + at(key).dump());
        return at(key).get<std::string>();
    }

private:
    const nlohmann::json& m_json;
    std::string m_file;
};

Architecture detectArchitecture(const Keys& keys)
{
    if (keys.has("architectures")) {
        const auto& list = keys.at("architectures");
        if (!list.is_array() || list.empty() || !list[0].is_string())
            keys.fail(
                "architectures", "must be a list of class names, e.g. [\"LlamaForCausalLM\"], got " + list.dump());
        const std::string name = list[0].get<std::string>();
        for (const auto& e : kArchitectures) {
            if (e.className == name)
                return e.arch;
        }
        keys.fail("architectures",
            "names '" + name + "', which Tunebench does not support (supported: " + supportedList() + ")");
    }
    if (keys.has("model_type")) {
        const std::string type = keys.string("model_type", "");
        for (const auto& e : kArchitectures) {
            if (e.modelType == type)
                return e.arch;
        }
        keys.fail(
            "model_type", "is '" + type + "', which Tunebench does not support (supported: " + supportedList() + ")");
    }
    throw InputError(keys.file() + ": key 'architectures' is missing (and there is no 'model_type' either)");
}

StorageDtype parseDtype(const Keys& keys)
{
    // transformers 5 writes "dtype", 4.x "torch_dtype".
    const char* key = keys.has("dtype") ? "dtype" : "torch_dtype";
    const std::string name = keys.string(key, "float32");
    if (name == "float32" || name == "float")
        return StorageDtype::Float32;
    if (name == "float16" || name == "half")
        return StorageDtype::Float16;
    if (name == "bfloat16")
        return StorageDtype::BFloat16;
    keys.fail(key, "is '" + name + "'; expected float32, float16 or bfloat16");
}

void parseTokenIds(const Keys& keys, ModelConfig& c)
{
    c.bosTokenId = keys.nullableInt("bos_token_id");
    c.padTokenId = keys.nullableInt("pad_token_id");
    if (keys.has("eos_token_id")) {
        const auto& eos = keys.at("eos_token_id");
        if (eos.is_array()) {
            for (const auto& id : eos)
                c.eosTokenIds.push_back(keys.integer("eos_token_id", id));
        } else {
            c.eosTokenIds.push_back(keys.integer("eos_token_id", eos));
        }
    }
}

// Where transformers finds the pre-training context of llama3 and yarn scaling: a top-level
// original_max_position_embeddings wins (Phi-3 keeps it there), then the scaling's own, then
// max_position_embeddings.
std::int64_t originalContext(const Keys& keys, const Keys& rk, const ModelConfig& c)
{
    std::int64_t n = c.maxPositionEmbeddings;
    const char* key = "original_max_position_embeddings";
    if (keys.has(key))
        n = keys.integer(key, keys.at(key));
    else if (rk.has(key))
        n = rk.integer(key, rk.at(key));
    if (n <= 0)
        rk.fail(key, "must be positive");
    return n;
}

void parseYarn(const Keys& keys, const Keys& rk, ModelConfig& c)
{
    RopeScaling& s = c.ropeScaling;
    s.type = RopeScaling::Type::Yarn;
    s.originalMaxPositionEmbeddings = originalContext(keys, rk, c);
    // An explicit null factor means the ratio of the two contexts (DeepSeek-V3's convention).
    if (!rk.present("factor"))
        rk.fail("factor", "is missing (required for rope type 'yarn'; null: max_position_embeddings / "
                          "original_max_position_embeddings)");
    s.factor = rk.has("factor") ? rk.number("factor", 1.0)
                                : static_cast<double>(c.maxPositionEmbeddings)
            / static_cast<double>(s.originalMaxPositionEmbeddings);
    if (!(s.factor > 0.0) || !std::isfinite(s.factor))
        rk.fail("factor", "must be positive");
    // transformers reads these with `or`: null and 0 mean the default.
    s.betaFast = rk.number("beta_fast", 0.0);
    if (s.betaFast == 0.0)
        s.betaFast = 32.0;
    s.betaSlow = rk.number("beta_slow", 0.0);
    if (s.betaSlow == 0.0)
        s.betaSlow = 1.0;
    if (!(s.betaFast > 0.0) || !(s.betaSlow > 0.0) || !std::isfinite(s.betaFast) || !std::isfinite(s.betaSlow))
        rk.fail("beta_fast", "and beta_slow must be positive numbers");
    s.truncate = rk.boolean("truncate", true);
    if (rk.has("attention_factor")) {
        s.attentionFactor = rk.number("attention_factor", 1.0);
        if (!(*s.attentionFactor > 0.0) || !std::isfinite(*s.attentionFactor))
            rk.fail("attention_factor", "must be a positive number");
    }
    if (rk.has("mscale"))
        s.mscale = rk.number("mscale", 1.0);
    if (rk.has("mscale_all_dim"))
        s.mscaleAllDim = rk.number("mscale_all_dim", 1.0);
}

void parseRope(const Keys& keys, ModelConfig& c)
{
    // transformers 5 folds rope_theta and the scaling into rope_parameters.
    const char* key = keys.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
    c.ropeTheta = keys.number("rope_theta", c.ropeTheta);
    if (!keys.has(key))
        return;
    const nlohmann::json& r = keys.at(key);
    if (!r.is_object())
        keys.fail(key, "must be an object or null, got " + r.dump());
    Keys rk(r, keys.file() + ": " + key);
    c.ropeTheta = rk.number("rope_theta", c.ropeTheta);
    const std::string type = rk.has("rope_type") ? rk.string("rope_type", "") : rk.string("type", "default");
    if (type == "default")
        return;
    if (type == "linear" || type == "dynamic" || type == "llama3") {
        if (!rk.has("factor"))
            rk.fail("factor", "is missing (required for rope type '" + type + "')");
        c.ropeScaling.factor = rk.number("factor", 1.0);
        if (!(c.ropeScaling.factor > 0.0))
            rk.fail("factor", "must be positive");
    }
    if (type == "linear") {
        c.ropeScaling.type = RopeScaling::Type::Linear;
    } else if (type == "dynamic") {
        c.ropeScaling.type = RopeScaling::Type::Dynamic;
    } else if (type == "llama3") {
        c.ropeScaling.type = RopeScaling::Type::Llama3;
        for (const char* k : { "low_freq_factor", "high_freq_factor" }) {
            if (!rk.has(k))
                rk.fail(k, "is missing (required for rope type 'llama3')");
        }
        c.ropeScaling.lowFreqFactor = rk.number("low_freq_factor", 1.0);
        c.ropeScaling.highFreqFactor = rk.number("high_freq_factor", 4.0);
        c.ropeScaling.originalMaxPositionEmbeddings = originalContext(keys, rk, c);
        if (!(c.ropeScaling.highFreqFactor > c.ropeScaling.lowFreqFactor))
            rk.fail("high_freq_factor", "must be greater than low_freq_factor");
    } else if (type == "yarn") {
        parseYarn(keys, rk, c);
    } else {
        rk.fail("rope_type", "is '" + type + "'; supported: default, linear, dynamic, llama3, yarn");
    }
    if (rk.number("partial_rotary_factor", 1.0) != 1.0)
        rk.fail("partial_rotary_factor", "other than 1.0 is not supported");
}

void parseLlamaFamily(const Keys& keys, ModelConfig& c)
{
    const Architecture a = c.architecture;
    c.vocabSize = keys.requiredInt("vocab_size");
    c.hiddenSize = keys.requiredInt("hidden_size");
    c.intermediateSize = keys.requiredInt("intermediate_size");
    c.numLayers = keys.requiredInt("num_hidden_layers");
    c.numHeads = keys.requiredInt("num_attention_heads");
    c.numKvHeads = keys.optionalInt("num_key_value_heads", c.numHeads);
    // Qwen3Config defaults head_dim to 128; the others derive it.
    const std::int64_t derivedHeadDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
    c.headDim = keys.optionalInt("head_dim", a == Architecture::Qwen3 ? 128 : derivedHeadDim);
    if (!keys.has("head_dim") && a != Architecture::Qwen3 && c.numHeads > 0 && c.hiddenSize % c.numHeads != 0)
        keys.fail("hidden_size",
            "(" + std::to_string(c.hiddenSize) + ") must be divisible by num_attention_heads ("
                + std::to_string(c.numHeads) + ") when head_dim is not given");
    c.hiddenAct = keys.string("hidden_act", "silu");
    const std::int64_t defaultMaxPos = a == Architecture::Llama ? 2048 : a == Architecture::Mistral ? 4096 * 32 : 32768;
    c.maxPositionEmbeddings = keys.optionalInt("max_position_embeddings", defaultMaxPos);
    c.normEps = keys.number("rms_norm_eps", 1e-6);
    c.tieWordEmbeddings = keys.boolean("tie_word_embeddings", false);
    c.initializerRange = keys.number("initializer_range", 0.02);
    parseRope(keys, c);

    switch (a) {
    case Architecture::Llama:
        c.qkvBias = c.outputBias = keys.boolean("attention_bias", false);
        c.mlpBias = keys.boolean("mlp_bias", false);
        if (keys.optionalInt("pretraining_tp", 1) != 1)
            keys.fail("pretraining_tp", "other than 1 is not supported");
        break;
    case Architecture::Mistral:
        // MistralConfig defaults the window to 4096; an explicit null means full attention.
        if (!keys.present("sliding_window"))
            c.slidingWindow = 4096;
        else
            c.slidingWindow = keys.nullableInt("sliding_window");
        break;
    case Architecture::Qwen2:
    case Architecture::Qwen3: {
        if (a == Architecture::Qwen2) {
            c.qkvBias = true;
        } else {
            c.qkvBias = c.outputBias = keys.boolean("attention_bias", false);
            c.qkNorm = true;
        }
        const bool useWindow = keys.boolean("use_sliding_window", false);
        const std::int64_t window = keys.optionalInt("sliding_window", 4096);
        const std::int64_t maxWindowLayers = keys.optionalInt("max_window_layers", 28);
        if (useWindow)
            c.slidingWindow = window;
        if (keys.has("layer_types")) {
            const auto& types = keys.at("layer_types");
            if (!types.is_array() || static_cast<std::int64_t>(types.size()) != c.numLayers)
                keys.fail("layer_types",
                    "must list one type per layer (num_hidden_layers = " + std::to_string(c.numLayers) + ")");
            for (const auto& t : types) {
                if (t == "sliding_attention")
                    c.slidingLayers.push_back(true);
                else if (t == "full_attention")
                    c.slidingLayers.push_back(false);
                else
                    keys.fail("layer_types", "has " + t.dump() + "; expected full_attention or sliding_attention");
            }
        } else {
            for (std::int64_t i = 0; i < c.numLayers; ++i)
                c.slidingLayers.push_back(useWindow && i >= maxWindowLayers);
        }
        break;
    }
    case Architecture::Gpt2:
        break;
    }
}

void parseGpt2(const Keys& keys, ModelConfig& c)
{
    c.vocabSize = keys.requiredInt("vocab_size");
    c.hiddenSize = keys.requiredInt("n_embd");
    c.numLayers = keys.requiredInt("n_layer");
    c.numHeads = keys.requiredInt("n_head");
    c.numKvHeads = c.numHeads;
    if (c.numHeads > 0 && c.hiddenSize % c.numHeads != 0)
        keys.fail("n_embd",
            "(" + std::to_string(c.hiddenSize) + ") must be divisible by n_head (" + std::to_string(c.numHeads) + ")");
    c.headDim = c.numHeads > 0 ? c.hiddenSize / c.numHeads : 0;
    c.intermediateSize = keys.optionalInt("n_inner", 4 * c.hiddenSize);
    c.maxPositionEmbeddings = keys.optionalInt("n_positions", 1024);
    c.hiddenAct = keys.string("activation_function", "gelu_new");
    c.normEps = keys.number("layer_norm_epsilon", 1e-5);
    c.tieWordEmbeddings = keys.boolean("tie_word_embeddings", true);
    c.initializerRange = keys.number("initializer_range", 0.02);
    c.scaleAttnWeights = keys.boolean("scale_attn_weights", true);
    c.scaleAttnByInverseLayerIdx = keys.boolean("scale_attn_by_inverse_layer_idx", false);
    c.qkvBias = c.outputBias = c.mlpBias = true;
    if (keys.boolean("add_cross_attention", false))
        keys.fail("add_cross_attention", "true (an encoder-decoder GPT-2) is not supported");
}

} // namespace

std::string_view architectureClassName(Architecture arch)
{
    return kArchitectures[static_cast<std::size_t>(arch)].className;
}

std::string_view architectureModelType(Architecture arch)
{
    return kArchitectures[static_cast<std::size_t>(arch)].modelType;
}

Architecture architectureFromModelType(std::string_view modelType)
{
    std::string known;
    for (const auto& e : kArchitectures) {
        if (e.modelType == modelType)
            return e.arch;
        known += (known.empty() ? "" : ", ") + std::string(e.modelType);
    }
    throw InputError("unknown architecture '" + std::string(modelType) + "' (known: " + known + ")");
}

std::string_view storageDtypeName(StorageDtype dtype)
{
    switch (dtype) {
    case StorageDtype::Float32:
        return "float32";
    case StorageDtype::Float16:
        return "float16";
    case StorageDtype::BFloat16:
        return "bfloat16";
    }
    return "float32";
}

bool ModelConfig::layerUsesSlidingWindow(std::int64_t layer) const
{
    if (!slidingWindow)
        return false;
    if (slidingLayers.empty())
        return true;
    return layer >= 0 && layer < static_cast<std::int64_t>(slidingLayers.size())
        && slidingLayers[static_cast<std::size_t>(layer)];
}

ModelConfig readModelConfig(const std::filesystem::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(file.string() + ": cannot open (a model folder needs a config.json)");
    std::ostringstream text;
    text << in.rdbuf();
    nlohmann::json json;
    try {
        json = nlohmann::json::parse(text.str());
    } catch (const nlohmann::json::exception& e) {
        throw InputError(file.string() + ": not valid JSON: " + e.what());
    }
    return parseModelConfig(json, file.string());
}

ModelConfig parseModelConfig(const nlohmann::json& json, const std::string& fileLabel)
{
    if (!json.is_object())
        throw InputError(fileLabel + ": expected a JSON object, got " + json.type_name());
    Keys keys(json, fileLabel);
    ModelConfig c;
    c.architecture = detectArchitecture(keys);
    if (c.architecture == Architecture::Gpt2)
        parseGpt2(keys, c);
    else
        parseLlamaFamily(keys, c);
    c.torchDtype = parseDtype(keys);
    parseTokenIds(keys, c);
    if (c.architecture == Architecture::Gpt2) {
        // GPT2Config's defaults; an explicit null stays null.
        if (!keys.present("bos_token_id"))
            c.bosTokenId = 50256;
        if (!keys.present("eos_token_id"))
            c.eosTokenIds = { 50256 };
    }
    validateModelConfig(c, fileLabel);
    return c;
}

void validateModelConfig(const ModelConfig& c, const std::string& fileLabel)
{
    const bool gpt2 = c.architecture == Architecture::Gpt2;
    auto fail = [&](const char* key, const std::string& what) {
        throw InputError(fileLabel + ": key '" + key + "' " + what);
    };
    auto positive = [&](const char* key, std::int64_t v) {
        if (v <= 0)
            fail(key, "must be positive, got " + std::to_string(v));
    };
    positive("vocab_size", c.vocabSize);
    positive(gpt2 ? "n_embd" : "hidden_size", c.hiddenSize);
    positive(gpt2 ? "n_inner" : "intermediate_size", c.intermediateSize);
    positive(gpt2 ? "n_layer" : "num_hidden_layers", c.numLayers);
    positive(gpt2 ? "n_head" : "num_attention_heads", c.numHeads);
    positive("num_key_value_heads", c.numKvHeads);
    positive("head_dim", c.headDim);
    positive(gpt2 ? "n_positions" : "max_position_embeddings", c.maxPositionEmbeddings);
    if (c.numHeads % c.numKvHeads != 0)
        fail("num_key_value_heads",
            "(" + std::to_string(c.numKvHeads) + ") must divide num_attention_heads (" + std::to_string(c.numHeads)
                + ")");
    if (c.usesRope() && c.headDim % 2 != 0)
        fail("head_dim", "must be even for rotary embeddings, got " + std::to_string(c.headDim));
    if (!(c.normEps > 0.0) || !std::isfinite(c.normEps))
        fail(gpt2 ? "layer_norm_epsilon" : "rms_norm_eps", "must be a positive number");
    if (c.usesRope() && (!(c.ropeTheta > 0.0) || !std::isfinite(c.ropeTheta)))
        fail("rope_theta", "must be a positive number");
    if (c.slidingWindow && *c.slidingWindow <= 0)
        fail("sliding_window", "must be positive or null, got " + std::to_string(*c.slidingWindow));
    static const std::array<std::string_view, 7> kActs { "silu", "swish", "gelu", "gelu_new", "gelu_pytorch_tanh",
        "relu", "tanh" };
    if (std::find(kActs.begin(), kActs.end(), c.hiddenAct) == kActs.end())
        fail(gpt2 ? "activation_function" : "hidden_act",
            "is '" + c.hiddenAct + "'; supported: silu, swish, gelu, gelu_new, gelu_pytorch_tanh, relu, tanh");
    auto validId = [&](const char* key, std::int64_t id) {
        if (id < 0)
            fail(key, "must not be negative, got " + std::to_string(id));
    };
    if (c.bosTokenId)
        validId("bos_token_id", *c.bosTokenId);
    if (c.padTokenId)
        validId("pad_token_id", *c.padTokenId);
    for (auto id : c.eosTokenIds)
        validId("eos_token_id", id);
}

// Long for a reason: a table, one line per config.json key transformers reads, per architecture.
nlohmann::json modelConfigToJson(const ModelConfig& c)
{
    nlohmann::json j;
    j["architectures"] = { std::string(architectureClassName(c.architecture)) };
    j["model_type"] = std::string(architectureModelType(c.architecture));
    j["vocab_size"] = c.vocabSize;
    if (c.architecture == Architecture::Gpt2) {
        j["n_embd"] = c.hiddenSize;
        j["n_layer"] = c.numLayers;
        j["n_head"] = c.numHeads;
        j["n_positions"] = c.maxPositionEmbeddings;
        j["n_ctx"] = c.maxPositionEmbeddings;
        j["n_inner"]
            = c.intermediateSize == 4 * c.hiddenSize ? nlohmann::json(nullptr) : nlohmann::json(c.intermediateSize);
        j["activation_function"] = c.hiddenAct;
        j["layer_norm_epsilon"] = c.normEps;
        j["resid_pdrop"] = 0.1;
        j["embd_pdrop"] = 0.1;
        j["attn_pdrop"] = 0.1;
        j["scale_attn_weights"] = c.scaleAttnWeights;
        j["scale_attn_by_inverse_layer_idx"] = c.scaleAttnByInverseLayerIdx;
        j["reorder_and_upcast_attn"] = false;
    } else {
        j["hidden_size"] = c.hiddenSize;
        j["intermediate_size"] = c.intermediateSize;
        j["num_hidden_layers"] = c.numLayers;
        j["num_attention_heads"] = c.numHeads;
        j["num_key_value_heads"] = c.numKvHeads;
        j["head_dim"] = c.headDim;
        j["hidden_act"] = c.hiddenAct;
        j["max_position_embeddings"] = c.maxPositionEmbeddings;
        j["rms_norm_eps"] = c.normEps;
        j["rope_theta"] = c.ropeTheta;
        const RopeScaling& r = c.ropeScaling;
        switch (r.type) {
        case RopeScaling::Type::None:
            j["rope_scaling"] = nullptr;
            break;
        case RopeScaling::Type::Linear:
            j["rope_scaling"] = { { "rope_type", "linear" }, { "factor", r.factor } };
            break;
        case RopeScaling::Type::Dynamic:
            j["rope_scaling"] = { { "rope_type", "dynamic" }, { "factor", r.factor } };
            break;
        case RopeScaling::Type::Llama3:
            j["rope_scaling"] = { { "rope_type", "llama3" }, { "factor", r.factor },
                { "low_freq_factor", r.lowFreqFactor }, { "high_freq_factor", r.highFreqFactor },
                { "original_max_position_embeddings", r.originalMaxPositionEmbeddings } };
            break;
        case RopeScaling::Type::Yarn: {
            nlohmann::json y = { { "rope_type", "yarn" }, { "factor", r.factor },
                { "original_max_position_embeddings", r.originalMaxPositionEmbeddings }, { "beta_fast", r.betaFast },
                { "beta_slow", r.betaSlow }, { "truncate", r.truncate } };
            if (r.attentionFactor)
                y["attention_factor"] = *r.attentionFactor;
            if (r.mscale)
                y["mscale"] = *r.mscale;
            if (r.mscaleAllDim)
                y["mscale_all_dim"] = *r.mscaleAllDim;
            j["rope_scaling"] = y;
            break;
        }
        }
        j["attention_dropout"] = 0.0;
        switch (c.architecture) {
        case Architecture::Llama:
            j["attention_bias"] = c.qkvBias;
            j["mlp_bias"] = c.mlpBias;
            j["pretraining_tp"] = 1;
            break;
        case Architecture::Mistral:
            j["sliding_window"] = c.slidingWindow ? nlohmann::json(*c.slidingWindow) : nlohmann::json(nullptr);
            break;
        case Architecture::Qwen2:
        case Architecture::Qwen3: {
            if (c.architecture == Architecture::Qwen3)
                j["attention_bias"] = c.outputBias;
            j["use_sliding_window"] = c.slidingWindow.has_value();
            j["sliding_window"] = c.slidingWindow ? nlohmann::json(*c.slidingWindow) : nlohmann::json(nullptr);
            // The first max_window_layers layers use full attention.
            std::int64_t firstSliding = c.numLayers;
            for (std::int64_t i = 0; i < c.numLayers; ++i) {
                if (c.layerUsesSlidingWindow(i)) {
                    firstSliding = i;
                    break;
                }
            }
            j["max_window_layers"] = c.slidingWindow ? firstSliding : c.numLayers;
            if (c.slidingWindow) {
                nlohmann::json types = nlohmann::json::array();
                for (std::int64_t i = 0; i < c.numLayers; ++i)
                    types.push_back(c.layerUsesSlidingWindow(i) ? "sliding_attention" : "full_attention");
                j["layer_types"] = types;
            }
            break;
        }
        case Architecture::Gpt2:
            break;
        }
    }
    j["tie_word_embeddings"] = c.tieWordEmbeddings;
    j["initializer_range"] = c.initializerRange;
    j["use_cache"] = true;
    j["torch_dtype"] = std::string(storageDtypeName(c.torchDtype));
    j["bos_token_id"] = c.bosTokenId ? nlohmann::json(*c.bosTokenId) : nlohmann::json(nullptr);
    if (c.eosTokenIds.size() == 1)
        j["eos_token_id"] = c.eosTokenIds[0];
    else if (c.eosTokenIds.empty())
        j["eos_token_id"] = nullptr;
    else
        j["eos_token_id"] = c.eosTokenIds;
    if (c.padTokenId)
        j["pad_token_id"] = *c.padTokenId;
    return j;
}

} // namespace tunebench
