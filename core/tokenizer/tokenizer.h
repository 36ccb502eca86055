#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tunebench {

// A Hugging Face tokenizer, encoding and decoding exactly as transformers'
// AutoTokenizer.from_pretrained(folder) does, which is what users run: tokenizer.json
// as the `tokenizers` library reads it (BPE: byte-level as in GPT-2, Llama-3 and
// Qwen2/3, or SentencePiece-style with byte fallback as in Llama-2 and Mistral), or
// the older vocab.json + merges.txt pair of GPT-2 folders; tokenizer_config.json
// supplies the special tokens (bos/eos/pad/unk and others become special added
// tokens) and the class, whose own pipeline replaces the file's where transformers
// does so (LlamaTokenizer, Qwen2Tokenizer, GPT2Tokenizer; a model folder's
// config.json model_type can pick the class). See transformers_class.h.
//
// Immutable after loading; encode/decode are const and safe to call from
// several threads at once.
class Tokenizer {
public:
    // Loads from a model or tokenizer folder. Throws InputError naming the file
    // and the field (or JSON position) that is missing or not understood.
    static Tokenizer fromFolder(const std::filesystem::path& dir);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    // Token ids for text. addSpecialTokens applies the post-processor
    // (e.g. BOS for Llama), as `add_special_tokens=True` does in transformers.
    std::vector<std::int32_t> encode(std::string_view text, bool addSpecialTokens = false) const;
    // Ids for a pair of texts (e.g. a preference prompt and answer): each text is
    // encoded on its own; addSpecialTokens applies the post-processor's pair
    // template, otherwise the two id lists are concatenated.
    // encode and encodePair throw InputError for text that is not valid UTF-8.
    std::vector<std::int32_t> encodePair(
        std::string_view first, std::string_view second, bool addSpecialTokens = false) const;
    // Text for ids; skipSpecialTokens drops special added tokens.
    std::string decode(std::span<const std::int32_t> ids, bool skipSpecialTokens = false) const;

    // Highest token id + 1 (the model's embedding rows must cover it).
    std::size_t vocabSize() const;
    std::optional<std::int32_t> tokenToId(std::string_view token) const;
    // The token's string as stored in the vocabulary (a normalized added token's
    // normalized form, as the library gives it); empty for an unknown id.
    std::string idToToken(std::int32_t id) const;

    std::optional<std::int32_t> bosId() const;
    std::optional<std::int32_t> eosId() const;
    std::optional<std::int32_t> padId() const;
    // Whether ids decode back to the exact input for any text (byte-level BPE,
    // byte fallback without a lossy normaliser).
    bool isLossless() const;

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

} // namespace tunebench
