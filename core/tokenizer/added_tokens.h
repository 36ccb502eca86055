#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tunebench {

class Normalizer;

// A token matched in the raw text before the model sees it (tokenizer.json's
// "added_tokens"; special ones are also dropped by decode(skipSpecialTokens)).
struct AddedToken {
    std::string content;
    std::int32_t id = 0;
    bool special = false;
    bool singleWord = false; // only where no word character touches it
    bool lstrip = false; // swallows the whitespace on its left
    bool rstrip = false; // swallows the whitespace on its right
    bool normalized = true; // matched in the normalized text rather than the raw text
};

// Finds added tokens in text the way the `tokenizers` library does: leftmost-
// longest, non-overlapping matches; tokens with `normalized` are matched in the
// normalized text, the others in the raw text. Immutable and thread-safe.
class AddedVocabulary {
public:
    struct Segment {
        std::size_t begin;
        std::size_t end;
        std::optional<std::int32_t> id; // set where the segment is an added token
    };

    AddedVocabulary() = default;
    // `normalizer` (may be null) turns normalized tokens into the form they are matched in.
    AddedVocabulary(std::vector<AddedToken> tokens, const Normalizer* normalizer);

    // Cuts text into added-token segments and the text between them (which may
    // be empty where tokens touch). `normalizedSet` picks the normalized tokens.
    std::vector<Segment> split(std::string_view text, bool normalizedSet) const;

    bool empty() const { return m_tokens.empty(); }
    const std::vector<AddedToken>& tokens() const { return m_tokens; }
    const AddedToken* byId(std::int32_t id) const;
    // The text an added token decodes to: a normalized token's normalized form (the
    // library stores it so), otherwise its content.
    const std::string& decodedText(const AddedToken& token) const;
    const AddedToken* byContent(std::string_view content) const;

private:
    // A byte trie with a filter on first bytes, for leftmost-longest search.
    struct Matcher {
        struct Node {
            std::vector<std::pair<unsigned char, std::int32_t>> children;
            std::int32_t token = -1; // index into m_tokens where a pattern ends here
        };
        std::vector<Node> nodes { Node {} };
        bool firstByte[256] = {};
        void add(std::string_view pattern, std::int32_t token);
        // Longest match starting at pos: (length, token index), or length 0.
        std::pair<std::size_t, std::int32_t> longestAt(std::string_view text, std::size_t pos) const;
    };

    std::vector<AddedToken> m_tokens;
    std::vector<std::string> m_decoded; // per token, see decodedText
    std::unordered_map<std::int32_t, std::size_t> m_byId;
    std::unordered_map<std::string, std::size_t> m_byContent;
    Matcher m_raw;
    Matcher m_normalized;
};

} // namespace tunebench
