#include "core/metrics/forgetting.h"

#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "core/util/sha256.h"
#include "core/util/text.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

std::string stringField(const nlohmann::json& record, const char* field, const std::string& where)
{
    auto it = record.find(field);
    if (it == record.end())
        return {};
    if (!it->is_string())
        throw InputError(where + "field '" + field + "' must be a string");
    return it->get<std::string>();
}

at::Tensor idsTensor(const std::vector<std::int32_t>& ids, const CausalLM& model)
{
    std::vector<std::int64_t> wide(ids.begin(), ids.end());
    return at::tensor(wide, at::kLong).unsqueeze(0).to(model.device());
}

// Log-probabilities of the next token at the positions that predict tokens
// scoredFrom.., [S, V] in float32 on the CPU.
at::Tensor scoredLogProbs(const CausalLM& model, const EncodedReference::Sequence& s)
{
    ForwardInput in;
    in.inputIds = idsTensor(s.ids, model);
    const at::Tensor logits = model.forward(in).logits[0].to(at::kCPU, at::kFloat);
    const auto length = static_cast<std::int64_t>(s.ids.size());
    return at::log_softmax(logits.narrow(0, s.scoredFrom - 1, length - s.scoredFrom), -1);
}

at::Tensor targets(const EncodedReference::Sequence& s)
{
    std::vector<std::int64_t> t(s.ids.begin() + s.scoredFrom, s.ids.end());
    return at::tensor(t, at::kLong);
}

double continuationLogProb(
    const CausalLM& model, const std::vector<std::int32_t>& prompt, const std::vector<std::int32_t>& choice)
{
    EncodedReference::Sequence s;
    s.ids = prompt;
    s.ids.insert(s.ids.end(), choice.begin(), choice.end());
    s.scoredFrom = static_cast<std::int64_t>(prompt.size());
    const at::Tensor lp = scoredLogProbs(model, s);
    return lp.gather(1, targets(s).unsqueeze(1)).sum().item<double>();
}

std::int64_t probesCorrect(const CausalLM& model, const Tokenizer& tokenizer, const EncodedReference& reference)
{
    std::int64_t correct = 0;
    for (const EncodedReference::Probe& p : reference.probes) {
        if (!p.choices.empty()) {
            int best = 0;
            double bestScore = -INFINITY;
            for (std::size_t c = 0; c < p.choices.size(); ++c) {
                const double score = continuationLogProb(model, p.prompt, p.choices[c]);
                if (score > bestScore) {
                    bestScore = score;
                    best = static_cast<int>(c);
                }
            }
            correct += best == p.correctChoice ? 1 : 0;
            continue;
        }
        GenerationOptions o;
        o.maxNewTokens = p.answerTokens + 2;
        for (auto id : model.config().eosTokenIds)
            o.eosTokenIds.push_back(id);
        if (tokenizer.eosId())
            o.eosTokenIds.push_back(*tokenizer.eosId());
        o.padTokenId = tokenizer.padId();
        const GeneratedSequence g = generate(model, { p.prompt }, o)[0];
        const std::string text = trimmed(tokenizer.decode(g.tokens, /*skipSpecialTokens=*/true));
        const std::string answer = trimmed(p.answer);
        correct += text.compare(0, answer.size(), answer) == 0 ? 1 : 0;
    }
    return correct;
}

} // namespace

std::int64_t ReferenceSet::probes() const
{
    return std::count_if(items.begin(), items.end(), [](const ReferenceItem& i) { return i.isProbe(); });
}

ReferenceSet ReferenceSet::load(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path.string() + ": cannot open the reference set for reading");
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string content = buffer.str();
    ReferenceSet set;
    set.path = path.string();
    set.contentHash = sha256Hex(content);
    std::istringstream lines(content);
    std::string line;
    int lineNo = 0;
    while (std::getline(lines, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string where = set.path + ":" + std::to_string(lineNo) + ": ";
        const auto record = nlohmann::json::parse(line, nullptr, false);
        if (record.is_discarded() || !record.is_object())
            throw InputError(where
                + "expected a JSON object: {\"text\": ...}, {\"prompt\": ..., \"answer\": ...} or {\"prompt\": ..., "
                  "\"choices\": [...], \"answer\": ...}");
        ReferenceItem item;
        item.line = lineNo;
        item.text = stringField(record, "text", where);
        item.prompt = stringField(record, "prompt", where);
        const auto choices = record.find("choices");
        if (choices != record.end()) {
            if (!choices->is_array() || choices->size() < 2)
                throw InputError(where + "field 'choices' must be a list of at least two strings");
            for (const auto& c : *choices) {
                if (!c.is_string())
                    throw InputError(where + "field 'choices' must be a list of at least two strings");
                item.choices.push_back(c.get<std::string>());
            }
            const auto answer = record.find("answer");
            if (answer == record.end())
                throw InputError(where + "field 'answer' is required with 'choices' (the right choice or its index)");
            if (answer->is_number_integer()) {
                item.correctChoice = answer->get<int>();
                if (item.correctChoice < 0 || item.correctChoice >= static_cast<int>(item.choices.size()))
                    throw InputError(where + "field 'answer' is index " + answer->dump() + " but there are "
                        + std::to_string(item.choices.size()) + " choices");
            } else if (answer->is_string()) {
                const auto it = std::find(item.choices.begin(), item.choices.end(), answer->get<std::string>());
                if (it == item.choices.end())
                    throw InputError(where + "field 'answer' (" + answer->dump() + ") is not one of the choices");
                item.correctChoice = static_cast<int>(it - item.choices.begin());
            } else {
                throw InputError(where + "field 'answer' must be one of the choices or its index");
            }
            item.answer = item.choices[static_cast<std::size_t>(item.correctChoice)];
        } else {
            item.answer = stringField(record, "answer", where);
        }
        if (item.text.empty() == !item.isProbe() || (item.isProbe() && (item.prompt.empty() || item.answer.empty())))
            throw InputError(where
                + "a record has either 'text', or 'prompt' with 'answer' (and optionally 'choices'); not both, "
                  "none of them, nor an empty one");
        set.items.push_back(std::move(item));
    }
    if (set.items.empty())
        throw InputError(set.path + ": the reference set has no records");
    return set;
}

std::int64_t EncodedReference::scoredTokens() const
{
    std::int64_t n = 0;
    for (const Sequence& s : sequences)
        n += static_cast<std::int64_t>(s.ids.size()) - s.scoredFrom;
    return n;
}

EncodedReference encodeReference(const ReferenceSet& set, const Tokenizer& tokenizer, std::int64_t maxLength)
{
    EncodedReference out;
    auto startIds = [&](const std::string& text) {
        std::vector<std::int32_t> ids = tokenizer.encode(text, /*addSpecialTokens=*/true);
        if (ids.empty() && tokenizer.bosId())
            ids.push_back(*tokenizer.bosId());
        return ids;
    };
    for (const ReferenceItem& item : set.items) {
        const std::string where = set.path + ":" + std::to_string(item.line) + ": ";
        EncodedReference::Sequence s;
        if (!item.isProbe()) {
            s.ids = startIds(item.text);
            s.scoredFrom = 1;
        } else {
            EncodedReference::Probe p;
            p.prompt = startIds(item.prompt);
            if (p.prompt.empty())
                throw InputError(where + "the prompt encodes to no tokens and the tokenizer has no BOS token");
            const std::vector<std::int32_t> answer = tokenizer.encode(item.answer);
            p.answer = item.answer;
            p.answerTokens = static_cast<std::int64_t>(answer.size());
            for (const std::string& c : item.choices) {
                p.choices.push_back(tokenizer.encode(c));
                if (p.choices.back().empty())
                    throw InputError(where + "a choice encodes to no tokens");
            }
            p.correctChoice = item.correctChoice;
            s.ids = p.prompt;
            s.ids.insert(s.ids.end(), answer.begin(), answer.end());
            s.scoredFrom = static_cast<std::int64_t>(p.prompt.size());
            out.probes.push_back(std::move(p));
        }
        if (static_cast<std::int64_t>(s.ids.size()) > maxLength)
            s.ids.resize(static_cast<std::size_t>(maxLength));
        if (static_cast<std::int64_t>(s.ids.size()) <= s.scoredFrom)
            throw InputError(where + "no token to score within " + std::to_string(maxLength)
                + " tokens (a text needs two tokens; a probe's prompt must leave room for its answer)");
        out.sequences.push_back(std::move(s));
    }
    return out;
}

double ReferenceScores::perplexity() const
{
    return std::exp(loss);
}

double ReferenceScores::accuracy() const
{
    return probes > 0 ? static_cast<double>(correct) / static_cast<double>(probes) : 0.0;
}

ForgettingResult measureForgetting(const ModelSelector& models, const Tokenizer& tokenizer,
    const EncodedReference& reference, const std::optional<ReferenceScores>& cachedBase)
{
    at::NoGradGuard noGrad;
    ForgettingResult r;
    double baseNll = 0, tunedNll = 0, kl = 0;
    std::int64_t tokens = 0;
    for (const EncodedReference::Sequence& s : reference.sequences) {
        const at::Tensor target = targets(s).unsqueeze(1);
        const at::Tensor base = scoredLogProbs(models(true), s);
        const at::Tensor tuned = scoredLogProbs(models(false), s);
        baseNll -= base.gather(1, target).sum().item<double>();
        tunedNll -= tuned.gather(1, target).sum().item<double>();
        kl += (base.exp() * (base - tuned)).sum().item<double>();
        tokens += target.size(0);
    }
    const double denominator = static_cast<double>(std::max<std::int64_t>(1, tokens));
    r.kl = std::max(0.0, kl / denominator);
    r.tuned.loss = tunedNll / denominator;
    r.tuned.tokens = tokens;
    r.tuned.probes = static_cast<std::int64_t>(reference.probes.size());
    if (cachedBase) {
        r.base = *cachedBase;
        r.baseFromCache = true;
    } else {
        r.base.loss = baseNll / denominator;
        r.base.tokens = tokens;
        r.base.probes = r.tuned.probes;
        r.base.correct = probesCorrect(models(true), tokenizer, reference);
    }
    r.tuned.correct = probesCorrect(models(false), tokenizer, reference);
    return r;
}

std::string forgettingCacheKey(const fs::path& modelDir, const ReferenceSet& set, std::int64_t maxLength)
{
    Sha256 h;
    hashFolderListing(h, modelDir);
    h.update("reference " + set.contentHash + "\nmax_length " + std::to_string(maxLength) + "\nversion 1\n");
    return h.hexDigest();
}

std::optional<ReferenceScores> loadCachedBaseScores(const fs::path& workspaceRoot, const std::string& key)
{
    std::ifstream in(workspaceRoot / "cache" / "forgetting" / (key + ".json"), std::ios::binary);
    if (!in)
        return std::nullopt;
    const auto j = nlohmann::json::parse(in, nullptr, false);
    if (!j.is_object() || !j.contains("loss") || !j["loss"].is_number())
        return std::nullopt; // a damaged cache entry is computed again
    ReferenceScores s;
    s.loss = j["loss"].get<double>();
    s.tokens = j.value("tokens", std::int64_t { 0 });
    s.probes = j.value("probes", std::int64_t { 0 });
    s.correct = j.value("correct", std::int64_t { 0 });
    return s;
}

void storeCachedBaseScores(const fs::path& workspaceRoot, const std::string& key, const ReferenceScores& scores)
{
    const fs::path dir = workspaceRoot / "cache" / "forgetting";
    fs::create_directories(dir);
    const fs::path temp = dir / (key + ".json.tmp");
    {
        std::ofstream out(temp, std::ios::binary);
        out << nlohmann::json({ { "loss", scores.loss }, { "tokens", scores.tokens }, { "probes", scores.probes },
                                  { "correct", scores.correct } })
                   .dump();
        if (!out)
            throw Error("cannot write " + temp.string());
    }
    fs::rename(temp, dir / (key + ".json"));
}

} // namespace tunebench
