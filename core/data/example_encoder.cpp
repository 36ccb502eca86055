#include "core/data/example_encoder.h"

#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

namespace tunebench {

namespace {

nlohmann::ordered_json ordered(const nlohmann::json& j)
{
    return nlohmann::ordered_json::parse(j.dump());
}

nlohmann::json asMessages(const nlohmann::json& promptOrMessages, const char* role)
{
    if (promptOrMessages.is_array())
        return promptOrMessages;
    return nlohmann::json::array({ { { "role", role }, { "content", promptOrMessages } } });
}

std::string alpacaPrompt(const nlohmann::json& record)
{
    const std::string input = record.value("input", "");
    std::string text = "### Instruction:\n" + record.value("instruction", "") + "\n\n";
    if (!input.empty())
        text += "### Input:\n" + input + "\n\n";
    return text + "### Response:\n";
}

} // namespace

std::int64_t EncodedExample::trainedTokens() const
{
    std::int64_t n = 0;
    for (auto l : labels)
        n += l != kIgnoreLabel ? 1 : 0;
    return n;
}

ExampleEncoder::ExampleEncoder(const Tokenizer& tokenizer, const ChatTemplate* chatTemplate, EncoderOptions options)
    : m_tokenizer(tokenizer)
    , m_template(chatTemplate)
    , m_options(options)
{
    if (m_options.cutoffLen < 2)
        throw InputError("cutoff_len must be at least 2, got " + std::to_string(m_options.cutoffLen));
}

EncodedExample ExampleEncoder::encodePieces(const std::vector<Piece>& pieces, bool specialTokens, bool appendEos) const
{
    EncodedExample ex;
    bool first = true;
    for (const Piece& p : pieces) {
        // Special tokens (BOS) belong before the first piece only.
        const auto ids = m_tokenizer.encode(p.text, specialTokens && first);
        first = false;
        for (auto id : ids) {
            ex.ids.push_back(id);
            ex.labels.push_back(p.trained || m_options.trainOnPrompt ? id : kIgnoreLabel);
        }
    }
    if (appendEos) {
        const auto eos = m_tokenizer.eosId();
        if (eos && (ex.ids.empty() || ex.ids.back() != *eos)) {
            ex.ids.push_back(*eos);
            ex.labels.push_back(*eos);
        }
    }
    if (static_cast<std::int64_t>(ex.ids.size()) > m_options.cutoffLen) {
        ex.ids.resize(static_cast<std::size_t>(m_options.cutoffLen));
        ex.labels.resize(static_cast<std::size_t>(m_options.cutoffLen));
        ex.truncated = true;
    }
    return ex;
}

// Splits a rendered conversation into pieces: everything up to each assistant
// turn (prompt, not trained) and each assistant turn (trained), by rendering
// growing prefixes of the conversation.
std::vector<ExampleEncoder::Piece> ExampleEncoder::chatPieces(
    const nlohmann::json& messages, const std::string& where) const
{
    std::vector<Piece> pieces;
    std::string done;
    const auto all = ordered(messages);
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (all[i].value("role", "") != "assistant")
            continue;
        nlohmann::ordered_json before = nlohmann::ordered_json::array();
        for (std::size_t j = 0; j < i; ++j)
            before.push_back(all[j]);
        nlohmann::ordered_json through = before;
        through.push_back(all[i]);
        const std::string prompt = m_template->render(before, /*addGenerationPrompt=*/true);
        const std::string full = m_template->render(through, /*addGenerationPrompt=*/false);
        if (prompt.compare(0, done.size(), done) != 0 || full.compare(0, prompt.size(), prompt) != 0)
            throw InputError(where + ": the chat template renders message " + std::to_string(i)
                + " so that an earlier part of the conversation changes; prompt and response "
                  "tokens cannot be told apart (train_on_prompt: true trains on everything)");
        pieces.push_back({ prompt.substr(done.size()), false });
        pieces.push_back({ full.substr(prompt.size()), true });
        done = full;
    }
    // Messages after the last assistant turn are context the model does not answer.
    const std::string whole = m_template->render(all, false);
    if (whole.size() > done.size() && whole.compare(0, done.size(), done) == 0)
        pieces.push_back({ whole.substr(done.size()), false });
    return pieces;
}

EncodedExample ExampleEncoder::encode(
    const nlohmann::json& record, DatasetFormat format, const std::string& where) const
{
    switch (format) {
    case DatasetFormat::Text:
        return encodePieces({ { record.at("text").get<std::string>(), true } }, true, true);
    case DatasetFormat::Instruction: {
        if (!m_template)
            return encodePieces(
                { { alpacaPrompt(record), false }, { record.at("output").get<std::string>(), true } }, true, true);
        std::string user = record.at("instruction").get<std::string>();
        const std::string input = record.value("input", "");
        if (!input.empty())
            user += "\n\n" + input;
        const nlohmann::json messages = { { { "role", "user" }, { "content", user } },
            { { "role", "assistant" }, { "content", record.at("output") } } };
        return encodePieces(chatPieces(messages, where), false, false);
    }
    case DatasetFormat::Chat: {
        if (!m_template) {
            // No template: a plain transcript, assistant turns trained.
            std::vector<Piece> pieces;
            for (const auto& m : record.at("messages")) {
                const std::string role = m.value("role", "");
                const std::string content
                    = m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "";
                if (role == "assistant") {
                    pieces.push_back({ "Assistant: ", false });
                    pieces.push_back({ content + "\n", true });
                } else {
                    pieces.push_back({ (role == "system" ? "System: " : "User: ") + content + "\n", false });
                }
            }
            return encodePieces(pieces, true, true);
        }
        return encodePieces(chatPieces(record.at("messages"), where), false, false);
    }
    case DatasetFormat::Preference:
    case DatasetFormat::UnpairedPreference: {
        // SFT on preference data trains on the prompt and the preferred response.
        const EncodedPreference p = encodePreference(record, format, where);
        EncodedExample ex;
        ex.ids = p.prompt;
        ex.labels = m_options.trainOnPrompt ? p.prompt : std::vector<std::int32_t>(p.prompt.size(), kIgnoreLabel);
        ex.ids.insert(ex.ids.end(), p.chosen.begin(), p.chosen.end());
        ex.labels.insert(ex.labels.end(), p.chosen.begin(), p.chosen.end());
        ex.truncated = p.truncated;
        return ex;
    }
    case DatasetFormat::Prompt:
        throw InputError(
            where + ": prompt data holds no response to train on; it is for online objectives such as grpo");
    }
    throw InputError(where + ": unknown dataset format");
}

std::string ExampleEncoder::renderPrompt(const nlohmann::json& prompt, const std::string& where) const
{
    if (!m_template) {
        if (!prompt.is_string())
            throw InputError(where + ": a prompt given as messages needs a model with a chat template");
        return prompt.get<std::string>();
    }
    return m_template->render(ordered(asMessages(prompt, "user")), true);
}

std::string ExampleEncoder::renderResponse(const std::string& promptText, const nlohmann::json& prompt,
    const nlohmann::json& response, const std::string& where) const
{
    if (!m_template) {
        if (!response.is_string())
            throw InputError(where + ": a response given as messages needs a model with a chat template");
        return response.get<std::string>();
    }
    nlohmann::json messages = asMessages(prompt, "user");
    for (const auto& m : asMessages(response, "assistant"))
        messages.push_back(m);
    const std::string full = m_template->render(ordered(messages), false);
    if (full.compare(0, promptText.size(), promptText) != 0)
        throw InputError(where
            + ": the chat template renders the prompt differently once a response follows; "
              "prompt and response tokens cannot be told apart");
    return full.substr(promptText.size());
}

EncodedPrompt ExampleEncoder::encodePrompt(const nlohmann::json& record, const std::string& where) const
{
    EncodedPrompt p;
    p.text = renderPrompt(record.at("prompt"), where);
    p.ids = m_tokenizer.encode(p.text, /*addSpecialTokens=*/m_template == nullptr);
    // Keep the prompt's end, as for preference data: the most recent context matters most.
    if (static_cast<std::int64_t>(p.ids.size()) > m_options.cutoffLen) {
        p.truncated = true;
        p.ids.erase(p.ids.begin(), p.ids.end() - m_options.cutoffLen);
    }
    if (p.ids.empty())
        throw InputError(where + ": the prompt encodes to no tokens");
    return p;
}

EncodedPreference ExampleEncoder::encodePreference(
    const nlohmann::json& record, DatasetFormat format, const std::string& where) const
{
    if (format != DatasetFormat::Preference && format != DatasetFormat::UnpairedPreference)
        throw InputError(where
            + ": preference objectives need preference data (prompt/chosen/rejected or "
              "prompt/completion/label), got "
            + std::string(toString(format)));
    EncodedPreference p;
    const std::string promptText = renderPrompt(record.at("prompt"), where);
    p.prompt = m_tokenizer.encode(promptText, /*addSpecialTokens=*/m_template == nullptr);
    const bool appendEos = m_template == nullptr;
    auto response = [&](const nlohmann::json& r) {
        std::vector<std::int32_t> ids
            = m_tokenizer.encode(renderResponse(promptText, record.at("prompt"), r, where), false);
        if (appendEos) {
            if (auto eos = m_tokenizer.eosId(); eos && (ids.empty() || ids.back() != *eos))
                ids.push_back(*eos);
        }
        return ids;
    };
    if (format == DatasetFormat::Preference) {
        p.chosen = response(record.at("chosen"));
        p.rejected = response(record.at("rejected"));
    } else {
        p.chosen = response(record.at("completion"));
        p.desirable = record.at("label").get<bool>();
    }
    // Keep the responses whole where possible: cut the prompt's start first
    // (the most recent context matters most), then the responses' ends.
    const auto longest = static_cast<std::int64_t>(std::max(p.chosen.size(), p.rejected.size()));
    const std::int64_t room = m_options.cutoffLen;
    if (static_cast<std::int64_t>(p.prompt.size()) + longest > room) {
        p.truncated = true;
        const std::int64_t keepPrompt = std::max<std::int64_t>(room / 2, room - longest);
        if (static_cast<std::int64_t>(p.prompt.size()) > keepPrompt)
            p.prompt.erase(p.prompt.begin(), p.prompt.end() - keepPrompt);
        const std::int64_t keepResponse = room - static_cast<std::int64_t>(p.prompt.size());
        if (static_cast<std::int64_t>(p.chosen.size()) > keepResponse)
            p.chosen.resize(static_cast<std::size_t>(keepResponse));
        if (static_cast<std::int64_t>(p.rejected.size()) > keepResponse)
            p.rejected.resize(static_cast<std::size_t>(keepResponse));
    }
    return p;
}

} // namespace tunebench
