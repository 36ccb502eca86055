#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tunebench {

// Hash for unordered maps keyed by std::string that are looked up with string_view.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view> {}(s); }
};
using Vocabulary = std::unordered_map<std::string, std::int32_t, StringHash, std::equal_to<>>;

struct BpeOptions {
    std::optional<std::string> unkToken;
    std::string continuingSubwordPrefix; // before every symbol but the first of a word
    std::string endOfWordSuffix; // after the last symbol of a word
    bool fuseUnk = false; // consecutive unknown characters become one unk
    bool byteFallback = false; // unknown characters become <0xNN> byte tokens
    bool ignoreMerges = false; // a word found whole in the vocabulary is one token
};

// The byte-pair-encoding model: a word's characters are merged pairwise, the
// pair with the lowest merge rank first (leftmost first among equal ranks),
// until no listed pair remains, exactly as the `tokenizers` library does.
//
// Thread-safe: tokenize() is const; its word cache is guarded by a shared mutex.
class Bpe {
public:
    // Throws InputError naming `where` + "[i]" for a merge whose parts or result
    // are not in the vocabulary, and `where` for an unk token missing from it.
    Bpe(Vocabulary vocab, const std::vector<std::pair<std::string, std::string>>& merges, BpeOptions options,
        const std::string& where);

    // Appends the ids of one pre-tokenized word.
    void tokenize(std::string_view word, std::vector<std::int32_t>& out) const;

    std::optional<std::int32_t> tokenToId(std::string_view token) const;
    // nullptr for an id the vocabulary does not have.
    const std::string* idToToken(std::int32_t id) const;
    // Highest id + 1.
    std::size_t vocabSize() const { return m_idToToken.size(); }
    // Entries in the vocabulary (the library's vocabulary size, which numbers added tokens).
    std::size_t tokenCount() const { return m_vocab.size(); }
    const BpeOptions& options() const { return m_options; }

private:
    struct MergeTarget {
        std::uint32_t rank;
        std::int32_t id;
    };
    static std::uint64_t pairKey(std::int32_t a, std::int32_t b)
    {
        return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(a)) << 32) | static_cast<std::uint32_t>(b);
    }
    void mergeWord(std::string_view word, std::vector<std::int32_t>& out) const;

    Vocabulary m_vocab;
    std::vector<std::string> m_idToToken;
    std::vector<bool> m_hasId;
    std::unordered_map<std::uint64_t, MergeTarget> m_merges;
    BpeOptions m_options;
    std::optional<std::int32_t> m_unkId;
    std::vector<std::optional<std::int32_t>> m_byteIds; // <0xNN> tokens, for byte fallback

    static constexpr std::size_t kCacheCapacity = 10000;
    static constexpr std::size_t kMaxCachedWordLength = 256;
    mutable std::shared_mutex m_cacheMutex;
    mutable std::unordered_map<std::string, std::vector<std::int32_t>, StringHash, std::equal_to<>> m_cache;
};

} // namespace tunebench
