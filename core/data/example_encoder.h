#pragma once

#include "core/data/dataset_format.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace tunebench {

class Tokenizer;
class ChatTemplate;

// Label of a token that is not trained on (the prompt, padding), as in transformers.
inline constexpr std::int32_t kIgnoreLabel = -100;

// One training sequence: ids and, per position, the id to learn there or kIgnoreLabel.
// labels[i] is the target for ids[i] itself (the shift happens in the loss).
struct EncodedExample {
    std::vector<std::int32_t> ids;
    std::vector<std::int32_t> labels;
    // Packed rows only (several examples in one row): each token's example
    // (from 1) and its position within it (from 0). Empty for one example.
    std::vector<std::int32_t> segments;
    std::vector<std::int32_t> positions;
    bool truncated = false;
    std::int64_t trainedTokens() const;
};

// A prompt with two responses (DPO-style objectives) or one (KTO).
struct EncodedPreference {
    std::vector<std::int32_t> prompt;
    std::vector<std::int32_t> chosen; // or the completion of unpaired data
    std::vector<std::int32_t> rejected; // empty for unpaired data
    bool desirable = true; // unpaired data's label
    bool truncated = false;
};

// A prompt of prompt data (online objectives): its tokens, rendered with the chat template and its generation
// prompt where the model has one, and that rendered text.
struct EncodedPrompt {
    std::vector<std::int32_t> ids;
    std::string text;
    bool truncated = false; // its start was cut at cutoff_len
};

struct EncoderOptions {
    std::int64_t cutoffLen = 1024; // longest sequence; longer ones are cut at the end
    bool trainOnPrompt = false; // train on every token, not only the responses
    // Without a chat template, instruction data is laid out in the Alpaca style
    // ("### Instruction: ... ### Response: ...").
};

// Turns canonical dataset records into token sequences for training.
// With a chat template (the model's), instruction, chat and preference data are
// rendered as conversations, the way transformers' apply_chat_template renders
// them, and only the assistant turns are trained on; each rendered piece is
// encoded without special tokens (the template writes them). Without a template,
// text is encoded with the tokenizer's special tokens and the EOS token is
// appended to every response so the model learns to stop.
// Thread-safe (const) once built; the tokenizer and template must outlive it.
class ExampleEncoder {
public:
    ExampleEncoder(const Tokenizer& tokenizer, const ChatTemplate* chatTemplate, EncoderOptions options);

    // Throws InputError naming `where` (e.g. "dataset 3, record 17") when the
    // record does not fit the format or the template misbehaves.
    EncodedExample encode(const nlohmann::json& record, DatasetFormat format, const std::string& where) const;
    EncodedPreference encodePreference(
        const nlohmann::json& record, DatasetFormat format, const std::string& where) const;

    // A prompt record (DatasetFormat::Prompt) as the model is prompted with it.
    EncodedPrompt encodePrompt(const nlohmann::json& record, const std::string& where) const;

    const EncoderOptions& options() const { return m_options; }

private:
    struct Piece {
        std::string text;
        bool trained;
    };
    EncodedExample encodePieces(const std::vector<Piece>& pieces, bool specialTokens, bool appendEos) const;
    std::vector<Piece> chatPieces(const nlohmann::json& messages, const std::string& where) const;
    std::string renderPrompt(const nlohmann::json& prompt, const std::string& where) const;
    std::string renderResponse(const std::string& promptText, const nlohmann::json& prompt,
        const nlohmann::json& response, const std::string& where) const;

    const Tokenizer& m_tokenizer;
    const ChatTemplate* m_template;
    EncoderOptions m_options;
};

} // namespace tunebench
