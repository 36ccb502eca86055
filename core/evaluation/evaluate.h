#pragma once

// Runs a model on evaluation tasks (eval_tasks.h), as lm-evaluation-harness
// scores them (docs/architecture.md, "Evaluation tasks"):
//  - multiple_choice: the log-likelihood of each continuation target_delimiter + choice given the context (the
//    context and the continuation encoded together and split where the context's own tokens end, trailing
//    whitespace of the context moved into the continuation); acc: the choice with the highest summed
//    log-likelihood is the answer; acc_norm: the highest log-likelihood divided by the choice's length in
//    characters (Unicode code points, the delimiter not counted). Ties go to the first choice.
//  - generation: greedy decoding of max_new_tokens at most, the text cut at the first `until` string, the
//    answer extracted (extractAnswer) and compared (answerMatches): exact_match, the share correct.
//  - perplexity: every token of each text scored after a BOS (else EOS) prefix, in windows of the model's
//    length: perplexity = exp(total NLL / tokens) over all texts together; bits_per_byte = total NLL /
//    (ln 2 * UTF-8 bytes).
// Contexts longer than the model's length keep their end (the harness's left truncation).

#include "core/evaluation/eval_tasks.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tunebench {

class BatchWriter;
class CausalLM;
class Tokenizer;

struct EvalOptions {
    std::int64_t limit = 0; // the first N records of each task; 0: all
    std::uint64_t seed = 1234; // the few-shot draws (the harness's default fewshot seed)
    std::int64_t maxLength = 0; // tokens a forward sees at most; 0: the model's positions (2048 when unbounded)
    std::int64_t batchSize = 8; // generation prompts decoded together
};

// What one record gave, for tests and inspection.
struct EvalItem {
    std::size_t record = 0;
    std::string context;
    std::vector<double> logLikelihoods; // multiple_choice, per choice
    int predicted = -1; // multiple_choice: argmax of the log-likelihoods
    int predictedNorm = -1; // ... divided by the choice's length in characters
    std::string generated; // generation: the text after the cut at `until`
    std::optional<std::string> extracted;
    bool correct = false;
    double nll = 0; // perplexity: summed over the text's tokens (nats)
    std::int64_t tokens = 0;
    std::int64_t bytes = 0;
};

struct EvalTaskResult {
    std::string name;
    EvalTaskKind kind = EvalTaskKind::MultipleChoice;
    std::int64_t n = 0;
    std::vector<std::pair<std::string, double>> metrics; // acc, acc_norm | exact_match | perplexity, bits_per_byte
    std::vector<EvalItem> items;
};

// Evaluates one task or every task of a file (no gradients; the model as it is, adapter hooks included).
EvalTaskResult evaluateTask(
    const CausalLM& model, const Tokenizer& tokenizer, const EvalTask& task, const EvalOptions& options = {});
std::vector<EvalTaskResult> evaluateTasks(
    const CausalLM& model, const Tokenizer& tokenizer, const EvalTaskFile& file, const EvalOptions& options = {});

// {"tasks": {NAME: {"n": N, METRIC: VALUE, ...}}}, what `tunebench-cli evaluate` prints.
nlohmann::json evaluationJson(const std::vector<EvalTaskResult>& results);

// Adds PREFIX/<task>/<metric> for every metric of such a JSON object (not n) at `step`.
void writeEvaluationMetrics(BatchWriter& writer, std::int64_t runId, std::int64_t step, const std::string& prefix,
    const nlohmann::json& evaluation);
// eval_delta/<task>/<metric>: the tuned value minus the base value, for the metrics both hold.
void writeEvaluationDeltas(BatchWriter& writer, std::int64_t runId, std::int64_t step, const nlohmann::json& tuned,
    const nlohmann::json& base);

// The base model's results, cached per workspace in <workspace>/cache/evaluation/<key>.json. The key covers the
// model folder (path, and the names, sizes and times of its files), the tasks' content (tasks file and data), the
// limit, the seed and the length.
std::string evaluationCacheKey(
    const std::filesystem::path& modelDir, const EvalTaskFile& file, const EvalOptions& options);
std::optional<nlohmann::json> loadCachedEvaluation(const std::filesystem::path& workspaceRoot, const std::string& key);
void storeCachedEvaluation(
    const std::filesystem::path& workspaceRoot, const std::string& key, const nlohmann::json& evaluation);

} // namespace tunebench
