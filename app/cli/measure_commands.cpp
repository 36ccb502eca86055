#include "command_line.h"
#include "commands.h"

#include "core/metrics/diversity.h"
#include "core/metrics/weight_space.h"
#include "core/model/model_weights.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

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

const CommandRegistration kRegistration { {
    { { "measure", "weights" }, "update norms, effective rank and intruder dimensions of a tuned model",
        measureWeightsCommand },
    { { "measure", "diversity" }, "distinct-n, EAD and self-BLEU of generated texts", measureDiversityCommand },
} };

} // namespace

} // namespace tunebench::cli
