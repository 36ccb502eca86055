#include "core/evaluation/evaluate.h"

#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/store/batch_writer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "core/util/sha256.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <cmath>
#include <fstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

using Ids = std::vector<std::int32_t>;

std::int64_t lengthLimit(const CausalLM& model, const EvalOptions& options)
{
    if (options.maxLength > 0)
        return options.maxLength;
    const std::int64_t positions = model.config().maxPositionEmbeddings - model.virtualTokenCount();
    return positions > 1 ? positions : 2048;
}

std::int64_t codePoints(const std::string& s)
{
    return std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; });
}

Ids startIds(const Tokenizer& tokenizer, const std::string& text)
{
    Ids ids = tokenizer.encode(text, /*addSpecialTokens=*/true);
    if (ids.empty()) {
        if (auto bos = tokenizer.bosId())
            ids.push_back(*bos);
        else if (auto eos = tokenizer.eosId())
            ids.push_back(*eos);
        else
            throw InputError("an empty context needs a BOS or EOS token to start from, and the tokenizer has neither");
    }
    return ids;
}

// The context's and the continuation's tokens, split as the harness does: trailing whitespace of the context
// goes with the continuation, the two are encoded together, and the continuation is what follows the context's
// own tokens (so a merge across the boundary does not change the context).
std::pair<Ids, Ids> encodePair(const Tokenizer& tokenizer, std::string context, std::string continuation)
{
    const auto end = context.find_last_not_of(" \t\n\r");
    const std::size_t keep = end == std::string::npos ? 0 : end + 1;
    continuation = context.substr(keep) + continuation;
    context.resize(keep);
    Ids ctx = startIds(tokenizer, context);
    const Ids whole = tokenizer.encode(context + continuation, /*addSpecialTokens=*/true);
    Ids cont;
    if (!context.empty() && whole.size() > ctx.size())
        cont.assign(whole.begin() + static_cast<std::ptrdiff_t>(ctx.size()), whole.end());
    else
        cont = tokenizer.encode(continuation);
    if (cont.empty())
        throw InputError("a continuation encodes to no tokens");
    return { std::move(ctx), std::move(cont) };
}

// Summed log-likelihood of each continuation after its context, the continuations of one record in one batch
// (right-padded: a causal model's earlier positions never see the padding).
std::vector<double> logLikelihoods(
    const CausalLM& model, const std::vector<std::pair<Ids, Ids>>& pairs, std::int64_t maxLength)
{
    std::vector<Ids> inputs;
    std::vector<std::int64_t> firstScored; // input position that predicts the continuation's first token
    std::int64_t longest = 0;
    for (const auto& [ctx, cont] : pairs) {
        Ids all = ctx;
        all.insert(all.end(), cont.begin(), cont.end());
        // Keep the end: the continuation and as much context as fits (the input is all but the last token).
        const auto room = static_cast<std::size_t>(maxLength + 1);
        if (all.size() > room)
            all.erase(all.begin(), all.end() - static_cast<std::ptrdiff_t>(room));
        all.pop_back();
        const auto scored = static_cast<std::int64_t>(std::min(cont.size(), all.size()));
        firstScored.push_back(static_cast<std::int64_t>(all.size()) - scored);
        longest = std::max<std::int64_t>(longest, static_cast<std::int64_t>(all.size()));
        inputs.push_back(std::move(all));
    }
    std::vector<std::int64_t> flat(static_cast<std::size_t>(longest) * inputs.size(), 0);
    for (std::size_t b = 0; b < inputs.size(); ++b)
        std::copy(inputs[b].begin(), inputs[b].end(), flat.begin() + static_cast<std::ptrdiff_t>(b * longest));
    ForwardInput in;
    in.inputIds
        = at::tensor(flat, at::kLong).view({ static_cast<std::int64_t>(inputs.size()), longest }).to(model.device());
    const at::Tensor logits = model.forward(in).logits;
    std::vector<double> out;
    for (std::size_t b = 0; b < pairs.size(); ++b) {
        const Ids& cont = pairs[b].second;
        const std::int64_t first = firstScored[b];
        const auto count = static_cast<std::int64_t>(inputs[b].size()) - first;
        const auto skipped = static_cast<std::int64_t>(cont.size()) - count; // cut off the front: not scored
        std::vector<std::int64_t> targets(cont.begin() + skipped, cont.end());
        // Only the scored rows, in float32 (as the loss is): a [T, V] double copy of a large vocabulary would not fit.
        const at::Tensor logProbs
            = at::log_softmax(logits[static_cast<std::int64_t>(b)].narrow(0, first, count).to(at::kFloat), -1);
        const at::Tensor picked = logProbs.gather(1, at::tensor(targets, at::kLong).to(logits.device()).unsqueeze(1))
                                      .to(at::kCPU, at::kDouble);
        out.push_back(picked.sum().item<double>());
    }
    return out;
}

void multipleChoice(const CausalLM& model, const Tokenizer& tokenizer, const EvalTask& task, std::int64_t maxLength,
    EvalTaskResult& result)
{
    double acc = 0, accNorm = 0;
    for (EvalItem& item : result.items) {
        const EvalRecord& r = task.records[item.record];
        std::vector<std::pair<Ids, Ids>> pairs;
        for (const std::string& choice : r.choices)
            pairs.push_back(encodePair(tokenizer, item.context, task.targetDelimiter + choice));
        item.logLikelihoods = logLikelihoods(model, pairs, maxLength);
        double best = -INFINITY, bestNorm = -INFINITY;
        for (std::size_t c = 0; c < r.choices.size(); ++c) {
            const double ll = item.logLikelihoods[c];
            const double norm = ll / static_cast<double>(std::max<std::int64_t>(1, codePoints(r.choices[c])));
            if (ll > best) {
                best = ll;
                item.predicted = static_cast<int>(c);
            }
            if (norm > bestNorm) {
                bestNorm = norm;
                item.predictedNorm = static_cast<int>(c);
            }
        }
        item.correct = item.predicted == r.gold;
        acc += item.correct ? 1 : 0;
        accNorm += item.predictedNorm == r.gold ? 1 : 0;
    }
    const auto n = static_cast<double>(result.items.size());
    result.metrics = { { "acc", acc / n }, { "acc_norm", accNorm / n } };
}

void generation(const CausalLM& model, const Tokenizer& tokenizer, const EvalTask& task, std::int64_t maxLength,
    std::int64_t batchSize, EvalTaskResult& result)
{
    GenerationOptions o;
    o.maxNewTokens = task.maxNewTokens;
    for (auto id : model.config().eosTokenIds)
        o.eosTokenIds.push_back(id);
    if (tokenizer.eosId())
        o.eosTokenIds.push_back(*tokenizer.eosId());
    o.padTokenId = tokenizer.padId();
    o.stopStrings = task.until;
    o.decoder = [&tokenizer](std::span<const std::int32_t> ids) { return tokenizer.decode(ids, true); };
    const std::int64_t room = std::max<std::int64_t>(1, maxLength - task.maxNewTokens);
    double correct = 0;
    for (std::size_t start = 0; start < result.items.size(); start += static_cast<std::size_t>(batchSize)) {
        const std::size_t end = std::min(result.items.size(), start + static_cast<std::size_t>(batchSize));
        std::vector<Ids> prompts;
        for (std::size_t i = start; i < end; ++i) {
            Ids ids = startIds(tokenizer, result.items[i].context);
            if (static_cast<std::int64_t>(ids.size()) > room)
                ids.erase(ids.begin(), ids.end() - room);
            prompts.push_back(std::move(ids));
        }
        const std::vector<GeneratedSequence> out = generate(model, prompts, o);
        for (std::size_t i = start; i < end; ++i) {
            EvalItem& item = result.items[i];
            std::string text = tokenizer.decode(out[i - start].tokens, /*skipSpecialTokens=*/true);
            for (const std::string& stop : task.until) {
                const auto at = text.find(stop);
                if (at != std::string::npos)
                    text.resize(at);
            }
            item.generated = text;
            item.extracted = extractAnswer(text, task.regex, task.groupSelect, "task '" + task.name + "': regex");
            const EvalRecord& r = task.records[item.record];
            item.correct
                = item.extracted && answerMatches(*item.extracted, r.answer, task.numericCompare, task.tolerance);
            correct += item.correct ? 1 : 0;
        }
    }
    result.metrics = { { "exact_match", correct / static_cast<double>(result.items.size()) } };
}

void perplexity(const CausalLM& model, const Tokenizer& tokenizer, const EvalTask& task, std::int64_t maxLength,
    EvalTaskResult& result)
{
    std::optional<std::int32_t> prefix = tokenizer.bosId();
    if (!prefix)
        prefix = tokenizer.eosId();
    if (!prefix)
        throw InputError("task '" + task.name + "': perplexity scores every token after a BOS or EOS token, and the "
            + "tokenizer has neither");
    double nll = 0, bytes = 0;
    std::int64_t tokens = 0;
    for (EvalItem& item : result.items) {
        const std::string& text = task.records[item.record].prompt;
        Ids all { *prefix };
        const Ids ids = tokenizer.encode(text);
        all.insert(all.end(), ids.begin(), ids.end());
        // Windows of maxLength predicted tokens, each fed the token before it and its own tokens but the last.
        for (std::size_t a = 1; a < all.size(); a += static_cast<std::size_t>(maxLength)) {
            const std::size_t b = std::min(all.size(), a + static_cast<std::size_t>(maxLength));
            std::pair<Ids, Ids> pair { Ids(all.begin() + static_cast<std::ptrdiff_t>(a - 1),
                                           all.begin() + static_cast<std::ptrdiff_t>(a)),
                Ids(all.begin() + static_cast<std::ptrdiff_t>(a), all.begin() + static_cast<std::ptrdiff_t>(b)) };
            item.nll -= logLikelihoods(model, { pair }, maxLength)[0];
        }
        item.tokens = static_cast<std::int64_t>(ids.size());
        item.bytes = static_cast<std::int64_t>(text.size());
        nll += item.nll;
        tokens += item.tokens;
        bytes += static_cast<double>(item.bytes);
    }
    result.metrics = { { "perplexity", std::exp(nll / static_cast<double>(std::max<std::int64_t>(1, tokens))) },
        { "bits_per_byte", bytes > 0 ? nll / (std::log(2.0) * bytes) : 0.0 } };
}

} // namespace

EvalTaskResult evaluateTask(
    const CausalLM& model, const Tokenizer& tokenizer, const EvalTask& task, const EvalOptions& options)
{
    at::NoGradGuard noGrad;
    EvalTaskResult result;
    result.name = task.name;
    result.kind = task.kind;
    std::size_t n = task.records.size();
    if (options.limit > 0)
        n = std::min(n, static_cast<std::size_t>(options.limit));
    for (std::size_t i = 0; i < n; ++i)
        result.items.push_back({ .record = i, .context = task.context(i, options.seed) });
    result.n = static_cast<std::int64_t>(n);
    const std::int64_t maxLength = lengthLimit(model, options);
    switch (task.kind) {
    case EvalTaskKind::MultipleChoice:
        multipleChoice(model, tokenizer, task, maxLength, result);
        break;
    case EvalTaskKind::Generation:
        generation(model, tokenizer, task, maxLength, std::max<std::int64_t>(1, options.batchSize), result);
        break;
    case EvalTaskKind::Perplexity:
        perplexity(model, tokenizer, task, maxLength, result);
        break;
    }
    return result;
}

std::vector<EvalTaskResult> evaluateTasks(
    const CausalLM& model, const Tokenizer& tokenizer, const EvalTaskFile& file, const EvalOptions& options)
{
    std::vector<EvalTaskResult> out;
    for (const EvalTask& task : file.tasks)
        out.push_back(evaluateTask(model, tokenizer, task, options));
    return out;
}

nlohmann::json evaluationJson(const std::vector<EvalTaskResult>& results)
{
    nlohmann::json tasks = nlohmann::json::object();
    for (const EvalTaskResult& r : results) {
        nlohmann::json t = { { "n", r.n } };
        for (const auto& [name, value] : r.metrics)
            t[name] = value;
        tasks[r.name] = std::move(t);
    }
    return { { "tasks", tasks } };
}

void writeEvaluationMetrics(BatchWriter& writer, std::int64_t runId, std::int64_t step, const std::string& prefix,
    const nlohmann::json& evaluation)
{
    for (const auto& [task, metrics] : evaluation.at("tasks").items()) {
        for (const auto& [name, value] : metrics.items()) {
            if (name != "n" && value.is_number())
                writer.addMetric(runId, step, prefix + "/" + task + "/" + name, value.get<double>());
        }
    }
}

void writeEvaluationDeltas(
    BatchWriter& writer, std::int64_t runId, std::int64_t step, const nlohmann::json& tuned, const nlohmann::json& base)
{
    for (const auto& [task, metrics] : tuned.at("tasks").items()) {
        const auto b = base.at("tasks").find(task);
        if (b == base.at("tasks").end())
            continue;
        for (const auto& [name, value] : metrics.items()) {
            const auto bv = b->find(name);
            if (name != "n" && value.is_number() && bv != b->end() && bv->is_number())
                writer.addMetric(
                    runId, step, "eval_delta/" + task + "/" + name, value.get<double>() - bv->get<double>());
        }
    }
}

std::string evaluationCacheKey(const fs::path& modelDir, const EvalTaskFile& file, const EvalOptions& options)
{
    Sha256 h;
    hashFolderListing(h, modelDir);
    h.update("tasks " + file.contentHash + "\nlimit " + std::to_string(options.limit) + "\nseed "
        + std::to_string(options.seed) + "\nmax_length " + std::to_string(options.maxLength) + "\nversion 1\n");
    return h.hexDigest();
}

std::optional<nlohmann::json> loadCachedEvaluation(const fs::path& workspaceRoot, const std::string& key)
{
    std::ifstream in(workspaceRoot / "cache" / "evaluation" / (key + ".json"), std::ios::binary);
    if (!in)
        return std::nullopt;
    auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("tasks") || !j["tasks"].is_object())
        return std::nullopt; // a damaged entry is computed again
    return j;
}

void storeCachedEvaluation(const fs::path& workspaceRoot, const std::string& key, const nlohmann::json& evaluation)
{
    const fs::path dir = workspaceRoot / "cache" / "evaluation";
    fs::create_directories(dir);
    const fs::path temp = dir / (key + ".json.tmp");
    {
        std::ofstream out(temp, std::ios::binary);
        out << evaluation.dump();
        if (!out)
            throw Error("cannot write " + temp.string());
    }
    fs::rename(temp, dir / (key + ".json"));
}

} // namespace tunebench
