#include "command_line.h"
#include "commands.h"

#include "core/method/adapter.h"
#include "core/method/plugin_registry.h"
#include "core/metrics/diversity.h"
#include "core/metrics/forgetting.h"
#include "core/metrics/weight_space.h"
#include "core/model/causal_lm.h"
#include "core/model/model_loader.h"
#include "core/model/model_weights.h"
#include "core/model/safetensors.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>

namespace tunebench::cli {

namespace {

std::vector<DiversitySample> readSamples(const std::string& path)
{
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw InputError(path + ": cannot open for reading");
    std::vector<DiversitySample> samples;
    std::string line;
    int lineNo = 0;
    while (std::getline(in, line)) {
        ++lineNo;
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string where = path + ":" + std::to_string(lineNo) + ": ";
        auto value = nlohmann::json::parse(line, nullptr, false);
        if (value.is_discarded() || !value.is_object())
            throw InputError(where + "expected a JSON object {\"prompt\": ..., \"text\": ...}");
        auto text = value.find("text");
        if (text == value.end() || !text->is_string())
            throw InputError(where + "field 'text' must be a string");
        auto prompt = value.find("prompt");
        if (prompt != value.end() && !prompt->is_string())
            throw InputError(where + "field 'prompt' must be a string");
        samples.push_back(
            { prompt == value.end() ? std::string() : prompt->get<std::string>(), text->get<std::string>() });
    }
    return samples;
}

int measureDiversityCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli measure diversity --input FILE [--vocab-size V] [--max-n N]",
        "Diversity of generated texts. FILE has one JSON object a line: {\"prompt\": ..., \"text\": ...}.\n"
        "Words are split on whitespace, case-sensitive. Prints one JSON object with distinct_1..N and\n"
        "ead_1..N over all texts together, self_bleu (BLEU-4 of each text against all the others,\n"
        "averaged), and per_input_* variants computed within each prompt's texts and averaged over\n"
        "prompts.",
        {},
        { { "input", "FILE", "the samples (JSON Lines)", true },
            { "vocab-size", "V", "vocabulary size V of EAD (default 50257)" },
            { "max-n", "N", "longest n-gram for distinct-n and EAD (default 4)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    DiversityOptions options;
    if (auto v = cl.value("vocab-size")) {
        options.eadVocabularySize = static_cast<double>(cl.integer("--vocab-size", *v));
        if (options.eadVocabularySize < 2)
            throw UsageError("--vocab-size must be at least 2");
    }
    if (auto n = cl.value("max-n")) {
        options.maxN = static_cast<int>(cl.integer("--max-n", *n));
        if (options.maxN < 1 || options.maxN > 8)
            throw UsageError("--max-n must be between 1 and 8");
    }
    const auto samples = readSamples(cl.required("input"));
    const DiversityResult r = measureDiversity(samples, options);
    nlohmann::json out = { { "texts", r.texts }, { "prompts", r.prompts }, { "ead_vocab_size", r.eadVocabularySize } };
    for (int n = 1; n <= options.maxN; ++n) {
        const auto i = static_cast<std::size_t>(n - 1);
        out["distinct_" + std::to_string(n)] = r.distinct[i];
        out["ead_" + std::to_string(n)] = r.ead[i];
        out["per_input_distinct_" + std::to_string(n)] = r.perInputDistinct[i];
        out["per_input_ead_" + std::to_string(n)] = r.perInputEad[i];
    }
    out["self_bleu"] = r.selfBleu;
    out["per_input_self_bleu"] = r.perInputSelfBleu;
    std::cout << out.dump() << "\n";
    return 0;
}

int measureWeightsCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli measure weights --base DIR --tuned DIR [--top-k K] [--threshold E]",
        "What fine-tuning did to the weights: for every tensor both model folders hold, the norm of\n"
        "the update, and for matrices its effective rank and the intruder dimensions (top-k singular\n"
        "vectors of the tuned matrix whose best cosine similarity with the base matrix's singular\n"
        "vectors is below E). Prints JSON: one entry per tensor and the totals.",
        {},
        { { "base", "DIR", "the model before tuning", true },
            { "tuned", "DIR", "the model after tuning (a merged model folder)", true },
            { "top-k", "K", "singular vectors checked per matrix (default 10)" },
            { "threshold", "E", "cosine similarity below which a direction is an intruder (default 0.5)" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    WeightSpaceOptions options;
    if (auto k = cl.value("top-k")) {
        options.intruderTopK = cl.integer("--top-k", *k);
        if (options.intruderTopK < 1)
            throw UsageError("--top-k must be at least 1");
    }
    if (auto e = cl.value("threshold")) {
        try {
            options.intruderThreshold = std::stod(*e);
        } catch (const std::exception&) {
            throw UsageError("--threshold must be a number, got '" + *e + "'");
        }
        if (!(options.intruderThreshold > 0.0 && options.intruderThreshold <= 1.0))
            throw UsageError("--threshold must be in (0, 1]");
    }
    const ModelWeights base = ModelWeights::open(cl.required("base"));
    const ModelWeights tuned = ModelWeights::open(cl.required("tuned"));
    const WeightSpaceReport r = compareWeights(base, tuned, options);
    nlohmann::json tensors = nlohmann::json::array();
    for (const TensorUpdate& u : r.tensors) {
        nlohmann::json t = { { "name", u.name }, { "shape", u.shape }, { "base_norm", u.baseNorm },
            { "update_norm", u.updateNorm }, { "relative_update", u.baseNorm > 0 ? u.updateNorm / u.baseNorm : 0.0 } };
        if (u.matrix) {
            t["effective_rank"] = u.effectiveRank;
            t["intruder_dimensions"] = u.intruders;
        }
        tensors.push_back(std::move(t));
    }
    nlohmann::json out = {
        { "tensors", tensors },
        { "totals",
            { { "update_norm", r.totalUpdateNorm },
                { "relative_update", r.totalBaseNorm > 0 ? r.totalUpdateNorm / r.totalBaseNorm : 0.0 },
                { "changed_tensors", r.changedTensors },
                { "compared_tensors", static_cast<std::int64_t>(r.tensors.size()) },
                { "intruder_dimensions", r.intruderDimensions } } },
        { "intruder_dimensions", r.intruderDimensions },
        { "intruder_top_k", options.intruderTopK },
        { "intruder_threshold", options.intruderThreshold },
        { "only_in_base", r.onlyInBase },
        { "only_in_tuned", r.onlyInTuned },
    };
    std::cout << out.dump() << "\n";
    return 0;
}

int measureForgettingCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli measure forgetting --model DIR [--adapter DIR] --base DIR --reference FILE\n"
                   "                                  [--max-length N] [--workspace DIR]",
        "What tuning did to a reference set: the mean loss per token of the tuned and the base model and\n"
        "their difference (delta_loss, delta_perplexity), KL(base || tuned) per token, and, when the set\n"
        "has probes, probe accuracy of both and probe_accuracy_delta. FILE has one JSON object a line:\n"
        "{\"text\": ...} (every token scored), {\"prompt\": ..., \"answer\": ...} (the answer's tokens\n"
        "scored; correct when the greedy continuation starts with the answer) or {\"prompt\": ...,\n"
        "\"choices\": [...], \"answer\": ...} (correct when the answer is the most likely choice).\n"
        "With a workspace the base model's numbers are cached there and reused.",
        {},
        { { "model", "DIR", "the tuned model folder, or the base the adapter attaches to", true },
            { "adapter", "DIR", "a run's adapter folder (runs/<id>/adapter) applied to --model" },
            { "base", "DIR", "the model before tuning", true },
            { "reference", "FILE", "the reference set (JSON Lines)", true },
            { "max-length", "N", "tokens per record at most (default 1024)" },
            { "workspace", "DIR", "caches the base model's numbers", false, "TUNEBENCH_WORKSPACE" } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    std::int64_t maxLength = 1024;
    if (auto v = cl.value("max-length")) {
        maxLength = cl.integer("--max-length", *v);
        if (maxLength < 2)
            throw UsageError("--max-length must be at least 2");
    }
    const auto started = std::chrono::steady_clock::now();
    const ReferenceSet set = ReferenceSet::load(cl.required("reference"));
    const std::filesystem::path baseDir = cl.required("base");
    const std::unique_ptr<CausalLM> base = loadCausalLM(baseDir);
    const std::unique_ptr<CausalLM> tuned = loadCausalLM(cl.required("model"));
    if (base->config().vocabSize != tuned->config().vocabSize)
        throw InputError("--model has a vocabulary of " + std::to_string(tuned->config().vocabSize)
            + " tokens but --base one of " + std::to_string(base->config().vocabSize)
            + "; forgetting compares models over the same tokens");
    std::unique_ptr<Adapter> adapter;
    if (auto dir = cl.value("adapter"))
        adapter = loadRunAdapter(*dir, *tuned, defaultPluginRegistry(), cl.required("model"));
    const Tokenizer tokenizer = Tokenizer::fromFolder(baseDir);
    const EncodedReference encoded = encodeReference(set, tokenizer, maxLength);

    std::optional<Workspace> workspace;
    std::string key;
    std::optional<ReferenceScores> cached;
    if (auto w = cl.value("workspace")) {
        workspace.emplace(Workspace::open(*w));
        key = forgettingCacheKey(baseDir, set, maxLength);
        cached = loadCachedBaseScores(workspace->root(), key);
    }
    const ForgettingResult r = measureForgetting(
        [&](bool useBase) -> const CausalLM& { return useBase ? *base : *tuned; }, tokenizer, encoded, cached);
    if (workspace && !r.baseFromCache)
        storeCachedBaseScores(workspace->root(), key, r.base);

    nlohmann::json out = { { "reference", set.path }, { "records", set.items.size() }, { "tokens", r.tuned.tokens },
        { "loss", r.tuned.loss }, { "base_loss", r.base.loss }, { "delta_loss", r.deltaLoss() },
        { "perplexity", r.tuned.perplexity() }, { "base_perplexity", r.base.perplexity() },
        { "delta_perplexity", r.deltaPerplexity() }, { "kl", r.kl }, { "probes", r.tuned.probes },
        { "base_cached", r.baseFromCache } };
    if (r.tuned.probes > 0) {
        out["probe_accuracy"] = r.tuned.accuracy();
        out["base_probe_accuracy"] = r.base.accuracy();
        out["probe_accuracy_delta"] = r.probeAccuracyDelta();
    }
    out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << out.dump() << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "measure", "weights" }, "update norms, effective rank and intruder dimensions of a tuned model",
        measureWeightsCommand },
    { { "measure", "diversity" }, "distinct-n, EAD and self-BLEU of generated texts", measureDiversityCommand },
    { { "measure", "forgetting" }, "loss, KL and probe accuracy of a tuned model against its base on a reference set",
        measureForgettingCommand },
} };

} // namespace

} // namespace tunebench::cli
