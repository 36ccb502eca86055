#include "core/export/sequence_classifier.h"

#include "core/method/adapter_fold.h"
#include "core/model/causal_lm.h"
#include "core/model/config.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "core/util/atomic_file.h"
#include "core/util/error.h"
#include "core/util/json_file.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <optional>
#include <sstream>

namespace fs = std::filesystem;

namespace tunebench {

namespace {

constexpr const char* kHead = "score.weight";

} // namespace

SequenceClassifierExport exportSequenceClassifier(
    const fs::path& baseModel, const fs::path& runDir, const fs::path& out, const PluginRegistry& plugins)
{
    const fs::path headFile = runDir / "objective.safetensors";
    const fs::path adapterDir = runDir / "adapter";
    if (!fs::exists(headFile) || !SafetensorsFile::open(headFile).contains(kHead))
        throw InputError(runDir.string() + ": the run was not trained with objective reward_model (" + headFile.string()
            + " holds no " + kHead + "); a sequence-classification export needs its scalar head");
    SequenceClassifierExport result;
    std::unique_ptr<CausalLM> model = loadCausalLM(baseModel);
    const ModelConfig& config = model->config();
    if (config.architecture == Architecture::Gpt2)
        throw InputError(baseModel.string()
            + ": GPT-2 reward models cannot be exported as a sequence-classification folder (Llama, Mistral, Qwen2 "
              "and Qwen3 can)");
    std::unique_ptr<Adapter> adapter = loadRunAdapter(adapterDir, *model, plugins, baseModel);
    foldAdapterIntoWeights(*adapter, *model, adapterDir.string() + ": this run's adapter",
        "a sequence-classification folder holds weights only");
    result.adapter = RunAdapterFiles::read(adapterDir).adapter;

    const at::Tensor head = SafetensorsFile::open(headFile).tensor(kHead);
    if (head.dim() != 2 || head.size(0) != 1 || head.size(1) != config.hiddenSize)
        throw InputError(headFile.string() + ": " + kHead + " has shape " + c10::str(head.sizes()) + ", expected [1, "
            + std::to_string(config.hiddenSize) + "]");

    // The base model's own config.json, so every key it has survives; the classifier's keys on top.
    nlohmann::json json = readJsonFile(baseModel / "config.json");
    std::string base(architectureClassName(config.architecture));
    const std::string causal = "ForCausalLM";
    if (base.size() > causal.size() && base.compare(base.size() - causal.size(), causal.size(), causal) == 0)
        base.resize(base.size() - causal.size());
    result.architecture = base + "ForSequenceClassification";
    json["architectures"] = { result.architecture };
    json["num_labels"] = 1;
    json["id2label"] = { { "0", "LABEL_0" } };
    json["label2id"] = { { "LABEL_0", 0 } };
    json.erase("problem_type"); // single_label_classification / regression: transformers infers regression for 1
    std::optional<std::int64_t> pad = config.padTokenId;
    if (!pad) {
        const Tokenizer tokenizer = Tokenizer::fromFolder(baseModel);
        if (const auto id = tokenizer.padId())
            pad = *id;
        else if (!config.eosTokenIds.empty())
            pad = config.eosTokenIds.front();
        else if (const auto eos = tokenizer.eosId())
            pad = *eos;
    }
    if (!pad)
        throw InputError(baseModel.string()
            + ": neither config.json nor the tokenizer names a padding or EOS token, "
              "which transformers' sequence classifier needs (pad_token_id)");
    result.padTokenId = *pad;
    json["pad_token_id"] = *pad;

    fs::create_directories(out);
    writeFileAtomically(out / "config.json", json.dump(2) + "\n");
    const at::ScalarType storage = scalarTypeOf(config.torchDtype);
    NamedTensors tensors;
    for (const auto& [name, tensor] : model->namedParameters()) {
        if (name != "lm_head.weight") // a sequence classifier has no vocabulary projection
            tensors.emplace_back(name, tensor.detach().to(at::kCPU, storage));
    }
    tensors.emplace_back(kHead, head.to(at::kCPU, storage));
    writeSafetensors(out / "model.safetensors", tensors, { { "format", "pt" } });
    copyTokenizerFiles(baseModel, out);
    return result;
}

} // namespace tunebench
