#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace tunebench {

class CausalLM;
class Tokenizer;

// Forgetting: what tuning did to the model's behaviour on a reference set the
// user picks (METHODS.md, "Measures"): the loss on it, tuned minus base, the
// KL(base || tuned) of the next-token distributions, and probe accuracy.

// One record of a reference file (JSON Lines), one of three shapes:
//   {"text": "..."}                                 general text: every token after the first is scored
//   {"prompt": "...", "answer": "..."}              probe: the answer's tokens are scored given the prompt;
//                                                   correct when the greedy continuation, trimmed, starts
//                                                   with the trimmed answer
//   {"prompt": "...", "choices": [...], "answer": "..." | index}
//                                                   multiple choice: correct when the answer has the highest
//                                                   summed log-probability of the choices
// The answer (and each choice) is appended to the prompt as written, so a
// leading space belongs in it where the text needs one ("answer": " Paris").
struct ReferenceItem {
    int line = 0;
    std::string text;
    std::string prompt;
    std::string answer;
    std::vector<std::string> choices;
    int correctChoice = -1;
    bool isProbe() const { return !prompt.empty() || !answer.empty(); }
};

struct ReferenceSet {
    std::string path;
    std::string contentHash; // SHA-256 of the file's bytes
    std::vector<ReferenceItem> items;
    std::int64_t probes() const;

    // Throws InputError naming path:line and the field for a bad record, and
    // for a file without records.
    static ReferenceSet load(const std::filesystem::path& path);
};

// The reference set in token ids.
struct EncodedReference {
    struct Sequence {
        std::vector<std::int32_t> ids;
        std::int64_t scoredFrom = 1; // tokens at index >= scoredFrom are scored (predicted from the ones before)
    };
    struct Probe {
        std::vector<std::int32_t> prompt;
        std::string answer; // exact match
        std::int64_t answerTokens = 0;
        std::vector<std::vector<std::int32_t>> choices; // multiple choice (token ids of each choice)
        int correctChoice = -1;
    };
    std::vector<Sequence> sequences; // texts, and each probe's prompt + answer
    std::vector<Probe> probes;
    std::int64_t scoredTokens() const;
};

// Texts are encoded with the tokenizer's special tokens, answers and choices
// without; sequences are cut to maxLength tokens (keeping the start).
// Throws InputError (naming the file and line) for a record that scores no
// token within maxLength.
EncodedReference encodeReference(const ReferenceSet& set, const Tokenizer& tokenizer, std::int64_t maxLength);

// One model's numbers on a reference set.
struct ReferenceScores {
    double loss = 0; // mean negative log-likelihood per scored token (nats)
    std::int64_t tokens = 0;
    std::int64_t probes = 0;
    std::int64_t correct = 0;
    double perplexity() const;
    double accuracy() const; // 0 without probes
};

struct ForgettingResult {
    ReferenceScores base;
    ReferenceScores tuned;
    bool baseFromCache = false;
    double kl = 0; // KL(base || tuned) per scored token (nats)
    double deltaLoss() const { return tuned.loss - base.loss; }
    double deltaPerplexity() const { return tuned.perplexity() - base.perplexity(); }
    double probeAccuracyDelta() const { return tuned.accuracy() - base.accuracy(); }
};

// Makes the base (true) or the tuned (false) model current and returns it.
// One model with a switchable adapter serves as both; two folders as two
// models.
using ModelSelector = std::function<const CausalLM&(bool base)>;

// Scores both models on the set (no gradients). cachedBase: the base model's
// numbers from an earlier run on the same model and set; the base model then
// runs only for the KL (its probes are not generated again). Leaves the tuned
// model current. eosIds end the probes' greedy continuations.
ForgettingResult measureForgetting(const ModelSelector& models, const Tokenizer& tokenizer,
    const EncodedReference& reference, const std::optional<ReferenceScores>& cachedBase = std::nullopt);

// The base model's numbers, cached per workspace in <workspace>/cache/forgetting/<key>.json.
// The key covers the model folder (path, and the names, sizes and times of its files),
// the reference file's content and maxLength.
std::string forgettingCacheKey(const std::filesystem::path& modelDir, const ReferenceSet& set, std::int64_t maxLength);
std::optional<ReferenceScores> loadCachedBaseScores(const std::filesystem::path& workspaceRoot, const std::string& key);
void storeCachedBaseScores(
    const std::filesystem::path& workspaceRoot, const std::string& key, const ReferenceScores& scores);

} // namespace tunebench
