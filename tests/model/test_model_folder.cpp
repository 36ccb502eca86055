// Model folders: pickle refusal, missing/unexpected/wrong tensors reported by
// name, sharded indexes, stored dtypes, GPT-2's unprefixed names, tokenizer
// files, and generation with the real tokenizer's decode for stop strings.

#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_weights.h"
#include "core/model/model_writer.h"
#include "core/model/safetensors.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"

#include "model_test_support.h"

#include <QtTest>

#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

namespace {

QString errorOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromStdString(e.what());
    }
    return {};
}

fs::path pathOf(const QTemporaryDir& dir)
{
    return QFile::encodeName(dir.path()).toStdString();
}

// Rewrites dir/model.safetensors through edit(tensors).
void editWeights(const fs::path& dir, const std::function<void(NamedTensors&)>& edit)
{
    NamedTensors tensors;
    for (auto& [name, t] : SafetensorsFile::open(dir / "model.safetensors").tensors())
        tensors.emplace_back(name, t.clone());
    edit(tensors);
    writeSafetensors(dir / "model.safetensors", tensors, { { "format", "pt" } });
}

at::Tensor logitsOf(const CausalLM& model, const at::Tensor& ids)
{
    ForwardInput in;
    in.inputIds = ids;
    return model.forward(in).logits;
}

} // namespace

class TestModelFolder : public QObject {
    Q_OBJECT

    static ModelConfig llamaConfig() { return model_test::architectureConfigs()[0].second; }

    // A saved random llama in dir; returns the model.
    static std::unique_ptr<CausalLM> saveLlama(const fs::path& dir)
    {
        auto model = createRandomCausalLM(llamaConfig(), 5);
        saveModelFolder(*model, dir);
        return model;
    }

private Q_SLOTS:
    void pickleOnlyFolderIsRefused()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        saveLlama(dir);
        fs::remove(dir / "model.safetensors");
        std::ofstream(dir / "pytorch_model.bin") << "not really a pickle";
        const QString error = errorOf([&] { loadCausalLM(dir); });
        QVERIFY2(error.contains("only pickled PyTorch weights (pytorch_model.bin)"), qPrintable(error));
        QVERIFY(error.contains("unpickling runs whatever code"));
        QVERIFY(error.contains("save_pretrained("));
        QVERIFY(error.contains("safe_serialization=True"));
        QVERIFY(error.contains(QString::fromStdString(dir.string())));
        // With safetensors beside the pickle, the safetensors are used.
        saveLlama(dir);
        QVERIFY(loadCausalLM(dir) != nullptr);
        fs::remove(dir / "model.safetensors");
        fs::remove(dir / "pytorch_model.bin");
        std::ofstream(dir / "consolidated.pth") << "x";
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("(consolidated.pth)"));
        fs::remove(dir / "consolidated.pth");
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("no model weights"));
        QVERIFY(errorOf([&] { loadCausalLM(dir / "absent"); }).contains("not a model folder"));
    }

    void tensorsReportedByName()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        saveLlama(dir);
        editWeights(dir, [](NamedTensors& t) {
            std::erase_if(t, [](const auto& p) {
                return p.first == "model.layers.1.mlp.up_proj.weight" || p.first == "model.norm.weight";
            });
            t.emplace_back("model.layers.0.self_attn.extra.weight", at::ones({ 2 }));
            for (auto& [name, tensor] : t) {
                if (name == "model.layers.0.self_attn.q_proj.bias")
                    tensor = at::zeros({ 5 });
            }
        });
        const QString error = errorOf([&] { loadCausalLM(dir); });
        QVERIFY2(error.contains("missing tensors (2):"), qPrintable(error));
        QVERIFY(error.contains("model.layers.1.mlp.up_proj.weight"));
        QVERIFY(error.contains("model.norm.weight"));
        QVERIFY(error.contains("unexpected tensors, which LlamaForCausalLM does not use (1):"));
        QVERIFY(error.contains("model.layers.0.self_attn.extra.weight"));
        QVERIFY(error.contains("model.layers.0.self_attn.q_proj.bias in model.safetensors has shape [5], the config "
                               "expects [32]"));
    }

    void toleratedAndAllowedExtras()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        const auto model = saveLlama(dir);
        editWeights(dir, [](NamedTensors& t) {
            // A buffer older transformers versions saved; ignored as transformers ignores it.
            t.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", at::ones({ 4 }));
        });
        const at::Tensor ids = model_test::randomIds(1, 5, 1);
        QVERIFY(at::equal(logitsOf(*loadCausalLM(dir), ids), logitsOf(*model, ids)));
        editWeights(dir, [](NamedTensors& t) { t.emplace_back("vision_tower.weight", at::ones({ 4 })); });
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("vision_tower.weight"));
        LoadOptions lenient;
        lenient.allowUnexpectedTensors = true;
        QVERIFY(loadCausalLM(dir, lenient) != nullptr);
    }

    void storedDtypes()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        ModelConfig config = llamaConfig();
        config.torchDtype = StorageDtype::BFloat16;
        const auto model = createRandomCausalLM(config, 8);
        saveModelFolder(*model, dir);
        QCOMPARE(
            SafetensorsFile::open(dir / "model.safetensors").tensor("model.norm.weight").scalar_type(), at::kBFloat16);
        // Computed in float32 on the CPU, from the bf16-rounded weights.
        const auto loaded = loadCausalLM(dir);
        QCOMPARE(loaded->dtype(), at::kFloat);
        QVERIFY(at::equal(loaded->parameter("model.norm.weight"),
            model->parameter("model.norm.weight").to(at::kBFloat16).to(at::kFloat)));
        // Asked for bf16, it computes in bf16, close to the float32 result.
        LoadOptions bf16;
        bf16.dtype = at::kBFloat16;
        const auto half = loadCausalLM(dir, bf16);
        QCOMPARE(half->dtype(), at::kBFloat16);
        const at::Tensor ids = model_test::randomIds(1, 6, 2);
        const double diff = model_test::maxAbsDiff(logitsOf(*half, ids), logitsOf(*loaded, ids));
        qInfo("bf16 vs float32 logits: max diff %.3g", diff);
        QVERIFY(diff < 0.5);
    }

    void gpt2WithoutPrefix()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        const ModelConfig config = model_test::architectureConfigs().back().second;
        const auto model = createRandomCausalLM(config, 9);
        saveModelFolder(*model, dir);
        // The original GPT-2 checkpoints name the base model's tensors "h.0...", "wte.weight".
        editWeights(dir, [](NamedTensors& t) {
            for (auto& [name, tensor] : t)
                name = name.substr(std::string("transformer.").size());
            t.emplace_back("h.0.attn.bias", at::ones({ 1, 1, 4, 4 })); // GPT-2's causal-mask buffer
        });
        const at::Tensor ids = model_test::randomIds(1, 6, 3);
        QVERIFY(at::equal(logitsOf(*loadCausalLM(dir), ids), logitsOf(*model, ids)));
    }

    void shardedIndexErrors()
    {
        QTemporaryDir tmp;
        const fs::path dir = pathOf(tmp);
        const auto model = createRandomCausalLM(llamaConfig(), 10);
        saveModelFolder(*model, dir, 16'000);
        const fs::path index = dir / "model.safetensors.index.json";
        nlohmann::json j;
        std::ifstream(index) >> j;
        const std::string firstShard = j["weight_map"]["model.embed_tokens.weight"];
        auto writeIndex = [&](const nlohmann::json& value) { std::ofstream(index) << value.dump(); };

        nlohmann::json escaping = j;
        escaping["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
        writeIndex(escaping);
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("not a plain file name"));

        nlohmann::json missing = j;
        missing["weight_map"]["model.norm.weight"] = "model-00009-of-00009.safetensors";
        writeIndex(missing);
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("is missing from the folder"));

        nlohmann::json wrongFile = j;
        wrongFile["weight_map"]["model.norm.weight"] = firstShard == j["weight_map"]["model.norm.weight"]
            ? j["weight_map"]["lm_head.weight"]
            : nlohmann::json(firstShard);
        writeIndex(wrongFile);
        const QString wrong = errorOf([&] { loadCausalLM(dir); });
        QVERIFY2(wrong.contains("weight_map says 'model.norm.weight' is in"), qPrintable(wrong));

        writeIndex(nlohmann::json { { "weight_map", 3 } });
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("'weight_map' must be an object"));
        std::ofstream(index) << "{";
        QVERIFY(errorOf([&] { loadCausalLM(dir); }).contains("not valid JSON"));

        writeIndex(j);
        const ModelWeights weights = ModelWeights::open(dir);
        QVERIFY(weights.files().size() >= 2);
        QCOMPARE(weights.names().size(), model->parameterNames().size());
    }

    void tokenizerFilesAndRealDecode()
    {
        QTemporaryDir tmp;
        const fs::path root = pathOf(tmp);
        model_test::writeTinyTokenizer(root / "tok");
        const Tokenizer tokenizer = Tokenizer::fromFolder(root / "tok");
        QCOMPARE(static_cast<std::int64_t>(tokenizer.vocabSize()), model_test::kTinyTokenizerVocab);
        QCOMPARE(tokenizer.eosId(), std::optional<std::int32_t>(model_test::kTinyTokenizerEos));

        RandomModelSpec spec;
        spec.architecture = Architecture::Qwen3;
        spec.vocabSize = static_cast<std::int64_t>(tokenizer.vocabSize());
        spec.hiddenSize = 32;
        spec.numLayers = 2;
        spec.numHeads = 2;
        spec.eosTokenIds = { *tokenizer.eosId() };
        const auto model = createRandomCausalLM(randomModelConfig(spec), 11);
        saveModelFolder(*model, root / "model");
        const auto copied = copyTokenizerFiles(root / "tok", root / "model");
        QCOMPARE(copied, (std::vector<std::string> { "tokenizer.json", "tokenizer_config.json" }));
        const Tokenizer reloaded = Tokenizer::fromFolder(root / "model");
        QCOMPARE(reloaded.encode("the cat"), tokenizer.encode("the cat"));

        // Greedy text, then a stop string taken from its middle, through the real decode.
        const auto prompt = tokenizer.encode("the interesting part");
        GenerationOptions o;
        o.maxNewTokens = 24;
        const auto free = generate(*model, { prompt }, o)[0].tokens;
        o.decoder = [&](std::span<const std::int32_t> ids) { return tokenizer.decode(ids, true); };
        const std::string text = o.decoder(free);
        QVERIFY(text.size() >= 6);
        std::size_t keep = 1;
        while (o.decoder(std::span(free.data(), keep)).size() < 4)
            ++keep;
        const std::string fullPrefix = o.decoder(std::span(free.data(), keep));
        o.stopStrings = { fullPrefix.substr(fullPrefix.size() - 3) };
        const GeneratedSequence stopped = generate(*model, { prompt }, o)[0];
        QCOMPARE(stopped.reason, FinishReason::StopString);
        QVERIFY(stopped.tokens.size() <= keep);
        QVERIFY(o.decoder(stopped.tokens).find(o.stopStrings[0]) != std::string::npos);
        QCOMPARE(
            std::vector<std::int32_t>(free.begin(), free.begin() + static_cast<std::ptrdiff_t>(stopped.tokens.size())),
            stopped.tokens);

        // OpenAI's older GPT-2 spelling (encoder.json + vocab.bpe) becomes vocab.json + merges.txt.
        fs::create_directories(root / "openai");
        std::ofstream(root / "openai" / "encoder.json") << "{\"a\": 0}";
        std::ofstream(root / "openai" / "vocab.bpe") << "#version: 0.2\n";
        QCOMPARE(
            copyTokenizerFiles(root / "openai", root / "out"), (std::vector<std::string> { "vocab.json", "merges.txt" }));
        QVERIFY(fs::exists(root / "out" / "merges.txt"));
        fs::create_directories(root / "nothing");
        QVERIFY(errorOf([&] { copyTokenizerFiles(root / "nothing", root / "out2"); }).contains("no tokenizer files"));
    }
};

QTEST_GUILESS_MAIN(TestModelFolder)
#include "test_model_folder.moc"
