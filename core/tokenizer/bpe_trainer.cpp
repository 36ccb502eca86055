#include "core/tokenizer/bpe_trainer.h"

#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/unicode.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <set>

namespace tunebench {

namespace {

using Pair = std::pair<std::int32_t, std::int32_t>;

struct Word {
    std::vector<std::int32_t> symbols;
    std::int64_t count = 0;
};

void writeFile(const std::filesystem::path& path, const std::string& text)
{
    const std::filesystem::path tmp = path.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out)
            throw Error("cannot write " + tmp.string());
        out << text;
        out.flush();
        if (!out)
            throw Error("cannot write " + tmp.string());
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec)
        throw Error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
}

} // namespace

BpeTrainer::BpeTrainer(BpeTrainerOptions options)
    : m_options(std::move(options))
    , m_split(std::make_shared<const Pattern>(
          Pattern::regex(ByteLevelPreTokenizer::gpt2Pattern(), "the BPE trainer's GPT-2 split expression")))
{
    std::set<std::string> seen;
    for (const std::string& s : m_options.specialTokens) {
        if (s.empty())
            throw InputError("BPE trainer: a special token is empty");
        if (!seen.insert(s).second)
            throw InputError("BPE trainer: special token \"" + s + "\" is given twice");
    }
    const std::size_t minimum = m_options.specialTokens.size() + 256;
    if (m_options.vocabSize < minimum)
        throw InputError("BPE trainer: vocab_size " + std::to_string(m_options.vocabSize)
            + " cannot hold the special tokens and the 256 byte symbols (at least " + std::to_string(minimum) + ")");
    if (m_options.minFrequency < 1)
        throw InputError("BPE trainer: min_frequency must be at least 1");
}

void BpeTrainer::addText(std::string_view text)
{
    if (const auto bad = unicode::firstInvalidUtf8(text))
        throw InputError("BPE trainer: text is not valid UTF-8 at byte " + std::to_string(*bad));
    for (const auto& [begin, end] : m_split->findAll(text))
        ++m_words[std::string(text.substr(begin, end - begin))];
}

// Long for a reason: the merge loop of BPE training with its pair counts and their incremental updates.
BpeModel BpeTrainer::train() const
{
    BpeModel model;
    model.specialTokens = m_options.specialTokens;
    model.vocab = m_options.specialTokens;
    const auto byteBase = static_cast<std::int32_t>(model.vocab.size());
    for (int b = 0; b < 256; ++b)
        model.vocab.emplace_back(byte_level::charFor(static_cast<std::uint8_t>(b)));

    std::vector<Word> words;
    words.reserve(m_words.size());
    for (const auto& [text, count] : m_words) {
        Word w;
        w.count = count;
        for (unsigned char c : text)
            w.symbols.push_back(byteBase + c);
        words.push_back(std::move(w));
    }

    std::map<Pair, std::int64_t> counts;
    auto addPairs = [&counts](const Word& w, std::int64_t sign) {
        for (std::size_t i = 0; i + 1 < w.symbols.size(); ++i) {
            auto& c = counts[{ w.symbols[i], w.symbols[i + 1] }];
            c += sign * w.count;
        }
    };
    for (const Word& w : words)
        addPairs(w, 1);

    const std::vector<std::string>& vocab = model.vocab;
    // Larger count first; on a tie the smaller (left, right) token strings.
    auto better = [&vocab](const Pair& a, std::int64_t ca, const Pair& b, std::int64_t cb) {
        if (ca != cb)
            return ca > cb;
        const int left = vocab[a.first].compare(vocab[b.first]);
        if (left != 0)
            return left < 0;
        return vocab[a.second] < vocab[b.second];
    };

    while (model.vocab.size() < m_options.vocabSize) {
        const Pair* best = nullptr;
        std::int64_t bestCount = 0;
        for (const auto& [pair, count] : counts) {
            if (count <= 0)
                continue;
            if (!best || better(pair, count, *best, bestCount)) {
                best = &pair;
                bestCount = count;
            }
        }
        if (!best || bestCount < m_options.minFrequency)
            break;
        const Pair chosen = *best;
        const auto merged = static_cast<std::int32_t>(model.vocab.size());
        model.merges.emplace_back(model.vocab[chosen.first], model.vocab[chosen.second]);
        model.vocab.push_back(model.vocab[chosen.first] + model.vocab[chosen.second]);

        for (Word& w : words) {
            bool has = false;
            for (std::size_t i = 0; i + 1 < w.symbols.size() && !has; ++i)
                has = w.symbols[i] == chosen.first && w.symbols[i + 1] == chosen.second;
            if (!has)
                continue;
            addPairs(w, -1);
            std::vector<std::int32_t> next;
            next.reserve(w.symbols.size());
            for (std::size_t i = 0; i < w.symbols.size(); ++i) {
                if (i + 1 < w.symbols.size() && w.symbols[i] == chosen.first && w.symbols[i + 1] == chosen.second) {
                    next.push_back(merged);
                    ++i;
                } else {
                    next.push_back(w.symbols[i]);
                }
            }
            w.symbols = std::move(next);
            addPairs(w, 1);
        }
        for (auto it = counts.begin(); it != counts.end();)
            it = it->second <= 0 ? counts.erase(it) : std::next(it);
    }
    return model;
}

void writeTokenizerFolder(
    const BpeModel& model, const std::filesystem::path& dir, const TokenizerFolderOptions& options)
{
    using nlohmann::json;
    auto idOf = [&model](const std::string& token, const char* role) -> std::int32_t {
        const auto it = std::find(model.specialTokens.begin(), model.specialTokens.end(), token);
        if (it == model.specialTokens.end())
            throw InputError(std::string("tokenizer folder: ") + role + " \"" + token + "\" is not a special token");
        return static_cast<std::int32_t>(it - model.specialTokens.begin());
    };

    json addedTokens = json::array();
    json addedDecoder = json::object();
    for (std::size_t i = 0; i < model.specialTokens.size(); ++i) {
        json entry = { { "id", i }, { "content", model.specialTokens[i] }, { "single_word", false },
            { "lstrip", false }, { "rstrip", false }, { "normalized", false }, { "special", true } };
        addedTokens.push_back(entry);
        entry.erase("id");
        addedDecoder[std::to_string(i)] = entry;
    }
    json vocab = json::object();
    for (std::size_t i = 0; i < model.vocab.size(); ++i)
        vocab[model.vocab[i]] = i;
    json merges = json::array();
    for (const auto& [left, right] : model.merges)
        merges.push_back(left + " " + right);

    json single = json::array();
    json pair = json::array();
    json specials = json::object();
    if (!options.bosToken.empty()) {
        const std::int32_t bos = idOf(options.bosToken, "bos_token");
        const json bosItem = { { "SpecialToken", { { "id", options.bosToken }, { "type_id", 0 } } } };
        single.push_back(bosItem);
        pair.push_back(bosItem);
        specials[options.bosToken] = { { "id", options.bosToken }, { "ids", json::array({ bos }) },
            { "tokens", json::array({ options.bosToken }) } };
    }
    single.push_back({ { "Sequence", { { "id", "A" }, { "type_id", 0 } } } });
    pair.push_back({ { "Sequence", { { "id", "A" }, { "type_id", 0 } } } });
    if (!options.bosToken.empty())
        pair.push_back({ { "SpecialToken", { { "id", options.bosToken }, { "type_id", 1 } } } });
    pair.push_back({ { "Sequence", { { "id", "B" }, { "type_id", 1 } } } });

    const json byteLevel
        = { { "type", "ByteLevel" }, { "add_prefix_space", false }, { "trim_offsets", true }, { "use_regex", true } };
    json tokenizer = { { "version", "1.0" }, { "truncation", nullptr }, { "padding", nullptr },
        { "added_tokens", addedTokens }, { "normalizer", nullptr }, { "pre_tokenizer", byteLevel },
        { "post_processor",
            { { "type", "TemplateProcessing" }, { "single", single }, { "pair", pair },
                { "special_tokens", specials } } },
        { "decoder", byteLevel },
        { "model",
            { { "type", "BPE" }, { "dropout", nullptr }, { "unk_token", nullptr },
                { "continuing_subword_prefix", nullptr }, { "end_of_word_suffix", nullptr }, { "fuse_unk", false },
                { "byte_fallback", false }, { "ignore_merges", false }, { "vocab", vocab }, { "merges", merges } } } };

    json config = { { "added_tokens_decoder", addedDecoder }, { "clean_up_tokenization_spaces", false },
        { "model_max_length", options.modelMaxLength }, { "tokenizer_class", "PreTrainedTokenizerFast" } };
    for (const auto& [key, token] : { std::pair<const char*, const std::string&> { "bos_token", options.bosToken },
             { "eos_token", options.eosToken }, { "pad_token", options.padToken } }) {
        if (token.empty())
            continue;
        idOf(token, key);
        config[key] = token;
    }

    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec)
        throw Error("cannot create " + dir.string() + ": " + ec.message());
    writeFile(dir / "tokenizer.json", tokenizer.dump(2) + "\n");
    writeFile(dir / "tokenizer_config.json", config.dump(2) + "\n");
}

} // namespace tunebench
