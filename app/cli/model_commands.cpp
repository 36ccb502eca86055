// Model commands: make-model (random HF folders for tests and references),
// generate, and forward (logits for the transformers comparison).

#include "command_line.h"
#include "commands.h"

#include "core/export/peft_adapter.h"
#include "core/method/plugin_registry.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/display_text.h"
#include "core/util/error.h"

#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>
#include <iostream>
#include <limits>

namespace tunebench::cli {

namespace {

double number(const CommandLine& cl, const std::string& option, double fallback)
{
    const auto text = cl.value(option);
    if (!text)
        return fallback;
    std::size_t used = 0;
    double v = 0;
    try {
        v = std::stod(*text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text->size() || !std::isfinite(v))
        throw UsageError("--" + option + " must be a number, got '" + *text + "'");
    return v;
}

std::int64_t integerOption(const CommandLine& cl, const std::string& option, std::int64_t fallback)
{
    const auto text = cl.value(option);
    return text ? cl.integer("--" + option, *text) : fallback;
}

std::optional<std::int64_t> optionalInteger(const CommandLine& cl, const std::string& option)
{
    const auto text = cl.value(option);
    if (!text)
        return std::nullopt;
    return cl.integer("--" + option, *text);
}

const OptionSpec kDeviceOption { "device", "DEVICE", "cpu (default) or cuda[:N] with a CUDA LibTorch" };

LoadOptions loadOptions(const CommandLine& cl)
{
    LoadOptions o;
    const std::string device = cl.value("device").value_or("cpu");
    try {
        o.device = at::Device(device);
    } catch (const std::exception&) {
        throw UsageError("--device: unknown device '" + device + "' (cpu, cuda, cuda:1, ...)");
    }
    if (o.device.is_cuda() && !at::hasCUDA())
        throw InputError("--device " + device + ": this LibTorch was built without CUDA or sees no GPU");
    return o;
}

int makeModel(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli make-model --arch llama|mistral|qwen2|qwen3|gpt2 --tokenizer DIR --hidden-size H\n"
                   "                         --num-layers L --num-heads A [--num-kv-heads K] [--intermediate-size I]\n"
                   "                         [--seed S] --out DIR",
        "Writes a randomly initialised model folder in Hugging Face format: config.json with every key\n"
        "transformers needs for the architecture, model.safetensors, and the tokenizer files copied from\n"
        "--tokenizer (its vocabulary size, BOS and EOS set the model's). Tunebench and transformers both\n"
        "load the result; tests and the reference comparison use it instead of downloaded models.",
        {},
        { { "arch", "ARCH", "llama, mistral, qwen2, qwen3 or gpt2", true },
            { "tokenizer", "DIR", "folder with tokenizer.json (or vocab.json + merges.txt)", true },
            { "hidden-size", "H", "hidden size", true }, { "num-layers", "L", "number of layers", true },
            { "num-heads", "A", "attention heads", true },
            { "num-kv-heads", "K", "key/value heads (grouped-query attention; default A)" },
            { "intermediate-size", "I", "MLP size (default 4H)" },
            { "head-dim", "D", "head size (llama, mistral, qwen3; default H/A)" },
            { "sliding-window", "W", "attention window (mistral; qwen2/3: on the upper half of the layers)" },
            { "max-positions", "N", "max_position_embeddings / n_positions" },
            { "rope-scaling", "TYPE",
                "llama3 (factor 8, original context 8192), linear or dynamic (factor 2), yarn (factor 4)" },
            { "tie-word-embeddings", "true|false", "share the embedding with lm_head (default: gpt2, qwen yes)" },
            { "dtype", "DTYPE", "float32 (default), float16 or bfloat16: the stored weights" },
            { "seed", "S", "random seed (default 0)" }, { "out", "DIR", "folder to write (created)", true } });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    RandomModelSpec spec;
    try {
        spec.architecture = architectureFromModelType(cl.required("arch"));
    } catch (const InputError& e) {
        throw UsageError(std::string("--arch: ") + e.what());
    }
    spec.hiddenSize = cl.integer("--hidden-size", cl.required("hidden-size"));
    spec.numLayers = cl.integer("--num-layers", cl.required("num-layers"));
    spec.numHeads = cl.integer("--num-heads", cl.required("num-heads"));
    spec.numKvHeads = optionalInteger(cl, "num-kv-heads");
    spec.intermediateSize = optionalInteger(cl, "intermediate-size");
    spec.headDim = optionalInteger(cl, "head-dim");
    spec.slidingWindow = optionalInteger(cl, "sliding-window");
    spec.maxPositions = optionalInteger(cl, "max-positions");
    if (auto tie = cl.value("tie-word-embeddings")) {
        if (*tie != "true" && *tie != "false")
            throw UsageError("--tie-word-embeddings must be true or false");
        spec.tieWordEmbeddings = *tie == "true";
    }
    if (auto scaling = cl.value("rope-scaling")) {
        if (*scaling == "llama3")
            spec.ropeScaling = { RopeScaling::Type::Llama3, 8.0, 1.0, 4.0, 8192 };
        else if (*scaling == "linear")
            spec.ropeScaling = { RopeScaling::Type::Linear, 2.0 };
        else if (*scaling == "dynamic")
            spec.ropeScaling = { RopeScaling::Type::Dynamic, 2.0 };
        else if (*scaling == "yarn")
            spec.ropeScaling = { RopeScaling::Type::Yarn, 4.0 };
        else if (*scaling != "none")
            throw UsageError("--rope-scaling must be none, llama3, linear, dynamic or yarn");
    }
    if (auto dtype = cl.value("dtype")) {
        if (*dtype == "float16")
            spec.torchDtype = StorageDtype::Float16;
        else if (*dtype == "bfloat16")
            spec.torchDtype = StorageDtype::BFloat16;
        else if (*dtype != "float32")
            throw UsageError("--dtype must be float32, float16 or bfloat16");
    }
    const std::int64_t seed = integerOption(cl, "seed", 0);
    if (seed < 0)
        throw UsageError("--seed must not be negative");

    // The tokenizer files go first, so that OpenAI's older encoder.json + vocab.bpe
    // spelling is read under the names the tokenizer (and transformers) know.
    const std::filesystem::path out = cl.required("out");
    copyTokenizerFiles(cl.required("tokenizer"), out);
    const Tokenizer tokenizer = Tokenizer::fromFolder(out);
    spec.vocabSize = static_cast<std::int64_t>(tokenizer.vocabSize());
    spec.bosTokenId = tokenizer.bosId();
    if (tokenizer.eosId())
        spec.eosTokenIds = { *tokenizer.eosId() };
    spec.padTokenId = tokenizer.padId();
    // GPT-2's vocab.json + merges.txt carry no roles; its convention is
    // <|endoftext|> for both, as GPT2Config's defaults say.
    if (spec.architecture == Architecture::Gpt2 && !tokenizer.eosId()) {
        if (const auto endOfText = tokenizer.tokenToId("<|endoftext|>")) {
            spec.bosTokenId = *endOfText;
            spec.eosTokenIds = { *endOfText };
        }
    }

    const ModelConfig config = randomModelConfig(spec);
    const std::unique_ptr<CausalLM> model = createRandomCausalLM(config, static_cast<std::uint64_t>(seed));
    saveModelFolder(*model, out);
    std::cout << "Wrote a random " << architectureClassName(config.architecture) << " with " << model->parameterCount()
              << " parameters (vocabulary " << config.vocabSize << ") to " << out.string() << "\n";
    return 0;
}

int generateCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli generate --model DIR (--prompt TEXT | --prompt-ids JSON) [--max-new-tokens N]\n"
                   "                       [--temperature T] [--top-p P] [--top-k K] [--seed S] [--stop TEXT] [--json]",
        "Prints the model's continuation of the prompt (encoded with the model folder's tokenizer, special\n"
        "tokens added; or given as token ids: one prompt [1, 2, 3], or several [[1, 2], [3, 4, 5]] generated\n"
        "together, left-padded, one line each). Greedy unless a temperature above 0, --top-p or --top-k is\n"
        "given; sampling is reproducible with --seed. Generation ends at max-new-tokens, an EOS token or the\n"
        "stop text. --json prints a JSON object a prompt instead of the text: prompt_ids, ids (the\n"
        "continuation's token ids, an EOS that ended it included), text and finish_reason (length, eos, stop).",
        {},
        { { "model", "DIR", "a Hugging Face model folder with its tokenizer", true },
            { "prompt", "TEXT", "the text to continue" },
            { "prompt-ids", "JSON", "token ids instead of --prompt: [1, 2, 3], or a list of such prompts" },
            { "max-new-tokens", "N", "tokens to generate at most (default 32)" },
            { "temperature", "T", "sampling temperature; 0 means greedy (default)" },
            { "top-p", "P", "nucleus sampling: keep the most likely tokens up to probability P" },
            { "top-k", "K", "sample among the K most likely tokens" }, { "seed", "S", "sampling seed (default 0)" },
            { "stop", "TEXT", "stop once the continuation contains TEXT" },
            { "json", "", "print the prompt's and the continuation's token ids as JSON, with the text" },
            kDeviceOption });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    if (cl.has("prompt") == cl.has("prompt-ids"))
        throw UsageError("give --prompt TEXT or --prompt-ids JSON (one of them)");
    std::vector<std::vector<std::int32_t>> prompts;
    if (auto text = cl.value("prompt-ids")) {
        const nlohmann::json ids = nlohmann::json::parse(*text, nullptr, false);
        const auto bad = [&]() {
            return UsageError("--prompt-ids must be a non-empty JSON array of token ids, or an array of such "
                              "arrays, got '"
                + *text + "'");
        };
        if (ids.is_discarded() || !ids.is_array() || ids.empty())
            throw bad();
        const bool several = ids[0].is_array();
        for (const auto& prompt : several ? ids : nlohmann::json::array({ ids })) {
            if (!prompt.is_array() || prompt.empty())
                throw bad();
            std::vector<std::int32_t> row;
            for (const auto& id : prompt) {
                if (!id.is_number_integer() || id.get<std::int64_t>() < 0
                    || id.get<std::int64_t>() > std::numeric_limits<std::int32_t>::max())
                    throw UsageError("--prompt-ids: " + id.dump() + " is not a token id");
                row.push_back(id.get<std::int32_t>());
            }
            prompts.push_back(std::move(row));
        }
    }
    const std::filesystem::path dir = cl.required("model");
    const LoadOptions load = loadOptions(cl);
    GenerationOptions o;
    o.maxNewTokens = integerOption(cl, "max-new-tokens", 32);
    if (o.maxNewTokens < 0)
        throw UsageError("--max-new-tokens must not be negative");
    const double temperature = number(cl, "temperature", 0.0);
    if (temperature < 0)
        throw UsageError("--temperature must not be negative");
    o.sample = temperature > 0 || cl.has("top-p") || cl.has("top-k");
    o.sampling.temperature = temperature > 0 ? temperature : 1.0;
    o.sampling.topP = number(cl, "top-p", 1.0);
    o.sampling.topK = integerOption(cl, "top-k", 0);
    const std::int64_t seed = integerOption(cl, "seed", 0);
    if (seed < 0)
        throw UsageError("--seed must not be negative");
    o.seed = static_cast<std::uint64_t>(seed);

    // The model first: its errors (no such folder, pickled weights) say more than a missing tokenizer.
    const std::unique_ptr<CausalLM> model = loadCausalLM(dir, load);
    const Tokenizer tokenizer = Tokenizer::fromFolder(dir);
    for (auto id : model->config().eosTokenIds)
        o.eosTokenIds.push_back(id);
    if (tokenizer.eosId())
        o.eosTokenIds.push_back(*tokenizer.eosId());
    o.padTokenId = tokenizer.padId();
    if (auto stop = cl.value("stop"))
        o.stopStrings = { *stop };
    o.decoder = [&tokenizer](std::span<const std::int32_t> ids) { return tokenizer.decode(ids, true); };

    if (prompts.empty()) {
        std::vector<std::int32_t> ids = tokenizer.encode(cl.required("prompt"), /*addSpecialTokens=*/true);
        if (ids.empty()) {
            if (!tokenizer.bosId())
                throw InputError("the prompt encodes to no tokens and the tokenizer has no BOS token to start from");
            ids.push_back(*tokenizer.bosId());
        }
        prompts.push_back(std::move(ids));
    }
    const std::vector<GeneratedSequence> results = generate(*model, prompts, o);
    for (std::size_t i = 0; i < results.size(); ++i) {
        const GeneratedSequence& result = results[i];
        const std::string text = tokenizer.decode(result.tokens, /*skipSpecialTokens=*/true);
        if (!cl.has("json")) {
            // A terminal would obey escape sequences the model generates; a pipe gets the text as it is.
            std::cout << (stdoutIsTerminal() ? escapeControls(text, true) : text) << "\n";
            continue;
        }
        const char* reason = result.reason == FinishReason::Eos ? "eos"
            : result.reason == FinishReason::StopString         ? "stop"
                                                                : "length";
        const nlohmann::json j
            = { { "prompt_ids", prompts[i] }, { "ids", result.tokens }, { "text", text }, { "finish_reason", reason } };
        // Invalid UTF-8 (a continuation cut inside a character) is replaced rather than refused.
        std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    }
    return 0;
}

// One line of forward's input: token ids, or a batch with its attention mask.
struct ForwardLine {
    std::vector<std::vector<std::int64_t>> ids; // [B][T]
    std::vector<std::vector<std::int64_t>> mask; // empty or [B][T]
    std::vector<std::vector<std::int64_t>> positions; // empty or [B][T]
    bool batch = false; // written as [B, T, ...] rather than [T, ...]
};

std::vector<std::int64_t> integerRow(const nlohmann::json& row, const std::string& where, const std::string& field)
{
    if (!row.is_array() || row.empty())
        throw InputError(where + ": '" + field + "' must hold non-empty arrays of integers, got " + row.dump());
    std::vector<std::int64_t> out;
    for (const auto& v : row) {
        if (!v.is_number_integer())
            throw InputError(where + ": expected token ids (integers) in '" + field + "', got " + v.dump());
        out.push_back(v.get<std::int64_t>());
    }
    return out;
}

// A field of a batch line: [[...], ...] with the rows of input_ids' shape.
std::vector<std::vector<std::int64_t>> integerMatrix(const nlohmann::json& line, const std::string& where,
    const std::string& field, const std::vector<std::vector<std::int64_t>>* shapeOf)
{
    const nlohmann::json& m = line.at(field);
    if (!m.is_array() || m.empty())
        throw InputError(where + ": '" + field + "' must be a non-empty array of rows");
    std::vector<std::vector<std::int64_t>> rows;
    for (const auto& row : m)
        rows.push_back(integerRow(row, where, field));
    const std::size_t width = shapeOf ? (*shapeOf)[0].size() : rows[0].size();
    const std::size_t height = shapeOf ? shapeOf->size() : rows.size();
    if (rows.size() != height)
        throw InputError(where + ": '" + field + "' has " + std::to_string(rows.size()) + " rows, input_ids "
            + std::to_string(height));
    for (std::size_t r = 0; r < rows.size(); ++r) {
        if (rows[r].size() != width)
            throw InputError(where + ": row " + std::to_string(r) + " of '" + field + "' has "
                + std::to_string(rows[r].size()) + " entries, expected " + std::to_string(width)
                + " (pad the rows to one length)");
    }
    return rows;
}

ForwardLine parseForwardLine(const nlohmann::json& line, const std::string& where)
{
    ForwardLine f;
    if (line.is_array()) {
        f.ids.push_back(integerRow(line, where, "ids"));
        return f;
    }
    if (!line.is_object())
        throw InputError(where + ": expected a JSON array of token ids or an object with input_ids and attention_mask");
    for (const auto& [key, value] : line.items()) {
        if (key != "input_ids" && key != "attention_mask" && key != "position_ids")
            throw InputError(where + ": unknown field '" + key + "' (input_ids, attention_mask, position_ids)");
    }
    if (!line.contains("input_ids"))
        throw InputError(where + ": field 'input_ids' is missing");
    f.batch = true;
    f.ids = integerMatrix(line, where, "input_ids", nullptr);
    if (line.contains("attention_mask")) {
        f.mask = integerMatrix(line, where, "attention_mask", &f.ids);
        for (std::size_t r = 0; r < f.mask.size(); ++r) {
            bool any = false;
            for (auto v : f.mask[r]) {
                if (v != 0 && v != 1)
                    throw InputError(where + ": 'attention_mask' holds " + std::to_string(v) + "; expected 0 or 1");
                any = any || v == 1;
            }
            if (!any)
                throw InputError(where + ": row " + std::to_string(r) + " of 'attention_mask' has no token (all 0)");
        }
    }
    if (line.contains("position_ids"))
        f.positions = integerMatrix(line, where, "position_ids", &f.ids);
    return f;
}

at::Tensor matrixTensor(const std::vector<std::vector<std::int64_t>>& rows)
{
    std::vector<std::int64_t> flat;
    for (const auto& r : rows)
        flat.insert(flat.end(), r.begin(), r.end());
    return at::tensor(flat, at::kLong).view({ static_cast<std::int64_t>(rows.size()), -1 });
}

int forwardCommand(const std::vector<std::string>& args)
{
    CommandLine cl("tunebench-cli forward --model DIR --input FILE --out FILE.safetensors [--adapter DIR]",
        "Runs the model on token ids and writes the logits, for comparisons with other\n"
        "implementations (tests/reference/compare_transformers.py, peft_parity.py). FILE has one input per\n"
        "line: a JSON array of token ids, written as logits.i [T, V] (float32) and input_ids.i [T]; or a\n"
        "padded batch {\"input_ids\": [[...], ...], \"attention_mask\": [[...], ...]} (rows of one length,\n"
        "mask 1 for tokens and 0 for padding, left or right; optional \"position_ids\", else positions count\n"
        "the tokens of each row from 0), written as logits.i [B, T, V], input_ids.i and attention_mask.i.\n"
        "Line i is the i-th input, blank lines skipped. --adapter attaches a run's adapter folder\n"
        "(runs/<id>/adapter) or a PEFT adapter folder first.",
        {},
        { { "model", "DIR", "a Hugging Face model folder", true },
            { "input", "FILE", "one input per line: token ids, or a padded batch with its attention mask", true },
            { "out", "FILE", "safetensors file to write", true },
            { "adapter", "DIR", "a run's adapter folder or a PEFT adapter folder to attach" }, kDeviceOption });
    if (!cl.parse(args)) {
        std::cout << cl.help();
        return 0;
    }
    const std::filesystem::path dir = cl.required("model");
    const std::filesystem::path inputPath = cl.required("input");
    const LoadOptions load = loadOptions(cl);
    std::ifstream input(inputPath);
    if (!input)
        throw InputError(inputPath.string() + ": cannot open");
    std::vector<ForwardLine> lines;
    std::vector<int> lineNumbers;
    std::string line;
    for (int lineNumber = 1; std::getline(input, line); ++lineNumber) {
        if (line.find_first_not_of(" \t\r") == std::string::npos)
            continue;
        const std::string where = inputPath.string() + ":" + std::to_string(lineNumber);
        nlohmann::json parsed;
        try {
            parsed = nlohmann::json::parse(line);
        } catch (const nlohmann::json::exception& e) {
            throw InputError(where + ": not valid JSON: " + e.what());
        }
        lines.push_back(parseForwardLine(parsed, where));
        lineNumbers.push_back(lineNumber);
    }
    if (lines.empty())
        throw InputError(inputPath.string() + ": no sequences");

    const std::unique_ptr<CausalLM> model = loadCausalLM(dir, load);
    std::unique_ptr<Adapter> adapter;
    if (auto adapterDir = cl.value("adapter")) {
        if (isPeftFolder(*adapterDir))
            adapter = importPeftAdapter(*adapterDir, *model, defaultPluginRegistry()).attached;
        else
            adapter = loadRunAdapter(*adapterDir, *model, defaultPluginRegistry(), dir);
    }
    c10::InferenceMode inference;
    NamedTensors out;
    for (std::size_t i = 0; i < lines.size(); ++i) {
        const ForwardLine& l = lines[i];
        const at::Tensor ids = matrixTensor(l.ids);
        ForwardInput in;
        in.inputIds = ids.to(model->device());
        if (!l.mask.empty())
            in.attentionMask = matrixTensor(l.mask).to(model->device());
        if (!l.positions.empty())
            in.positionIds = matrixTensor(l.positions).to(model->device());
        at::Tensor logits;
        try {
            logits = model->forward(in).logits.to(at::kCPU, at::kFloat);
        } catch (const InputError& e) {
            throw InputError(inputPath.string() + ":" + std::to_string(lineNumbers[i]) + ": sequence "
                + std::to_string(i + 1) + ": " + e.what());
        }
        const std::string n = std::to_string(i);
        out.emplace_back("logits." + n, l.batch ? logits : logits[0]);
        out.emplace_back("input_ids." + n, l.batch ? ids : ids[0]);
        if (!l.mask.empty())
            out.emplace_back("attention_mask." + n, matrixTensor(l.mask));
    }
    const std::filesystem::path outPath = cl.required("out");
    writeSafetensors(outPath, out, { { "format", "pt" }, { "model", dir.string() } });
    std::cout << "Wrote logits of " << lines.size() << " inputs to " << outPath.string() << "\n";
    return 0;
}

const CommandRegistration kRegistration { {
    { { "make-model" }, "write a random Hugging Face model folder", makeModel },
    { { "generate" }, "continue a prompt with a model", generateCommand },
    { { "forward" }, "write a model's logits for token ids", forwardCommand },
} };

} // namespace

} // namespace tunebench::cli
