#include "transformers_class.h"

#include "core/tokenizer/bpe.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace tunebench::transformers_class {

namespace {

using nlohmann::json;

const char* const kLlama = "LlamaTokenizer";
const char* const kQwen2 = "Qwen2Tokenizer";
const char* const kGpt2 = "GPT2Tokenizer";

// Qwen2Tokenizer's split expression (transformers' PRETOKENIZE_REGEX).
const char* const kQwen2Regex = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kMetaspace = "\xE2\x96\x81";

std::string withoutFast(std::string name)
{
    if (name.size() > 4 && name.compare(name.size() - 4, 4, "Fast") == 0)
        name.resize(name.size() - 4);
    return name;
}

// The classes that take tokenizer.json as it is.
bool isGeneric(const std::string& name)
{
    const std::string n = withoutFast(name);
    return n.empty() || n == "TokenizersBackend" || n == "PreTrainedTokenizer" || n == "PythonBackend"
        || n == "MistralCommonBackend";
}

// AutoTokenizer's model type -> class table, for the architectures Tunebench trains.
// Mistral's entry is MistralCommonBackend only where the mistral-common package is
// installed (it is not in the reference environment); otherwise the generic backend.
std::string registeredClass(const std::string& modelType)
{
    if (modelType == "gpt2")
        return kGpt2;
    if (modelType == "qwen2" || modelType == "qwen2_moe" || modelType == "qwen3" || modelType == "qwen3_moe")
        return kQwen2;
    if (modelType == "mistral" || modelType == "mixtral")
        return "TokenizersBackend";
    return {};
}

// Model types whose tokenizer_class on the hub transformers overrides with its own.
bool distrustsHubClass(const std::string& modelType)
{
    return modelType == "qwen2";
}

std::string stringField(const json& object, const char* key)
{
    if (!object.is_object())
        return {};
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// A boolean the config may set; fallback where it is absent or null.
bool flag(const json& config, const char* key, bool fallback)
{
    const auto it = config.find(key);
    return it != config.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

bool sameFlags(const AddedToken& a, const AddedToken& b)
{
    return a.special == b.special && a.singleWord == b.singleWord && a.lstrip == b.lstrip && a.rstrip == b.rstrip
        && a.normalized == b.normalized;
}

} // namespace

std::string resolve(const json& tokenizerConfig, const json& modelConfig)
{
    std::string hub = stringField(tokenizerConfig, "tokenizer_class");
    if (hub.empty())
        hub = stringField(modelConfig, "tokenizer_class");
    const std::string modelType = stringField(modelConfig, "model_type");
    const std::string registered = registeredClass(modelType);
    const auto specific = [](const std::string& name) { return isGeneric(name) ? std::string() : withoutFast(name); };
    if (!hub.empty() && !registered.empty() && withoutFast(registered) != withoutFast(hub)) {
        if (isGeneric(registered))
            return {};
        return specific(distrustsHubClass(modelType) ? registered : hub);
    }
    return specific(hub.empty() ? registered : hub);
}

json pipeline(const std::string& cls, const json& tokenizerConfig)
{
    if (cls == kLlama) {
        // Metaspace without a split; "always" prepends the stand-in to every piece
        // between added tokens (legacy), "first" only at the start of the text.
        const bool prefix = flag(tokenizerConfig, "add_prefix_space", true);
        const bool legacy = flag(tokenizerConfig, "legacy", false);
        json decoders = json::array({ { { "type", "Replace" }, { "pattern", { { "String", kMetaspace } } },
                                          { "content", " " } },
            { { "type", "ByteFallback" } }, { { "type", "Fuse" } } });
        if (prefix)
            decoders.push_back({ { "type", "Strip" }, { "content", " " }, { "start", 1 }, { "stop", 0 } });
        return { { "normalizer", nullptr },
            { "pre_tokenizer",
                { { "type", "Metaspace" }, { "replacement", kMetaspace },
                    { "prepend_scheme", prefix ? (legacy ? "always" : "first") : "never" }, { "split", false } } },
            { "decoder", { { "type", "Sequence" }, { "decoders", decoders } } },
            { "model",
                { { "dropout", nullptr }, { "unk_token", nullptr }, { "continuing_subword_prefix", nullptr },
                    { "end_of_word_suffix", nullptr }, { "fuse_unk", true }, { "byte_fallback", true },
                    { "ignore_merges", false } } } };
    }
    const json byteLevelModel = { { "dropout", nullptr }, { "unk_token", nullptr }, { "continuing_subword_prefix", "" },
        { "end_of_word_suffix", "" }, { "fuse_unk", false }, { "byte_fallback", false }, { "ignore_merges", false } };
    if (cls == kQwen2) {
        return { { "normalizer", { { "type", "NFC" } } },
            { "pre_tokenizer",
                { { "type", "Sequence" },
                    { "pretokenizers",
                        { { { "type", "Split" }, { "pattern", { { "Regex", kQwen2Regex } } },
                              { "behavior", "Isolated" }, { "invert", false } },
                            { { "type", "ByteLevel" },
                                { "add_prefix_space", flag(tokenizerConfig, "add_prefix_space", false) },
                                { "trim_offsets", true }, { "use_regex", false } } } } } },
            { "decoder", { { "type", "ByteLevel" } } }, { "model", byteLevelModel } };
    }
    if (cls == kGpt2) {
        return { { "normalizer", nullptr },
            { "pre_tokenizer",
                { { "type", "ByteLevel" }, { "add_prefix_space", flag(tokenizerConfig, "add_prefix_space", false) },
                    { "trim_offsets", true }, { "use_regex", true } } },
            { "decoder", { { "type", "ByteLevel" } } }, { "model", byteLevelModel } };
    }
    return nullptr;
}

std::optional<std::string> defaultToken(const std::string& cls, std::string_view role)
{
    if (cls == kGpt2 && (role == "unk_token" || role == "bos_token" || role == "eos_token"))
        return "<|endoftext|>";
    if (cls == kQwen2 && (role == "unk_token" || role == "eos_token" || role == "pad_token"))
        return "<|endoftext|>";
    if (cls == kLlama) {
        if (role == "unk_token")
            return "<unk>";
        if (role == "bos_token")
            return "<s>";
        if (role == "eos_token")
            return "</s>";
    }
    return std::nullopt;
}

void AddedTokenRegistry::add(AddedToken token)
{
    if (token.content.empty())
        return;
    if (const auto it = m_index.find(token.content); it != m_index.end()) {
        AddedToken& existing = m_tokens[it->second];
        if (sameFlags(existing, token))
            return;
        token.id = existing.id;
        token.special = token.special || m_special.count(token.content) > 0;
        if (token.special)
            m_special.insert(token.content);
        existing = std::move(token);
        return;
    }
    if (const auto id = m_model.tokenToId(token.content)) {
        token.id = *id;
    } else {
        const auto count = static_cast<std::int32_t>(m_model.tokenCount());
        token.id = !m_maxId ? count : (*m_maxId >= count || count == 0 ? *m_maxId + 1 : count);
    }
    m_maxId = std::max(m_maxId.value_or(token.id), token.id);
    if (token.special)
        m_special.insert(token.content);
    m_index.emplace(token.content, m_tokens.size());
    m_tokens.push_back(std::move(token));
}

void AddedTokenRegistry::addSpecial(const std::string& content)
{
    if (const auto it = m_index.find(content); it != m_index.end()) {
        m_tokens[it->second].special = true;
        m_special.insert(content);
        return;
    }
    AddedToken token;
    token.content = content;
    token.special = true;
    token.normalized = false;
    add(std::move(token));
}

const AddedToken* AddedTokenRegistry::find(const std::string& content) const
{
    const auto it = m_index.find(content);
    return it == m_index.end() ? nullptr : &m_tokens[it->second];
}

} // namespace tunebench::transformers_class
