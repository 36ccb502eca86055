#include "tokenizer_json.h"

#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

namespace tunebench {

namespace {

using nlohmann::json;

[[noreturn]] void fail(const std::string& path, const std::string& what)
{
    throw InputError(path + ": " + what);
}

std::string shortDump(const json& value)
{
    std::string s = value.dump();
    if (s.size() > 80)
        s = s.substr(0, 77) + "...";
    return s;
}

const json& requireField(const json& node, const char* key, const std::string& path)
{
    if (!node.is_object())
        fail(path, "expected an object, got " + shortDump(node));
    const auto it = node.find(key);
    if (it == node.end())
        fail(path, std::string("missing field \"") + key + "\"");
    return *it;
}

std::string field(const std::string& path, const std::string& key)
{
    return path + "." + key;
}

std::string index(const std::string& path, std::size_t i)
{
    return path + "[" + std::to_string(i) + "]";
}

std::string requireString(const json& node, const char* key, const std::string& path)
{
    const json& v = requireField(node, key, path);
    if (!v.is_string())
        fail(field(path, key), "expected a string, got " + shortDump(v));
    return v.get<std::string>();
}

// A string field that may be absent or null.
std::optional<std::string> optionalString(const json& node, const char* key, const std::string& path)
{
    const auto it = node.find(key);
    if (it == node.end() || it->is_null())
        return std::nullopt;
    if (!it->is_string())
        fail(field(path, key), "expected a string or null, got " + shortDump(*it));
    return it->get<std::string>();
}

bool optionalBool(const json& node, const char* key, const std::string& path, bool fallback)
{
    const auto it = node.find(key);
    if (it == node.end() || it->is_null())
        return fallback;
    if (!it->is_boolean())
        fail(field(path, key), "expected true or false, got " + shortDump(*it));
    return it->get<bool>();
}

std::size_t optionalCount(const json& node, const char* key, const std::string& path, std::size_t fallback)
{
    const auto it = node.find(key);
    if (it == node.end() || it->is_null())
        return fallback;
    if (!it->is_number_unsigned() && !(it->is_number_integer() && it->get<std::int64_t>() >= 0))
        fail(field(path, key), "expected a whole number >= 0, got " + shortDump(*it));
    return it->get<std::size_t>();
}

std::int32_t requireId(const json& v, const std::string& path)
{
    if (!v.is_number_integer() || v.get<std::int64_t>() < 0 || v.get<std::int64_t>() > INT32_MAX)
        fail(path, "expected a token id (a whole number from 0 to 2^31-1), got " + shortDump(v));
    return static_cast<std::int32_t>(v.get<std::int64_t>());
}

const json& requireArray(const json& node, const char* key, const std::string& path)
{
    const json& v = requireField(node, key, path);
    if (!v.is_array())
        fail(field(path, key), "expected an array, got " + shortDump(v));
    return v;
}

std::string typeOf(const json& node, const std::string& path)
{
    return requireString(node, "type", path);
}

[[noreturn]] void unknownType(
    const std::string& path, const std::string& kind, const std::string& type, const char* supported)
{
    fail(field(path, "type"), "unknown " + kind + " type \"" + type + "\" (supported: " + supported + ")");
}

// {"String": "..."} or {"Regex": "..."}.
Pattern parsePattern(const json& node, const std::string& path)
{
    if (!node.is_object() || node.size() != 1)
        fail(path, "expected {\"String\": ...} or {\"Regex\": ...}, got " + shortDump(node));
    if (const auto it = node.find("String"); it != node.end()) {
        if (!it->is_string())
            fail(field(path, "String"), "expected a string, got " + shortDump(*it));
        return Pattern::literal(it->get<std::string>());
    }
    if (const auto it = node.find("Regex"); it != node.end()) {
        if (!it->is_string())
            fail(field(path, "Regex"), "expected a string, got " + shortDump(*it));
        return Pattern::regex(it->get<std::string>(), field(path, "Regex"));
    }
    fail(path, "expected {\"String\": ...} or {\"Regex\": ...}, got " + shortDump(node));
}

SplitBehavior parseBehavior(const json& node, const char* key, const std::string& path, SplitBehavior fallback)
{
    const auto it = node.find(key);
    if (it == node.end())
        return fallback;
    const std::string name = it->is_string() ? it->get<std::string>() : std::string();
    if (name == "Removed")
        return SplitBehavior::Removed;
    if (name == "Isolated")
        return SplitBehavior::Isolated;
    if (name == "MergedWithPrevious")
        return SplitBehavior::MergedWithPrevious;
    if (name == "MergedWithNext")
        return SplitBehavior::MergedWithNext;
    if (name == "Contiguous")
        return SplitBehavior::Contiguous;
    fail(field(path, key),
        "expected one of Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous; got " + shortDump(*it));
}

// Metaspace's "prepend_scheme", or the older "add_prefix_space" it replaced.
PrependScheme parsePrependScheme(const json& node, const std::string& path)
{
    if (const auto it = node.find("prepend_scheme"); it != node.end() && !it->is_null()) {
        const std::string s = it->is_string() ? it->get<std::string>() : std::string();
        if (s == "always")
            return PrependScheme::Always;
        if (s == "first")
            return PrependScheme::First;
        if (s == "never")
            return PrependScheme::Never;
        fail(field(path, "prepend_scheme"), "expected \"always\", \"first\" or \"never\", got " + shortDump(*it));
    }
    return optionalBool(node, "add_prefix_space", path, true) ? PrependScheme::Always : PrependScheme::Never;
}

std::string requireChar(const json& node, const char* key, const std::string& path)
{
    const std::string s = requireString(node, key, path);
    std::size_t pos = 0;
    if (s.empty() || (unicode::nextCodePoint(s, pos), pos != s.size()))
        fail(field(path, key), "expected a single character, got " + shortDump(node[key]));
    return s;
}

std::vector<std::pair<std::string, std::string>> parseMerges(const json& merges, const std::string& path)
{
    std::vector<std::pair<std::string, std::string>> out;
    out.reserve(merges.size());
    for (std::size_t i = 0; i < merges.size(); ++i) {
        const json& m = merges[i];
        if (m.is_string()) {
            // The older form: "left right", split at the first space.
            const std::string& s = m.get_ref<const std::string&>();
            const std::size_t space = s.find(' ');
            if (space == std::string::npos)
                fail(index(path, i), "expected \"left right\" (two tokens separated by a space), got " + shortDump(m));
            out.emplace_back(s.substr(0, space), s.substr(space + 1));
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
            out.emplace_back(m[0].get<std::string>(), m[1].get<std::string>());
        } else {
            fail(index(path, i), "expected \"left right\" or [\"left\", \"right\"], got " + shortDump(m));
        }
    }
    return out;
}

// A special token named in a Bert/Roberta processor: ["[SEP]", 102].
std::int32_t parseNamedId(const json& node, const char* key, const std::string& path)
{
    const json& v = requireField(node, key, path);
    if (!v.is_array() || v.size() != 2 || !v[0].is_string())
        fail(field(path, key), "expected [\"token\", id], got " + shortDump(v));
    return requireId(v[1], index(field(path, key), 1));
}

} // namespace

AddedToken parseAddedToken(const json& node, const std::string& path, bool needId)
{
    AddedToken t;
    if (node.is_string()) {
        t.content = node.get<std::string>();
        t.special = true;
        t.normalized = false;
        return t;
    }
    t.content = requireString(node, "content", path);
    if (needId)
        t.id = requireId(requireField(node, "id", path), field(path, "id"));
    t.special = optionalBool(node, "special", path, false);
    t.singleWord = optionalBool(node, "single_word", path, false);
    t.lstrip = optionalBool(node, "lstrip", path, false);
    t.rstrip = optionalBool(node, "rstrip", path, false);
    t.normalized = optionalBool(node, "normalized", path, !t.special);
    return t;
}

std::unique_ptr<Normalizer> parseNormalizer(const json& node, const std::string& path)
{
    const std::string type = typeOf(node, path);
    if (type == "NFC")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::Nfc);
    if (type == "NFD")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::Nfd);
    if (type == "NFKC")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::Nfkc);
    if (type == "NFKD")
        return std::make_unique<UnicodeNormalizer>(UnicodeForm::Nfkd);
    if (type == "Lowercase")
        return std::make_unique<LowercaseNormalizer>();
    if (type == "StripAccents")
        return std::make_unique<StripAccentsNormalizer>();
    if (type == "Prepend")
        return std::make_unique<PrependNormalizer>(requireString(node, "prepend", path));
    if (type == "Append")
        return std::make_unique<AppendNormalizer>(requireString(node, "append", path));
    if (type == "Strip")
        return std::make_unique<StripNormalizer>(
            optionalBool(node, "strip_left", path, true), optionalBool(node, "strip_right", path, true));
    if (type == "Replace")
        return std::make_unique<ReplaceNormalizer>(
            parsePattern(requireField(node, "pattern", path), field(path, "pattern")),
            requireString(node, "content", path));
    if (type == "Sequence") {
        const json& steps = requireArray(node, "normalizers", path);
        std::vector<std::unique_ptr<Normalizer>> parsed;
        for (std::size_t i = 0; i < steps.size(); ++i)
            parsed.push_back(parseNormalizer(steps[i], index(field(path, "normalizers"), i)));
        return std::make_unique<SequenceNormalizer>(std::move(parsed));
    }
    unknownType(path, "normalizer", type,
        "NFC, NFD, NFKC, NFKD, Lowercase, StripAccents, Prepend, Append, Strip, Replace, Sequence");
}

std::unique_ptr<PreTokenizer> parsePreTokenizer(const json& node, const std::string& path, bool& byteLevel)
{
    const std::string type = typeOf(node, path);
    if (type == "ByteLevel") {
        byteLevel = true;
        return std::make_unique<ByteLevelPreTokenizer>(
            optionalBool(node, "add_prefix_space", path, true), optionalBool(node, "use_regex", path, true));
    }
    if (type == "Split") {
        return std::make_unique<SplitPreTokenizer>(
            parsePattern(requireField(node, "pattern", path), field(path, "pattern")),
            parseBehavior(node, "behavior", path, SplitBehavior::Isolated), optionalBool(node, "invert", path, false));
    }
    if (type == "Metaspace")
        return std::make_unique<MetaspacePreTokenizer>(requireChar(node, "replacement", path),
            parsePrependScheme(node, path), optionalBool(node, "split", path, true));
    if (type == "Digits")
        return std::make_unique<DigitsPreTokenizer>(optionalBool(node, "individual_digits", path, false));
    if (type == "Whitespace")
        return std::make_unique<WhitespacePreTokenizer>();
    if (type == "WhitespaceSplit")
        return std::make_unique<WhitespaceSplitPreTokenizer>();
    if (type == "Punctuation")
        return std::make_unique<PunctuationPreTokenizer>(
            parseBehavior(node, "behavior", path, SplitBehavior::Isolated));
    if (type == "Sequence") {
        const json& steps = requireArray(node, "pretokenizers", path);
        std::vector<std::unique_ptr<PreTokenizer>> parsed;
        for (std::size_t i = 0; i < steps.size(); ++i)
            parsed.push_back(parsePreTokenizer(steps[i], index(field(path, "pretokenizers"), i), byteLevel));
        return std::make_unique<SequencePreTokenizer>(std::move(parsed));
    }
    unknownType(path, "pre-tokenizer", type,
        "ByteLevel, Split, Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, Sequence");
}

std::unique_ptr<Decoder> parseDecoder(const json& node, const std::string& path)
{
    const std::string type = typeOf(node, path);
    if (type == "ByteLevel")
        return std::make_unique<ByteLevelDecoder>();
    if (type == "Metaspace")
        return std::make_unique<MetaspaceDecoder>(
            requireChar(node, "replacement", path), parsePrependScheme(node, path));
    if (type == "Replace")
        return std::make_unique<ReplaceDecoder>(
            parsePattern(requireField(node, "pattern", path), field(path, "pattern")),
            requireString(node, "content", path));
    if (type == "ByteFallback")
        return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse")
        return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        const std::string content = requireChar(node, "content", path);
        std::size_t pos = 0;
        return std::make_unique<StripDecoder>(unicode::nextCodePoint(content, pos),
            optionalCount(node, "start", path, 0), optionalCount(node, "stop", path, 0));
    }
    if (type == "BPEDecoder")
        return std::make_unique<BpeSuffixDecoder>(optionalString(node, "suffix", path).value_or("</w>"));
    if (type == "Sequence") {
        const json& steps = requireArray(node, "decoders", path);
        std::vector<std::unique_ptr<Decoder>> parsed;
        for (std::size_t i = 0; i < steps.size(); ++i)
            parsed.push_back(parseDecoder(steps[i], index(field(path, "decoders"), i)));
        return std::make_unique<SequenceDecoder>(std::move(parsed));
    }
    unknownType(
        path, "decoder", type, "ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip, BPEDecoder, Sequence");
}

std::unique_ptr<Bpe> parseModel(const json& node, const std::string& path)
{
    const std::string type = typeOf(node, path);
    if (type != "BPE")
        fail(field(path, "type"), "model type \"" + type + "\" is not supported (supported: BPE)");
    if (const auto it = node.find("dropout"); it != node.end() && !it->is_null()) {
        if (!it->is_number())
            fail(field(path, "dropout"), "expected a number or null, got " + shortDump(*it));
        if (it->get<double>() > 0.0)
            fail(field(path, "dropout"), "BPE dropout makes encoding random; only null or 0 is supported");
    }
    const json& vocabNode = requireField(node, "vocab", path);
    if (!vocabNode.is_object())
        fail(field(path, "vocab"), "expected an object of token: id, got " + shortDump(vocabNode));
    Vocabulary vocab;
    vocab.reserve(vocabNode.size());
    for (const auto& [token, id] : vocabNode.items())
        vocab.emplace(token, requireId(id, field(path, "vocab") + "[\"" + token + "\"]"));
    const auto merges = parseMerges(requireArray(node, "merges", path), field(path, "merges"));
    return std::make_unique<Bpe>(std::move(vocab), merges, parseBpeOptions(node, path), field(path, "merges"));
}

BpeOptions parseBpeOptions(const json& node, const std::string& path)
{
    BpeOptions options;
    options.unkToken = optionalString(node, "unk_token", path);
    options.continuingSubwordPrefix = optionalString(node, "continuing_subword_prefix", path).value_or("");
    options.endOfWordSuffix = optionalString(node, "end_of_word_suffix", path).value_or("");
    options.fuseUnk = optionalBool(node, "fuse_unk", path, false);
    options.byteFallback = optionalBool(node, "byte_fallback", path, false);
    options.ignoreMerges = optionalBool(node, "ignore_merges", path, false);
    return options;
}

std::unique_ptr<PostProcessor> parsePostProcessor(const json& node, const std::string& path)
{
    const std::string type = typeOf(node, path);
    if (type == "ByteLevel")
        return std::make_unique<PassThroughPostProcessor>();
    if (type == "BertProcessing" || type == "RobertaProcessing")
        return std::make_unique<ClsSepPostProcessor>(
            parseNamedId(node, "cls", path), parseNamedId(node, "sep", path), type == "RobertaProcessing");
    if (type == "TemplateProcessing") {
        // special_tokens: name -> {"id": name, "ids": [...], "tokens": [...]}
        const json& specials = requireField(node, "special_tokens", path);
        if (!specials.is_object())
            fail(field(path, "special_tokens"), "expected an object, got " + shortDump(specials));
        std::unordered_map<std::string, std::vector<std::int32_t>> specialIds;
        for (const auto& [name, entry] : specials.items()) {
            const std::string entryPath = field(path, "special_tokens") + "[\"" + name + "\"]";
            const json& ids = requireArray(entry, "ids", entryPath);
            std::vector<std::int32_t> parsed;
            for (std::size_t i = 0; i < ids.size(); ++i)
                parsed.push_back(requireId(ids[i], index(field(entryPath, "ids"), i)));
            specialIds.emplace(name, std::move(parsed));
        }
        const auto parseTemplate = [&](const char* key) {
            const json& items = requireArray(node, key, path);
            std::vector<TemplatePostProcessor::Piece> pieces;
            for (std::size_t i = 0; i < items.size(); ++i) {
                const std::string itemPath = index(field(path, key), i);
                const json& item = items[i];
                TemplatePostProcessor::Piece piece;
                if (item.is_object() && item.contains("SpecialToken")) {
                    const std::string name = requireString(item["SpecialToken"], "id", field(itemPath, "SpecialToken"));
                    const auto it = specialIds.find(name);
                    if (it == specialIds.end())
                        fail(itemPath, "special token \"" + name + "\" is not listed in special_tokens");
                    piece.ids = it->second;
                } else if (item.is_object() && item.contains("Sequence")) {
                    const std::string id = requireString(item["Sequence"], "id", field(itemPath, "Sequence"));
                    if (id != "A" && id != "B")
                        fail(field(field(itemPath, "Sequence"), "id"), "expected \"A\" or \"B\", got \"" + id + "\"");
                    piece.isSequence = true;
                    piece.sequenceB = id == "B";
                } else {
                    fail(itemPath, "expected {\"SpecialToken\": ...} or {\"Sequence\": ...}, got " + shortDump(item));
                }
                pieces.push_back(std::move(piece));
            }
            return pieces;
        };
        return std::make_unique<TemplatePostProcessor>(parseTemplate("single"), parseTemplate("pair"));
    }
    if (type == "Sequence") {
        const json& steps = requireArray(node, "processors", path);
        std::vector<std::unique_ptr<PostProcessor>> parsed;
        for (std::size_t i = 0; i < steps.size(); ++i)
            parsed.push_back(parsePostProcessor(steps[i], index(field(path, "processors"), i)));
        return std::make_unique<SequencePostProcessor>(std::move(parsed));
    }
    unknownType(
        path, "post-processor", type, "TemplateProcessing, ByteLevel, BertProcessing, RobertaProcessing, Sequence");
}

TokenizerComponents parseTokenizerJson(const json& root, const std::string& file)
{
    if (!root.is_object())
        fail(file, "expected a JSON object at the top level, got " + shortDump(root));
    TokenizerComponents c;
    const auto present = [&](const char* key) {
        const auto it = root.find(key);
        return it != root.end() && !it->is_null();
    };
    const std::string p = file + ": ";
    c.model = parseModel(requireField(root, "model", file), p + "model");
    if (present("normalizer"))
        c.normalizer = parseNormalizer(root["normalizer"], p + "normalizer");
    if (present("pre_tokenizer"))
        c.preTokenizer = parsePreTokenizer(root["pre_tokenizer"], p + "pre_tokenizer", c.byteLevel);
    if (present("decoder"))
        c.decoder = parseDecoder(root["decoder"], p + "decoder");
    if (present("added_tokens")) {
        const json& added = root["added_tokens"];
        if (!added.is_array())
            fail(p + "added_tokens", "expected an array, got " + shortDump(added));
        for (std::size_t i = 0; i < added.size(); ++i)
            c.addedTokens.push_back(parseAddedToken(added[i], index(p + "added_tokens", i), true));
    }
    if (present("post_processor"))
        c.postProcessor = parsePostProcessor(root["post_processor"], p + "post_processor");
    return c;
}

} // namespace tunebench
