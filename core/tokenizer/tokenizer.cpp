#include "tokenizer.h"

#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/transformers_class.h"
#include "core/tokenizer/unicode.h"
#include "core/tokenizer/vocab_merges.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace tunebench {

namespace fs = std::filesystem;

struct Tokenizer::Impl {
    TokenizerComponents parts;
    AddedVocabulary added;
    std::optional<std::int32_t> bos;
    std::optional<std::int32_t> eos;
    std::optional<std::int32_t> pad;
    std::size_t vocabSize = 0;

    // Added tokens, normalizer, pre-tokenizer and model; no post-processing.
    std::vector<std::int32_t> encodeSequence(std::string_view text) const;
    std::vector<std::int32_t> postProcess(IdSequences sequences, bool addSpecialTokens) const;

    std::optional<std::int32_t> tokenToId(std::string_view token) const
    {
        if (const AddedToken* t = added.byContent(token))
            return t->id;
        return parts.model->tokenToId(token);
    }
};

namespace {

nlohmann::json readJsonFile(const fs::path& file)
{
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw InputError(file.string() + ": cannot be opened for reading");
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        return nlohmann::json::parse(ss.str());
    } catch (const nlohmann::json::parse_error& e) {
        throw InputError(file.string() + ": not valid JSON: " + e.what());
    }
}

// A special token's text in tokenizer_config.json: a string, an AddedToken
// object ({"content": ..., ...}) or null.
std::optional<AddedToken> configToken(const nlohmann::json& config, const char* key, const std::string& file)
{
    const auto it = config.find(key);
    if (it == config.end() || it->is_null())
        return std::nullopt;
    if (!it->is_string() && !it->is_object())
        throw InputError(file + ": " + key + ": expected a string, an AddedToken object or null, got " + it->dump());
    return parseAddedToken(*it, file + ": " + key, false);
}

// The special token a role names: tokenizer_config.json's value (null: none), else
// the class's default.
std::optional<std::string> roleToken(
    const nlohmann::json& config, const char* key, const std::string& cls, const std::string& file)
{
    if (config.contains(key)) {
        const auto t = configToken(config, key, file);
        return t ? std::optional<std::string>(t->content) : std::nullopt;
    }
    return transformers_class::defaultToken(cls, key);
}

// Parses one part of a class pipeline (null stays null).
template <typename Part, typename Parse>
std::unique_ptr<Part> pipelinePart(const nlohmann::json& pipe, const char* key, const std::string& file, Parse parse)
{
    const nlohmann::json& node = pipe[key];
    return node.is_null() ? nullptr : parse(node, file + " (as transformers builds it): " + key);
}

// GPT-2 folders without tokenizer.json: vocab.json and merges.txt with the pipeline
// of the class `cls` (one that has a pipeline), the tokens of added_tokens.json, and
// the post-processor that add_bos_token and add_eos_token ask for.
TokenizerComponents loadVocabMerges(
    const fs::path& dir, const nlohmann::json& config, const std::string& cls, const std::string& configFile)
{
    const nlohmann::json pipe = transformers_class::pipeline(cls, config);
    TokenizerComponents c;
    const std::string mergesFile = (dir / "merges.txt").string();
    c.model = std::make_unique<Bpe>(readVocabJson(dir / "vocab.json"), readMergesTxt(dir / "merges.txt"),
        parseBpeOptions(pipe["model"], mergesFile), mergesFile + ": merge");
    c.normalizer = pipelinePart<Normalizer>(pipe, "normalizer", mergesFile, parseNormalizer);
    c.preTokenizer = pipelinePart<PreTokenizer>(pipe, "pre_tokenizer", mergesFile,
        [&](const nlohmann::json& node, const std::string& path) { return parsePreTokenizer(node, path, c.byteLevel); });
    c.decoder = pipelinePart<Decoder>(pipe, "decoder", mergesFile, parseDecoder);

    const fs::path addedFile = dir / "added_tokens.json";
    if (fs::exists(addedFile)) {
        const nlohmann::json added = readJsonFile(addedFile);
        if (!added.is_object())
            throw InputError(addedFile.string() + ": expected an object of token: id");
        for (const auto& [content, id] : added.items()) {
            if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX)
                throw InputError(addedFile.string() + ": token \"" + content + "\": expected an id, got " + id.dump());
            c.addedTokens.push_back(
                { content, static_cast<std::int32_t>(id.get<std::int64_t>()), false, false, false, false, true });
        }
    }

    // transformers honours add_bos_token / add_eos_token only without tokenizer.json.
    std::vector<TemplatePostProcessor::Piece> single;
    std::vector<TemplatePostProcessor::Piece> pair;
    const auto edge = [&](const char* flagKey, const char* role, int sequence) {
        const auto it = config.find(flagKey);
        if (it == config.end() || !it->is_boolean() || !it->get<bool>())
            return;
        const auto token = roleToken(config, role, cls, configFile);
        const auto id = token ? c.model->tokenToId(*token) : std::nullopt;
        if (!id)
            return;
        TemplatePostProcessor::Piece piece;
        piece.ids = { *id };
        (sequence == 0 ? single : pair).push_back(piece);
    };
    TemplatePostProcessor::Piece a;
    a.isSequence = true;
    TemplatePostProcessor::Piece b = a;
    b.sequenceB = true;
    edge("add_bos_token", "bos_token", 0);
    single.push_back(a);
    edge("add_eos_token", "eos_token", 0);
    pair = single;
    edge("add_bos_token", "bos_token", 1);
    pair.push_back(b);
    edge("add_eos_token", "eos_token", 1);
    c.postProcessor = std::make_unique<TemplatePostProcessor>(std::move(single), std::move(pair));
    return c;
}

// The added tokens after transformers has loaded the folder: the file's, in the order
// and with the ids the library gives them; then tokenizer_config.json's
// added_tokens_decoder (whose flags win); the roles' tokens made special (added where
// missing); the additional/extra special tokens added where missing.
std::vector<AddedToken> registerAddedTokens(const TokenizerComponents& parts, const nlohmann::json& config,
    const std::string& cls, const std::string& configFile)
{
    transformers_class::AddedTokenRegistry registry(*parts.model);
    for (const AddedToken& t : parts.addedTokens)
        registry.add(t);
    if (const auto it = config.find("added_tokens_decoder"); it != config.end() && it->is_object()) {
        std::vector<std::pair<long long, AddedToken>> entries;
        for (const auto& [idText, entry] : it->items()) {
            const std::string path = configFile + ": added_tokens_decoder[\"" + idText + "\"]";
            AddedToken t = parseAddedToken(entry, path, false);
            std::size_t used = 0;
            long long id = -1;
            try {
                id = std::stoll(idText, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != idText.size() || id < 0 || id > INT32_MAX)
                throw InputError(path + ": the key must be a token id (a whole number >= 0)");
            entries.emplace_back(id, std::move(t));
        }
        std::stable_sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
        for (auto& [id, t] : entries)
            registry.add(std::move(t));
    }
    for (const char* role :
        { "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token" }) {
        if (const auto token = roleToken(config, role, cls, configFile))
            registry.addSpecial(*token);
    }
    for (const char* key : { "additional_special_tokens", "extra_special_tokens" }) {
        const auto it = config.find(key);
        if (it == config.end() || !(it->is_array() || it->is_object()))
            continue;
        for (const auto& value : *it) {
            if (!value.is_string() && !value.is_object())
                continue;
            AddedToken t = parseAddedToken(value, configFile + ": " + key, false);
            if (registry.contains(t.content))
                continue;
            t.special = true;
            t.normalized = false;
            registry.add(std::move(t));
        }
    }
    return registry.tokens();
}

} // namespace

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl)
    : m_impl(std::move(impl))
{ }
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::fromFolder(const fs::path& dir)
{
    auto impl = std::make_unique<Impl>();
    const fs::path configPath = dir / "tokenizer_config.json";
    nlohmann::json config = nlohmann::json::object();
    if (fs::exists(configPath)) {
        config = readJsonFile(configPath);
        if (!config.is_object())
            throw InputError(configPath.string() + ": expected a JSON object at the top level");
    }
    // A model folder's config.json can decide the class transformers loads it with.
    nlohmann::json modelConfig;
    if (const fs::path modelConfigPath = dir / "config.json"; fs::exists(modelConfigPath))
        modelConfig = readJsonFile(modelConfigPath);
    std::string cls = transformers_class::resolve(config, modelConfig);

    const fs::path jsonPath = dir / "tokenizer.json";
    if (fs::exists(jsonPath)) {
        nlohmann::json document = readJsonFile(jsonPath);
        const nlohmann::json pipe = transformers_class::pipeline(cls, config);
        if (!pipe.is_null() && document.is_object()) {
            for (const char* part : { "normalizer", "pre_tokenizer", "decoder" })
                document[part] = pipe[part];
            if (document.contains("model") && document["model"].is_object())
                document["model"].update(pipe["model"]);
        }
        impl->parts = parseTokenizerJson(document, jsonPath.string());
    } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
        // GPT-2's files: GPT2Tokenizer's pipeline and special tokens unless the class has its own.
        if (transformers_class::pipeline(cls, config).is_null())
            cls = "GPT2Tokenizer";
        impl->parts = loadVocabMerges(dir, config, cls, configPath.string());
    } else {
        throw InputError(
            dir.string() + ": no tokenizer found (expected tokenizer.json, or vocab.json with merges.txt)");
    }
    impl->parts.addedTokens = registerAddedTokens(impl->parts, config, cls, configPath.string());
    impl->added = AddedVocabulary(impl->parts.addedTokens, impl->parts.normalizer.get());
    impl->vocabSize = impl->parts.model->vocabSize();
    for (const AddedToken& t : impl->added.tokens())
        impl->vocabSize = std::max(impl->vocabSize, static_cast<std::size_t>(t.id) + 1);

    // Every role's token is an added token by now (registerAddedTokens).
    const auto role = [&](const char* key) -> std::optional<std::int32_t> {
        const auto token = roleToken(config, key, cls, configPath.string());
        return token ? impl->tokenToId(*token) : std::nullopt;
    };
    impl->bos = role("bos_token");
    impl->eos = role("eos_token");
    impl->pad = role("pad_token");
    return Tokenizer(std::move(impl));
}

std::vector<std::int32_t> Tokenizer::Impl::encodeSequence(std::string_view text) const
{
    if (const auto bad = unicode::firstInvalidUtf8(text))
        throw InputError("text to encode is not valid UTF-8 (byte " + std::to_string(*bad) + " of "
            + std::to_string(text.size()) + ")");
    const Impl& d = *this;
    std::vector<std::int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    std::vector<PreToken> pieces;
    for (const auto& segment : d.added.split(text, false)) {
        if (segment.id) {
            ids.push_back(*segment.id);
            continue;
        }
        if (segment.begin == segment.end)
            continue;
        std::string section(text.substr(segment.begin, segment.end - segment.begin));
        if (d.parts.normalizer)
            d.parts.normalizer->normalize(section);
        for (const auto& sub : d.added.split(section, true)) {
            if (sub.id) {
                ids.push_back(*sub.id);
                continue;
            }
            if (sub.begin == sub.end)
                continue;
            pieces.clear();
            pieces.push_back({ section.substr(sub.begin, sub.end - sub.begin), segment.begin == 0 && sub.begin == 0 });
            if (d.parts.preTokenizer)
                d.parts.preTokenizer->preTokenize(pieces);
            for (const PreToken& piece : pieces)
                d.parts.model->tokenize(piece.text, ids);
        }
    }
    return ids;
}

std::vector<std::int32_t> Tokenizer::Impl::postProcess(IdSequences sequences, bool addSpecialTokens) const
{
    if (addSpecialTokens && parts.postProcessor)
        sequences = parts.postProcessor->apply(std::move(sequences));
    std::vector<std::int32_t> ids;
    for (auto& seq : sequences)
        ids.insert(ids.end(), seq.begin(), seq.end());
    return ids;
}

std::vector<std::int32_t> Tokenizer::encode(std::string_view text, bool addSpecialTokens) const
{
    std::vector<std::int32_t> ids = m_impl->encodeSequence(text);
    if (!addSpecialTokens || !m_impl->parts.postProcessor)
        return ids;
    return m_impl->postProcess({ std::move(ids) }, true);
}

std::vector<std::int32_t> Tokenizer::encodePair(
    std::string_view first, std::string_view second, bool addSpecialTokens) const
{
    return m_impl->postProcess({ m_impl->encodeSequence(first), m_impl->encodeSequence(second) }, addSpecialTokens);
}

std::string Tokenizer::decode(std::span<const std::int32_t> ids, bool skipSpecialTokens) const
{
    const Impl& d = *m_impl;
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (const std::int32_t id : ids) {
        if (const AddedToken* t = d.added.byId(id)) {
            if (!(skipSpecialTokens && t->special))
                tokens.push_back(d.added.decodedText(*t));
        } else if (const std::string* s = d.parts.model->idToToken(id)) {
            tokens.push_back(*s);
        }
        // Ids the tokenizer does not know are skipped, as the library does.
    }
    std::string text;
    if (d.parts.decoder) {
        d.parts.decoder->decodeChain(tokens);
        for (const std::string& t : tokens)
            text.append(t);
    } else {
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (i > 0)
                text.push_back(' ');
            text.append(tokens[i]);
        }
    }
    return text;
}

std::size_t Tokenizer::vocabSize() const
{
    return m_impl->vocabSize;
}

std::optional<std::int32_t> Tokenizer::tokenToId(std::string_view token) const
{
    return m_impl->tokenToId(token);
}

std::string Tokenizer::idToToken(std::int32_t id) const
{
    if (const AddedToken* t = m_impl->added.byId(id))
        return m_impl->added.decodedText(*t);
    if (const std::string* s = m_impl->parts.model->idToToken(id))
        return *s;
    return {};
}

std::optional<std::int32_t> Tokenizer::bosId() const
{
    return m_impl->bos;
}

std::optional<std::int32_t> Tokenizer::eosId() const
{
    return m_impl->eos;
}

std::optional<std::int32_t> Tokenizer::padId() const
{
    return m_impl->pad;
}

bool Tokenizer::isLossless() const
{
    const auto& p = m_impl->parts;
    return !p.normalizer && p.byteLevel && p.decoder && p.decoder->isByteLevel()
        && !(p.preTokenizer && p.preTokenizer->addsSpace());
}

} // namespace tunebench
