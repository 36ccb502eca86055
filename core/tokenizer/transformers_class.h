#pragma once

// What transformers (5.x) does to a tokenizer folder beyond what tokenizer.json says,
// so that Tunebench encodes as AutoTokenizer.from_pretrained(folder) does, which is
// what users run:
//  - it loads the folder through a class (tokenizer_config.json's tokenizer_class, or
//    the one config.json's model_type maps to), and the classes of the architectures
//    Tunebench trains (Llama, Qwen2/3, GPT-2) build their own normalizer, pre-tokenizer,
//    decoder and model options, keeping only tokenizer.json's vocabulary, merges, added
//    tokens and post-processor (e.g. Llama 2's Prepend/Replace normalizers become a
//    Metaspace pre-tokenizer);
//  - the special tokens tokenizer_config.json names (or the class's defaults, such as
//    GPT-2's <|endoftext|>) become special added tokens;
//  - added tokens get their ids as the `tokenizers` library assigns them on loading
//    (the ids written in the file are only checked there).

#include "core/tokenizer/added_tokens.h"

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace tunebench {

class Bpe;

namespace transformers_class {

// The class AutoTokenizer picks, without a trailing "Fast"; empty for its generic
// backend (TokenizersBackend, PreTrainedTokenizerFast), which takes tokenizer.json as
// it is. modelConfig is config.json's object (or null where the folder has none).
std::string resolve(const nlohmann::json& tokenizerConfig, const nlohmann::json& modelConfig);

// The pipeline a class builds, as tokenizer.json parts: {"normalizer", "pre_tokenizer",
// "decoder", "model": {BPE options}}; null for a class that keeps the file's pipeline.
nlohmann::json pipeline(const std::string& cls, const nlohmann::json& tokenizerConfig);

// The class's default for a special token role ("bos_token", ...) that
// tokenizer_config.json leaves out; nullopt for none.
std::optional<std::string> defaultToken(const std::string& cls, std::string_view role);

// Added tokens as the `tokenizers` library registers them: a content the model or an
// earlier added token knows keeps that id, a new one takes the next id after the
// model's vocabulary and the added tokens; adding a content again with other flags
// replaces its flags; a token once special stays special.
class AddedTokenRegistry {
public:
    explicit AddedTokenRegistry(const Bpe& model)
        : m_model(model)
    { }

    void add(AddedToken token);
    // Makes the token special, adding it where it is not an added token yet.
    void addSpecial(const std::string& content);
    bool contains(const std::string& content) const { return m_index.count(content) > 0; }
    const AddedToken* find(const std::string& content) const;
    // In order of first addition.
    std::vector<AddedToken> tokens() const { return m_tokens; }

private:
    const Bpe& m_model;
    std::vector<AddedToken> m_tokens;
    std::unordered_map<std::string, std::size_t> m_index;
    std::unordered_set<std::string> m_special;
    std::optional<std::int32_t> m_maxId;
};

} // namespace transformers_class

} // namespace tunebench
