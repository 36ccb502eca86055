#include "tokenizer.h"

#include "core/tokenizer/tokenizer_json.h"
#include "core/tokenizer/unicode.h"
#include "core/tokenizer/vocab_merges.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

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

// GPT-2 folders without tokenizer.json: byte-level BPE with the GPT-2 regex, and the
// added tokens that tokenizer_config.json and added_tokens.json name.
TokenizerComponents loadVocabMerges(const fs::path& dir, const nlohmann::json& config, const std::string& configFile)
{
    TokenizerComponents c;
    Vocabulary vocab = readVocabJson(dir / "vocab.json");
    const auto merges = readMergesTxt(dir / "merges.txt");
    c.model = std::make_unique<Bpe>(std::move(vocab), merges, BpeOptions {}, (dir / "merges.txt").string() + ": merge");
    bool addPrefixSpace = false;
    if (const auto it = config.find("add_prefix_space"); it != config.end() && it->is_boolean())
        addPrefixSpace = it->get<bool>();
    c.preTokenizer = std::make_unique<ByteLevelPreTokenizer>(addPrefixSpace, true);
    c.byteLevel = true;
    c.decoder = std::make_unique<ByteLevelDecoder>();
    c.postProcessor = std::make_unique<PassThroughPostProcessor>();

    const auto addToken = [&](AddedToken t) {
        for (const AddedToken& existing : c.addedTokens)
            if (existing.content == t.content)
                return;
        c.addedTokens.push_back(std::move(t));
    };
    if (const auto it = config.find("added_tokens_decoder"); it != config.end() && it->is_object()) {
        for (const auto& [idText, entry] : it->items()) {
            const std::string path = configFile + ": added_tokens_decoder[\"" + idText + "\"]";
            AddedToken t = parseAddedToken(entry, path, false);
            try {
                std::size_t used = 0;
                const long long id = std::stoll(idText, &used);
                if (used != idText.size() || id < 0 || id > INT32_MAX)
                    throw std::invalid_argument(idText);
                t.id = static_cast<std::int32_t>(id);
            } catch (const std::exception&) {
                throw InputError(path + ": the key must be a token id (a whole number >= 0)");
            }
            addToken(std::move(t));
        }
    }
    const fs::path addedFile = dir / "added_tokens.json";
    if (fs::exists(addedFile)) {
        const nlohmann::json added = readJsonFile(addedFile);
        if (!added.is_object())
            throw InputError(addedFile.string() + ": expected an object of token: id");
        for (const auto& [content, id] : added.items()) {
            if (!id.is_number_integer() || id.get<std::int64_t>() < 0 || id.get<std::int64_t>() > INT32_MAX)
                throw InputError(addedFile.string() + ": token \"" + content + "\": expected an id, got " + id.dump());
            addToken({ content, static_cast<std::int32_t>(id.get<std::int64_t>()), false, false, false, false, true });
        }
    }
    // The roles' tokens are special added tokens, as transformers makes them.
    for (const char* key : { "bos_token", "eos_token", "unk_token", "pad_token" }) {
        if (auto t = configToken(config, key, configFile)) {
            if (const auto id = c.model->tokenToId(t->content)) {
                t->id = *id;
                t->special = true;
                addToken(std::move(*t));
            }
        }
    }
    return c;
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
    const fs::path jsonPath = dir / "tokenizer.json";
    if (fs::exists(jsonPath)) {
        impl->parts = parseTokenizerJson(readJsonFile(jsonPath), jsonPath.string());
    } else if (fs::exists(dir / "vocab.json") && fs::exists(dir / "merges.txt")) {
        impl->parts = loadVocabMerges(dir, config, configPath.string());
    } else {
        throw InputError(
            dir.string() + ": no tokenizer found (expected tokenizer.json, or vocab.json with merges.txt)");
    }
    impl->added = AddedVocabulary(impl->parts.addedTokens, impl->parts.normalizer.get());
    impl->vocabSize = impl->parts.model->vocabSize();
    for (const AddedToken& t : impl->added.tokens())
        impl->vocabSize = std::max(impl->vocabSize, static_cast<std::size_t>(t.id) + 1);

    const auto role = [&](const char* key) -> std::optional<std::int32_t> {
        const auto t = configToken(config, key, configPath.string());
        if (!t)
            return std::nullopt;
        const auto id = impl->tokenToId(t->content);
        if (!id)
            throw InputError(configPath.string() + ": " + key + ": token \"" + t->content
                + "\" is neither in the vocabulary nor an added token");
        return id;
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
                tokens.push_back(t->content);
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
        return t->content;
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
    return !p.normalizer && p.byteLevel && p.decoder && p.decoder->isByteLevel();
}

} // namespace tunebench
