// core/train/run_estimate: the model folder check (facts, chat template through ChatTemplate, errors naming the
// file), the trainable count against what runTraining reports for the same configuration, the objective's flags,
// and the memory formula of docs/architecture.md against numbers worked out by hand, at cutoff_len and at the
// sequence length a dataset's token lengths give.

#include "core/method/plugin_registry.h"
#include "core/model/model_writer.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_estimate.h"
#include "core/train/train_config.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// writeTinyModelFolder's Llama: vocabulary 264, hidden 32, 2 layers, 4 heads (2 key/value heads of 8), MLP 64,
// untied. Per layer q 32x32 + k 32x16 + v 32x16 + o 32x32 + gate, up, down 3 x 32x64 + two norms of 32 = 9280;
// embeddings and lm_head 264x32 each, the final norm 32: 2 x 9280 + 2 x 8448 + 32.
constexpr std::int64_t kTinyParameters = 35488;
constexpr std::int64_t kTinyTiedParameters = kTinyParameters - 8448;

template <typename F> QString errorOf(F&& f)
{
    try {
        f();
    } catch (const std::exception& e) {
        return QString::fromUtf8(e.what());
    }
    return QStringLiteral("no error");
}

void writeText(const fs::path& file, const std::string& text)
{
    std::ofstream(file, std::ios::binary) << text;
}

ModelConfig tinyConfig()
{
    ModelConfig c;
    c.hiddenSize = 32;
    c.intermediateSize = 64;
    c.numLayers = 2;
    c.numHeads = 4;
    c.numKvHeads = 2;
    c.vocabSize = 264;
    return c;
}

} // namespace

class TestRunEstimate : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    PluginRegistry m_plugins;

    fs::path scratch(const char* name) const { return fs::path(m_dir.path().toStdString()) / name; }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = scratch("model");
        model_test::writeTinyModelFolder(m_model, 3);
        m_data = scratch("data.jsonl");
        std::ofstream out(m_data);
        for (const char* line : { "the cat sat on the mat", "the dog ran in the park", "a bird sang", "the sun" })
            out << json({ { "text", line } }).dump() << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY2(m_plugins.find(PluginKind::Adapter, "lora"), "the built-in plugins were not found");
    }

    void modelFolderFacts_data()
    {
        QTest::addColumn<bool>("tied");
        QTest::addColumn<std::uintmax_t>("loadLimit");
        QTest::addColumn<std::int64_t>("parameters");
        QTest::newRow("loaded") << false << kEstimateLoadLimitBytes << kTinyParameters;
        QTest::newRow("from the headers") << false << std::uintmax_t(0) << kTinyParameters;
        QTest::newRow("tied, loaded") << true << kEstimateLoadLimitBytes << kTinyTiedParameters;
        QTest::newRow("tied, from the headers") << true << std::uintmax_t(0) << kTinyTiedParameters;
    }

    void modelFolderFacts()
    {
        QFETCH(bool, tied);
        QFETCH(std::uintmax_t, loadLimit);
        QFETCH(std::int64_t, parameters);
        const fs::path dir = scratch(tied ? "tied" : "untied");
        if (!fs::exists(dir)) {
            model_test::writeTinyTokenizer(dir);
            RandomModelSpec spec = model_test::tinyFolderSpec();
            spec.tieWordEmbeddings = tied;
            saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 5), dir);
        }
        const ModelFolderFacts facts = inspectModelFolder(dir, loadLimit);
        QCOMPARE(facts.parameters, parameters);
        QCOMPARE(facts.loadable, loadLimit > 0);
        QVERIFY(facts.weightFileBytes >= std::uintmax_t(parameters) * 4); // float32
        QVERIFY(facts.config.architecture == Architecture::Llama);
        QVERIFY(facts.config.torchDtype == StorageDtype::Float32);
        QCOMPARE(facts.config.vocabSize, std::int64_t(264));
        QCOMPARE(facts.config.numLayers, std::int64_t(2));
        QCOMPARE(facts.config.numKvHeads, std::int64_t(2));
        QVERIFY(!facts.chatTemplate);
    }

    void chatTemplateFromTheTemplateReader_data()
    {
        QTest::addColumn<QString>("config"); // tokenizer_config.json; empty: as writeTinyTokenizer wrote it
        QTest::addColumn<QString>("jinja"); // chat_template.jinja; empty: none
        QTest::addColumn<bool>("present");
        const QString tokens = QStringLiteral(R"("bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>")");
        QTest::newRow("none") << QString() << QString() << false;
        QTest::newRow("string") << "{" + tokens + R"(, "chat_template": "{{ messages[0].content }}"})" << QString()
                                << true;
        QTest::newRow("named list") << "{" + tokens
                + R"(, "chat_template": [{"name": "default", "template": "{{ bos_token }}"}]})"
                                    << QString() << true;
        QTest::newRow("chat_template.jinja") << QString() << QStringLiteral("{{ messages|length }}") << true;
        // The name in a string or set to null is no template (a text search for "chat_template" would say one).
        QTest::newRow("null, named elsewhere")
            << "{" + tokens + ", \"chat_template\": null, \"comment\": \"\\\"chat_template\\\" comes later\"}"
            << QString() << false;
    }

    void chatTemplateFromTheTemplateReader()
    {
        QFETCH(QString, config);
        QFETCH(QString, jinja);
        QFETCH(bool, present);
        const fs::path dir = scratch("chat");
        fs::remove_all(dir);
        model_test::writeTinyModelFolder(dir, 3);
        if (!config.isEmpty())
            writeText(dir / "tokenizer_config.json", config.toStdString());
        if (!jinja.isEmpty())
            writeText(dir / "chat_template.jinja", jinja.toStdString());
        QCOMPARE(inspectModelFolder(dir).chatTemplate, present);
    }

    void folderErrorsNameTheFile_data()
    {
        QTest::addColumn<QString>("breakage");
        QTest::addColumn<QString>("message"); // "DIR" stands for the folder
        QTest::newRow("no folder") << "remove"
                                   << "DIR: not a folder";
        QTest::newRow("config.json") << "config"
                                     << "DIR/config.json";
        QTest::newRow("no tokenizer") << "tokenizer"
                                      << "DIR: no tokenizer found";
        QTest::newRow("template does not parse") << "template"
                                                 << "DIR/tokenizer_config.json chat_template:1:";
    }

    void folderErrorsNameTheFile()
    {
        QFETCH(QString, breakage);
        QFETCH(QString, message);
        const fs::path dir = scratch("broken");
        fs::remove_all(dir);
        model_test::writeTinyModelFolder(dir, 3);
        if (breakage == "remove")
            fs::remove_all(dir);
        else if (breakage == "config")
            writeText(dir / "config.json", R"({"model_type": "llama", "vocab_size": 10})");
        else if (breakage == "tokenizer")
            fs::remove(dir / "tokenizer.json");
        else if (breakage == "template")
            writeText(dir / "tokenizer_config.json", R"({"chat_template": "{% include 'x' %}"})");
        const QString error = errorOf([&] { inspectModelFolder(dir); });
        const QString expected = message.replace("DIR", QString::fromStdString(dir.string()));
        QVERIFY2(error.contains(expected), qPrintable(error + " does not contain " + expected));
    }

    void trainableCountIsWhatTrainingReports_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("params");
        QTest::addColumn<std::int64_t>("expected"); // 0: as training reports, not worked out here
        // LoRA r 6 on q, v, o: (6x32 + 32x6) + (6x32 + 16x6) + (6x32 + 32x6) per layer.
        QTest::newRow("lora") << "lora"
                              << R"({"r": 6, "target_modules": ["q_proj", "v_proj", "o_proj"]})"
                              << std::int64_t(2 * (384 + 288 + 384));
        QTest::newRow("full") << "full"
                              << "{}" << kTinyParameters;
        QTest::newRow("dora") << "dora"
                              << R"({"r": 4})" << std::int64_t(0);
        QTest::newRow("ia3") << "ia3"
                             << "{}" << std::int64_t(0);
        QTest::newRow("freeze") << "freeze"
                                << "{}" << std::int64_t(0);
        QTest::newRow("hft") << "hft"
                             << "{}" << std::int64_t(0); // which half trains depends on the seed
        // 5 virtual tokens of width 32, initialised from text through the model's tokenizer.
        QTest::newRow("prompt tuning from text")
            << "prompt_tuning"
            << R"({"num_virtual_tokens": 5, "prompt_tuning_init": "text", "prompt_tuning_init_text": "the cat"})"
            << std::int64_t(5 * 32);
        QTest::newRow("prefix tuning") << "prefix_tuning"
                                       << R"({"num_virtual_tokens": 3})" << std::int64_t(0);
    }

    void trainableCountIsWhatTrainingReports()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, params);
        QFETCH(std::int64_t, expected);
        json config = json::parse(params.toStdString());
        config["model"] = m_model.string();
        config["dataset"] = m_data.string();
        config["adapter"] = adapter.toStdString();
        config["max_steps"] = 1;
        config["per_device_train_batch_size"] = 2;
        config["cutoff_len"] = 16;
        config["threads"] = 1;
        config["seed"] = 11;
        const TrainConfig c = TrainConfig::fromJson(config, m_plugins, "test config");

        const ModelFolderFacts facts = inspectModelFolder(m_model);
        MethodChoice method;
        method.adapter = c.adapter;
        method.adapterParams = json::parse(params.toStdString()); // as a form gives them: not yet resolved
        method.objective = c.objective;
        method.seed = c.seed;
        const TrainableCount count = countTrainable(m_model, facts, method, m_plugins);

        QTemporaryDir runDir;
        TrainerOptions options;
        options.runDir = runDir.path().toStdString();
        const TrainResult trained = runTraining(c, m_plugins, options);
        QCOMPARE(count.trainable, trained.trainableParameters);
        QCOMPARE(count.total, trained.totalParameters);
        if (expected > 0)
            QCOMPARE(count.trainable, expected);
        QVERIFY(count.trainable > 0 && count.trainable <= count.total);
    }

    void objectiveFlags_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("objective");
        QTest::addColumn<bool>("needsReference");
        QTest::addColumn<bool>("pairwise");
        QTest::addColumn<bool>("canDisable");
        QTest::newRow("lora sft") << "lora"
                                  << "sft" << false << false << true;
        QTest::newRow("lora dpo") << "lora"
                                  << "dpo" << true << true << true;
        QTest::newRow("full dpo") << "full"
                                  << "dpo" << true << true << false;
        QTest::newRow("lora kto") << "lora"
                                  << "kto" << true << false << true; // unpaired: one sequence each
    }

    void objectiveFlags()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, objective);
        QFETCH(bool, needsReference);
        QFETCH(bool, pairwise);
        QFETCH(bool, canDisable);
        MethodChoice method;
        method.adapter = adapter.toStdString();
        method.objective = objective.toStdString();
        const TrainableCount count = countTrainable(m_model, inspectModelFolder(m_model), method, m_plugins);
        QCOMPARE(count.objectiveNeedsReference, needsReference);
        QCOMPARE(count.pairwise, pairwise);
        QCOMPARE(count.adapterCanDisable, canDisable);
        MemorySettings settings;
        QCOMPARE(needsReferenceCopy(count, settings), needsReference && !canDisable);
        settings.precomputeRefLogProbs = true;
        QVERIFY(!needsReferenceCopy(count, settings));
    }

    // distill's teacher is counted from its folder's headers: its weights and its logits for the batch; a teacher
    // folder that does not load is an error naming it.
    void teacherOfDistillation()
    {
        MethodChoice method;
        method.adapter = "lora";
        method.objective = "distill";
        method.objectiveParams = { { "teacher", m_model.string() } };
        const TrainableCount count = countTrainable(m_model, inspectModelFolder(m_model), method, m_plugins);
        QCOMPARE(count.teacherParameters, kTinyParameters);
        MemorySettings settings;
        settings.batchSize = 4;
        settings.cutoffLen = 64;
        const MemoryEstimate m = estimateMemory(tinyConfig(), count, settings);
        QCOMPARE(m.teacher, 35488.0 * 4 + 256.0 * 264 * 4);
        QCOMPARE(m.total(), m.weights + m.gradients + m.optimizer + m.reference + m.activations + m.teacher);
        method.objective = "sft";
        method.objectiveParams = nlohmann::json::object();
        QCOMPARE(
            countTrainable(m_model, inspectModelFolder(m_model), method, m_plugins).teacherParameters, std::int64_t(0));
        method.objective = "distill";
        method.objectiveParams = { { "teacher", (m_model.parent_path() / "no-such-teacher").string() } };
        const QString error = errorOf([&] { countTrainable(m_model, inspectModelFolder(m_model), method, m_plugins); });
        QVERIFY2(error.contains("no-such-teacher"), qPrintable(error));
    }

    void methodErrorsNameTheField_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("params");
        QTest::addColumn<std::uintmax_t>("loadLimit");
        QTest::addColumn<QString>("message");
        QTest::newRow("out of range") << "lora"
                                      << R"({"r": 0})" << kEstimateLoadLimitBytes << "adapter lora: field 'r'";
        QTest::newRow("unknown plugin") << "nope"
                                        << "{}" << kEstimateLoadLimitBytes << "nope";
        QTest::newRow("module the model lacks")
            << "lora"
            << R"({"target_modules": ["c_attn"]})" << kEstimateLoadLimitBytes << "c_attn";
        QTest::newRow("too large to load") << "lora"
                                           << "{}" << std::uintmax_t(0) << "adapter 'lora'";
    }

    void methodErrorsNameTheField()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, params);
        QFETCH(std::uintmax_t, loadLimit);
        QFETCH(QString, message);
        MethodChoice method;
        method.adapter = adapter.toStdString();
        method.adapterParams = json::parse(params.toStdString());
        method.objective = "sft";
        const ModelFolderFacts facts = inspectModelFolder(m_model, loadLimit);
        const QString error = errorOf([&] { countTrainable(m_model, facts, method, m_plugins); });
        QVERIFY2(error.contains(message), qPrintable(error));
    }

    void fullOnAFolderTooLargeToLoad()
    {
        MethodChoice method;
        method.adapter = "full";
        method.objective = "sft";
        const TrainableCount count = countTrainable(m_model, inspectModelFolder(m_model, 0), method, m_plugins);
        QCOMPARE(count.trainable, kTinyParameters);
        QCOMPARE(count.total, kTinyParameters);
        QVERIFY(!count.adapterCanDisable);
    }

    void memoryFormula_data()
    {
        QTest::addColumn<QString>("optim");
        QTest::addColumn<double>("momentum");
        QTest::addColumn<bool>("pairwise");
        QTest::addColumn<bool>("referenceCopy");
        QTest::addColumn<double>("optimizer");
        QTest::addColumn<double>("reference");
        QTest::addColumn<double>("activations");
        // P = 35488, T = 2112, batch 4, S = 64 on the tiny model (H 32, I 64, L 2, 4 heads, V 264):
        // activations N·S·(L·(8H + 3I) + 3V)·4 + N·(L + 1)·heads·S²·2·4 = 4·64·1688·4 + 4·3·4·4096·8 = 3301376.
        QTest::newRow("adamw") << "adamw_torch" << 0.0 << false << false << 2112.0 * 8 << 0.0 << 3301376.0;
        QTest::newRow("sgd") << "sgd" << 0.0 << false << false << 0.0 << 0.0 << 3301376.0;
        QTest::newRow("sgd momentum") << "sgd" << 0.9 << false << false << 2112.0 * 4 << 0.0 << 3301376.0;
        // MeZO: no gradients, no optimiser state; forward only, so one layer's activations (no factor L, and the
        // scores once) and the logits once: 4·64·(8H + 3I + V)·4 + 4·heads·S²·4 = 729088 + 262144.
        QTest::newRow("mezo") << "mezo" << 0.0 << false << false << 0.0 << 0.0 << 991232.0;
        QTest::newRow("pairs with a reference copy")
            << "adamw_torch" << 0.0 << true << true << 2112.0 * 8 << 35488.0 * 4 << 2.0 * 3301376.0;
    }

    void memoryFormula()
    {
        QFETCH(QString, optim);
        QFETCH(double, momentum);
        QFETCH(bool, pairwise);
        QFETCH(bool, referenceCopy);
        QFETCH(double, optimizer);
        QFETCH(double, reference);
        QFETCH(double, activations);
        TrainableCount count;
        count.total = kTinyParameters;
        count.trainable = 2112;
        count.pairwise = pairwise;
        count.objectiveNeedsReference = referenceCopy;
        count.adapterCanDisable = !referenceCopy;
        MemorySettings settings;
        settings.batchSize = 4;
        settings.cutoffLen = 64;
        settings.optim = optim.toStdString();
        settings.sgdMomentum = momentum;
        const MemoryEstimate m = estimateMemory(tinyConfig(), count, settings);
        QCOMPARE(m.weights, 35488.0 * 4);
        QCOMPARE(m.gradients, optim == "mezo" ? 0.0 : 2112.0 * 4);
        QCOMPARE(m.optimizer, optimizer);
        QCOMPARE(m.reference, reference);
        QCOMPARE(m.activations, activations);
        QCOMPARE(m.total(), m.weights + m.gradients + m.optimizer + m.reference + m.activations);
    }

    // gradient_checkpointing keeps each layer's input and one layer's activations; a chunked loss one chunk's
    // logits and the hidden states' gradient. Tiny model, batch 4, S = 64 (256 tokens): one layer's activations
    // 256·(8H + 3I)·4 + 4·heads·S²·2·4 = 983040; attention's gradients in backward 4·heads·S²·2·4 = 524288;
    // logits, log-probabilities and their gradient 256·3V·4 = 811008.
    void memorySavers_data()
    {
        QTest::addColumn<bool>("checkpointing");
        QTest::addColumn<qint64>("chunk");
        QTest::addColumn<double>("activations");
        QTest::newRow("neither") << false << qint64(-1) << 3301376.0;
        QTest::newRow("checkpointing: L·256·H·4 + one layer + logits")
            << true << qint64(-1) << 2.0 * 256 * 32 * 4 + 983040 + 524288 + 811008;
        QTest::newRow("chunks of 16: 16·2V·4 + 256·H·4")
            << false << qint64(16) << 2.0 * 983040 + 524288 + 33792 + 32768;
        QTest::newRow("both") << true << qint64(16) << 65536.0 + 983040 + 524288 + 33792 + 32768;
        QTest::newRow("automatic chunk larger than the batch") << false << qint64(0) << 3301376.0;
    }

    void memorySavers()
    {
        QFETCH(bool, checkpointing);
        QFETCH(qint64, chunk);
        QFETCH(double, activations);
        TrainableCount count;
        count.total = kTinyParameters;
        count.trainable = 2112;
        MemorySettings settings;
        settings.batchSize = 4;
        settings.cutoffLen = 64;
        settings.gradientCheckpointing = checkpointing;
        settings.lossChunkTokens = chunk;
        QCOMPARE(estimateMemory(tinyConfig(), count, settings).activations, activations);
    }

    void lossChunkOfObjectives()
    {
        QCOMPARE(MemorySettings::lossChunkFor("sft", nlohmann::json::object()), std::int64_t(0));
        QCOMPARE(MemorySettings::lossChunkFor("sft", { { "loss_chunk_tokens", 512 } }), std::int64_t(512));
        QCOMPARE(MemorySettings::lossChunkFor("dpo", { { "loss_chunk_tokens", 512 } }), std::int64_t(-1));
    }

    // Activations follow the dataset's lengths, not cutoff_len: a dataset of short examples on a long cutoff_len
    // was estimated as if every example filled it.
    void sequenceLengthFromDataset_data()
    {
        QTest::addColumn<QList<qint64>>("lengths");
        QTest::addColumn<bool>("packing");
        QTest::addColumn<qint64>("tokens");
        QTest::addColumn<int>("basis");
        QTest::addColumn<double>("activations");
        using Basis = EstimateSequenceLength::Basis;
        // Tiny model, batch 4, cutoff_len 64: activations 4·S·1688·4 + 4·3·4·S²·2·4 = 27008·S + 384·S².
        QTest::newRow("no dataset: cutoff_len")
            << QList<qint64> {} << false << qint64(64) << int(Basis::CutoffLen) << 3301376.0;
        QTest::newRow("the longest example") << QList<qint64> { 10, 40, 25 } << false << qint64(40)
                                             << int(Basis::LongestExample) << 27008.0 * 40 + 384.0 * 1600;
        QTest::newRow("longer than cutoff_len: cut")
            << QList<qint64> { 10, 90, 25 } << false << qint64(64) << int(Basis::LongestExample) << 3301376.0;
        QTest::newRow("packing fills the rows")
            << QList<qint64> { 10, 40, 25 } << true << qint64(64) << int(Basis::Packed) << 3301376.0;
        QTest::newRow("packing, fewer tokens than a row")
            << QList<qint64> { 3, 4 } << true << qint64(7) << int(Basis::Packed) << 27008.0 * 7 + 384.0 * 49;
    }

    void sequenceLengthFromDataset()
    {
        QFETCH(QList<qint64>, lengths);
        QFETCH(bool, packing);
        QFETCH(qint64, tokens);
        QFETCH(int, basis);
        QFETCH(double, activations);
        const std::vector<std::int64_t> v(lengths.begin(), lengths.end());
        const EstimateSequenceLength length = sequenceLengthForEstimate(v, 64, packing);
        QCOMPARE(length.tokens, std::int64_t(tokens));
        QCOMPARE(int(length.basis), basis);
        QCOMPARE(length.longest, v.empty() ? std::int64_t(0) : *std::max_element(v.begin(), v.end()));
        TrainableCount count;
        count.total = kTinyParameters;
        count.trainable = 2112;
        MemorySettings settings;
        settings.batchSize = 4;
        settings.cutoffLen = 64;
        settings.packing = packing;
        settings.sequenceLen = length.tokens;
        QCOMPARE(estimateMemory(tinyConfig(), count, settings).activations, activations);
    }

    // The lengths come from encoding the records as a run does: each text's tokens plus the same special tokens.
    void encodedLengthsOfRecords()
    {
        const Tokenizer tokenizer = Tokenizer::fromFolder(m_model);
        const std::vector<std::string> texts = { "the cat sat on the mat", "a bird sang", "the sun" };
        std::vector<json> records;
        for (const std::string& t : texts)
            records.push_back({ { "text", t } });
        const std::vector<std::int64_t> lengths
            = encodedExampleLengths(records, DatasetFormat::Text, tokenizer, nullptr);
        QCOMPARE(lengths.size(), texts.size());
        const auto extra = lengths[0] - static_cast<std::int64_t>(tokenizer.encode(texts[0]).size());
        QVERIFY2(extra >= 0 && extra <= 3, qPrintable(QString::number(extra)));
        for (std::size_t i = 0; i < texts.size(); ++i)
            QCOMPARE(lengths[i], static_cast<std::int64_t>(tokenizer.encode(texts[i]).size()) + extra);
        QVERIFY(lengths[0] > lengths[2]);
        // A record that does not fit the format is named.
        const QString error = errorOf([&] {
            encodedExampleLengths({ json { { "prompt", "x" } } }, DatasetFormat::Text, tokenizer, nullptr);
        });
        QVERIFY2(error.contains(QStringLiteral("record 1")), qPrintable(error));
    }
};

QTEST_MAIN(TestRunEstimate)
#include "test_run_estimate.moc"
