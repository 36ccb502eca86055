// config.json: every architecture's keys, transformers' defaults, and errors
// that name the key and the file.

#include "core/model/config.h"
#include "core/util/error.h"

#include "model_test_support.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace tunebench;
using nlohmann::json;

namespace {

// Configs shaped like the published ones (sizes shrunk).
json llama3Config()
{
    return json::parse(
        R"({"architectures":["LlamaForCausalLM"],"model_type":"llama","vocab_size":128256,"hidden_size":64,"intermediate_size":224,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"hidden_act":"silu","max_position_embeddings":131072,"rms_norm_eps":1e-05,"rope_theta":500000.0,"rope_scaling":{"factor":8.0,"low_freq_factor":1.0,"high_freq_factor":4.0,"original_max_position_embeddings":8192,"rope_type":"llama3"},"tie_word_embeddings":false,"torch_dtype":"bfloat16","bos_token_id":128000,"eos_token_id":[128001,128008,128009],"attention_bias":false,"mlp_bias":false})");
}

json mistralConfig()
{
    return json::parse(
        R"({"architectures":["MistralForCausalLM"],"model_type":"mistral","vocab_size":32000,"hidden_size":64,"intermediate_size":224,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":1,"sliding_window":null,"rope_theta":1000000.0,"torch_dtype":"bfloat16","bos_token_id":1,"eos_token_id":2})");
}

json qwen2Config()
{
    return json::parse(
        R"({"architectures":["Qwen2ForCausalLM"],"model_type":"qwen2","vocab_size":151936,"hidden_size":64,"intermediate_size":160,"num_hidden_layers":4,"num_attention_heads":4,"num_key_value_heads":2,"use_sliding_window":false,"sliding_window":32768,"max_window_layers":2,"rope_theta":1000000.0,"tie_word_embeddings":true,"torch_dtype":"bfloat16","eos_token_id":151643})");
}

json qwen3Config()
{
    return json::parse(
        R"({"architectures":["Qwen3ForCausalLM"],"model_type":"qwen3","vocab_size":151936,"hidden_size":64,"intermediate_size":192,"num_hidden_layers":2,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":128,"attention_bias":false,"rms_norm_eps":1e-06,"rope_theta":1000000,"tie_word_embeddings":true,"torch_dtype":"bfloat16","bos_token_id":151643,"eos_token_id":151645})");
}

json gpt2Config()
{
    return json::parse(
        R"({"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],"attn_pdrop":0.1,"bos_token_id":50256,"embd_pdrop":0.1,"eos_token_id":50256,"initializer_range":0.02,"layer_norm_epsilon":1e-05,"model_type":"gpt2","n_ctx":1024,"n_embd":64,"n_head":4,"n_layer":2,"n_positions":1024,"resid_pdrop":0.1,"vocab_size":50257})");
}

json configNamed(const QString& name)
{
    if (name == "llama")
        return llama3Config();
    if (name == "mistral")
        return mistralConfig();
    if (name == "qwen2")
        return qwen2Config();
    if (name == "qwen3")
        return qwen3Config();
    return gpt2Config();
}

} // namespace

class TestModelConfig : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void llama3()
    {
        const ModelConfig c = parseModelConfig(llama3Config(), "config.json");
        QCOMPARE(c.architecture, Architecture::Llama);
        QCOMPARE(c.headDim, std::int64_t(16));
        QCOMPARE(c.numKvHeads, std::int64_t(2));
        QCOMPARE(c.ropeScaling.type, RopeScaling::Type::Llama3);
        QCOMPARE(c.ropeScaling.factor, 8.0);
        QCOMPARE(c.ropeScaling.highFreqFactor, 4.0);
        QCOMPARE(c.ropeScaling.originalMaxPositionEmbeddings, std::int64_t(8192));
        QCOMPARE(c.ropeTheta, 500000.0);
        QCOMPARE(c.normEps, 1e-5);
        QCOMPARE(c.torchDtype, StorageDtype::BFloat16);
        QCOMPARE(c.eosTokenIds, (std::vector<std::int64_t> { 128001, 128008, 128009 }));
        QCOMPARE(c.bosTokenId, std::optional<std::int64_t>(128000));
        QVERIFY(!c.tieWordEmbeddings && !c.qkvBias && !c.qkNorm && !c.slidingWindow);
    }

    void mistralNullWindow()
    {
        const ModelConfig c = parseModelConfig(mistralConfig(), "config.json");
        QCOMPARE(c.architecture, Architecture::Mistral);
        QVERIFY(!c.slidingWindow);
        QVERIFY(!c.layerUsesSlidingWindow(0));
        json withWindow = mistralConfig();
        withWindow["sliding_window"] = 4096;
        QCOMPARE(parseModelConfig(withWindow, "c").slidingWindow, std::optional<std::int64_t>(4096));
        withWindow.erase("sliding_window"); // MistralConfig's default
        QCOMPARE(parseModelConfig(withWindow, "c").slidingWindow, std::optional<std::int64_t>(4096));
    }

    void qwen2()
    {
        ModelConfig c = parseModelConfig(qwen2Config(), "config.json");
        QVERIFY(c.qkvBias && !c.outputBias && !c.qkNorm && c.tieWordEmbeddings);
        QVERIFY(!c.slidingWindow); // use_sliding_window false
        json windowed = qwen2Config();
        windowed["use_sliding_window"] = true;
        c = parseModelConfig(windowed, "config.json");
        QCOMPARE(c.slidingWindow, std::optional<std::int64_t>(32768));
        // The first max_window_layers layers keep full attention.
        QVERIFY(!c.layerUsesSlidingWindow(0) && !c.layerUsesSlidingWindow(1));
        QVERIFY(c.layerUsesSlidingWindow(2) && c.layerUsesSlidingWindow(3));
        windowed["layer_types"] = { "sliding_attention", "full_attention", "sliding_attention", "full_attention" };
        c = parseModelConfig(windowed, "config.json");
        QVERIFY(c.layerUsesSlidingWindow(0) && !c.layerUsesSlidingWindow(1) && c.layerUsesSlidingWindow(2));
    }

    void qwen3()
    {
        const ModelConfig c = parseModelConfig(qwen3Config(), "config.json");
        QCOMPARE(c.architecture, Architecture::Qwen3);
        QCOMPARE(c.headDim, std::int64_t(128)); // != 64 / 4
        QVERIFY(c.qkNorm && !c.qkvBias && !c.outputBias);
        json noHeadDim = qwen3Config();
        noHeadDim.erase("head_dim");
        QCOMPARE(parseModelConfig(noHeadDim, "c").headDim, std::int64_t(128)); // Qwen3Config's default
        json biased = qwen3Config();
        biased["attention_bias"] = true;
        const ModelConfig b = parseModelConfig(biased, "c");
        QVERIFY(b.qkvBias && b.outputBias);
    }

    void gpt2()
    {
        const ModelConfig c = parseModelConfig(gpt2Config(), "config.json");
        QCOMPARE(c.architecture, Architecture::Gpt2);
        QCOMPARE(c.hiddenSize, std::int64_t(64));
        QCOMPARE(c.intermediateSize, std::int64_t(256)); // n_inner null -> 4 * n_embd
        QCOMPARE(c.maxPositionEmbeddings, std::int64_t(1024));
        QCOMPARE(c.hiddenAct, std::string("gelu_new"));
        QCOMPARE(c.normEps, 1e-5);
        QVERIFY(c.tieWordEmbeddings);
        QCOMPARE(c.eosTokenIds, (std::vector<std::int64_t> { 50256 }));
        json noIds = gpt2Config();
        noIds.erase("bos_token_id");
        noIds.erase("eos_token_id");
        QCOMPARE(parseModelConfig(noIds, "c").bosTokenId, std::optional<std::int64_t>(50256));
    }

    void transformers5Keys()
    {
        json c = llama3Config();
        c.erase("rope_scaling");
        c.erase("rope_theta");
        c.erase("torch_dtype");
        c["dtype"] = "float16";
        c["rope_parameters"] = { { "rope_type", "linear" }, { "factor", 2.0 }, { "rope_theta", 250000.0 } };
        const ModelConfig parsed = parseModelConfig(c, "config.json");
        QCOMPARE(parsed.torchDtype, StorageDtype::Float16);
        QCOMPARE(parsed.ropeScaling.type, RopeScaling::Type::Linear);
        QCOMPARE(parsed.ropeTheta, 250000.0);
    }

    // YaRN as transformers reads it: every option, defaults for the absent ones, a null factor meaning
    // max_position_embeddings / original_max_position_embeddings, a top-level original context winning.
    void yarn()
    {
        json c = llama3Config();
        c["rope_scaling"] = { { "rope_type", "yarn" }, { "factor", 4.0 }, { "original_max_position_embeddings", 4096 },
            { "beta_fast", 16 }, { "beta_slow", 2.0 }, { "truncate", false }, { "mscale", 0.8 },
            { "mscale_all_dim", 0.5 }, { "attention_factor", 0.9 } };
        ModelConfig parsed = parseModelConfig(c, "config.json");
        RopeScaling s = parsed.ropeScaling;
        QCOMPARE(s.type, RopeScaling::Type::Yarn);
        QCOMPARE(s.factor, 4.0);
        QCOMPARE(s.originalMaxPositionEmbeddings, std::int64_t(4096));
        QCOMPARE(s.betaFast, 16.0);
        QCOMPARE(s.betaSlow, 2.0);
        QVERIFY(!s.truncate);
        QCOMPARE(s.mscale, std::optional<double>(0.8));
        QCOMPARE(s.mscaleAllDim, std::optional<double>(0.5));
        QCOMPARE(s.attentionFactor, std::optional<double>(0.9));
        // Written back and read again: the same.
        const RopeScaling back = parseModelConfig(modelConfigToJson(parsed), "again").ropeScaling;
        QCOMPARE(back.type, s.type);
        QCOMPARE(back.factor, s.factor);
        QCOMPARE(back.originalMaxPositionEmbeddings, s.originalMaxPositionEmbeddings);
        QCOMPARE(back.betaFast, s.betaFast);
        QCOMPARE(back.betaSlow, s.betaSlow);
        QCOMPARE(back.truncate, s.truncate);
        QCOMPARE(back.mscale, s.mscale);
        QCOMPARE(back.mscaleAllDim, s.mscaleAllDim);
        QCOMPARE(back.attentionFactor, s.attentionFactor);

        c["rope_scaling"] = { { "rope_type", "yarn" }, { "factor", nullptr }, { "beta_fast", nullptr },
            { "original_max_position_embeddings", 8192 } };
        s = parseModelConfig(c, "config.json").ropeScaling;
        QCOMPARE(s.factor, 16.0); // 131072 / 8192
        QCOMPARE(s.betaFast, 32.0);
        QCOMPARE(s.betaSlow, 1.0);
        QVERIFY(s.truncate);
        QVERIFY(!s.attentionFactor && !s.mscale && !s.mscaleAllDim);
        c["original_max_position_embeddings"] = 32768;
        QCOMPARE(parseModelConfig(c, "config.json").ropeScaling.factor, 4.0);
        c.erase("original_max_position_embeddings");
        c["rope_scaling"] = { { "rope_type", "yarn" }, { "factor", 2.0 } };
        QCOMPARE(parseModelConfig(c, "config.json").ropeScaling.originalMaxPositionEmbeddings, std::int64_t(131072));
    }

    // What make-model writes reads back to the same config, for every architecture.
    void writtenConfigsRoundTrip()
    {
        for (const auto& [name, config] : model_test::architectureConfigs()) {
            const ModelConfig back = parseModelConfig(modelConfigToJson(config), name);
            QCOMPARE(back.architecture, config.architecture);
            QCOMPARE(back.hiddenSize, config.hiddenSize);
            QCOMPARE(back.intermediateSize, config.intermediateSize);
            QCOMPARE(back.numKvHeads, config.numKvHeads);
            QCOMPARE(back.headDim, config.headDim);
            QCOMPARE(back.qkvBias, config.qkvBias);
            QCOMPARE(back.outputBias, config.outputBias);
            QCOMPARE(back.mlpBias, config.mlpBias);
            QCOMPARE(back.qkNorm, config.qkNorm);
            QCOMPARE(back.tieWordEmbeddings, config.tieWordEmbeddings);
            QCOMPARE(back.slidingWindow, config.slidingWindow);
            for (std::int64_t i = 0; i < config.numLayers; ++i)
                QCOMPARE(back.layerUsesSlidingWindow(i), config.layerUsesSlidingWindow(i));
            QCOMPARE(back.ropeScaling.type, config.ropeScaling.type);
            QCOMPARE(back.ropeTheta, config.ropeTheta);
            QCOMPARE(back.eosTokenIds, config.eosTokenIds);
        }
    }

    void errors_data()
    {
        QTest::addColumn<QString>("base");
        QTest::addColumn<QString>("patch");
        QTest::addColumn<QString>("message");
        QTest::newRow("unknown architecture")
            << "llama"
            << R"({"architectures":["FalconForCausalLM"]})"
            << "key 'architectures' names 'FalconForCausalLM', which Tunebench does not support";
        QTest::newRow("unknown model_type") << "llama"
                                            << R"({"architectures":null,"model_type":"bert"})"
                                            << "key 'model_type' is 'bert'";
        QTest::newRow("no architecture at all") << "llama"
                                                << R"({"architectures":null,"model_type":null})"
                                                << "key 'architectures' is missing";
        QTest::newRow("missing hidden_size") << "llama"
                                             << R"({"hidden_size":null})"
                                             << "key 'hidden_size' is missing";
        QTest::newRow("missing vocab_size") << "qwen3"
                                            << R"({"vocab_size":null})"
                                            << "key 'vocab_size' is missing";
        QTest::newRow("missing n_embd") << "gpt2"
                                        << R"({"n_embd":null})"
                                        << "key 'n_embd' is missing";
        QTest::newRow("string size") << "mistral"
                                     << R"({"num_hidden_layers":"2"})"
                                     << "key 'num_hidden_layers' must be a whole number";
        QTest::newRow("kv heads do not divide") << "llama"
                                                << R"({"num_key_value_heads":3})"
                                                << "key 'num_key_value_heads' (3) must divide num_attention_heads (4)";
        QTest::newRow("hidden not divisible") << "llama"
                                              << R"({"hidden_size":66})"
                                              << "key 'hidden_size' (66) must be divisible by num_attention_heads";
        QTest::newRow("odd head_dim") << "qwen3"
                                      << R"({"head_dim":15})"
                                      << "key 'head_dim' must be even";
        QTest::newRow("unsupported rope") << "llama"
                                          << R"({"rope_scaling":{"rope_type":"longrope","factor":4.0}})"
                                          << "key 'rope_type' is 'longrope'";
        // merge_patch's null removes the key: a yarn scaling without factor.
        QTest::newRow("yarn without factor")
            << "llama"
            << R"({"rope_scaling":{"rope_type":"yarn","low_freq_factor":null,"factor":null,"high_freq_factor":null}})"
            << "key 'factor' is missing (required for rope type 'yarn'";
        QTest::newRow("yarn truncate not a bool")
            << "llama" << R"({"rope_scaling":{"rope_type":"yarn","factor":2.0,"truncate":"no"}})"
            << "rope_scaling: key 'truncate' must be true or false";
        QTest::newRow("yarn negative attention factor")
            << "llama" << R"({"rope_scaling":{"rope_type":"yarn","factor":2.0,"attention_factor":-1.0}})"
            << "key 'attention_factor' must be a positive number";
        QTest::newRow("llama3 rope incomplete") << "llama"
                                                << R"({"rope_scaling":{"low_freq_factor":null}})"
                                                << "key 'low_freq_factor' is missing";
        QTest::newRow("rope factor missing")
            << "llama"
            << R"({"rope_scaling":{"rope_type":"linear","factor":null,"low_freq_factor":null}})"
            << "key 'factor' is missing";
        QTest::newRow("unknown dtype") << "qwen2"
                                       << R"({"torch_dtype":"float8"})"
                                       << "key 'torch_dtype' is 'float8'";
        QTest::newRow("unknown activation") << "gpt2"
                                            << R"({"activation_function":"swiglu"})"
                                            << "key 'activation_function' is 'swiglu'";
        QTest::newRow("negative vocabulary") << "mistral"
                                             << R"({"vocab_size":-5})"
                                             << "key 'vocab_size' must be positive";
        QTest::newRow("zero window") << "mistral"
                                     << R"({"sliding_window":0})"
                                     << "key 'sliding_window' must be positive";
        QTest::newRow("eos not an id") << "llama"
                                       << R"({"eos_token_id":["</s>"]})"
                                       << "key 'eos_token_id' must be a whole number";
        QTest::newRow("layer_types length") << "qwen2"
                                            << R"({"use_sliding_window":true,"layer_types":["full_attention"]})"
                                            << "key 'layer_types' must list one type per layer";
        QTest::newRow("tie not a bool") << "qwen3"
                                        << R"({"tie_word_embeddings":"yes"})"
                                        << "key 'tie_word_embeddings' must be true or false";
        QTest::newRow("cross attention") << "gpt2"
                                         << R"({"add_cross_attention":true})"
                                         << "key 'add_cross_attention'";
    }

    void errors()
    {
        QFETCH(QString, base);
        QFETCH(QString, patch);
        QFETCH(QString, message);
        json config = configNamed(base);
        config.merge_patch(json::parse(patch.toStdString()));
        QTemporaryDir dir;
        const std::filesystem::path file = QFile::encodeName(dir.filePath("config.json")).toStdString();
        std::ofstream(file) << config.dump();
        try {
            readModelConfig(file);
            QFAIL("no error");
        } catch (const InputError& e) {
            const QString what = QString::fromStdString(e.what());
            QVERIFY2(what.contains(message), qPrintable(what));
            QVERIFY2(what.contains(QString::fromStdString(file.string())), qPrintable(what));
        }
    }

    void unreadableFiles()
    {
        QTemporaryDir dir;
        const std::filesystem::path file = QFile::encodeName(dir.filePath("config.json")).toStdString();
        QVERIFY_THROWS_EXCEPTION(InputError, readModelConfig(file));
        std::ofstream(file) << "{\"vocab_size\": 3,";
        try {
            readModelConfig(file);
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY(QString(e.what()).contains("not valid JSON"));
        }
        std::ofstream(file) << "[1]";
        QVERIFY_THROWS_EXCEPTION(InputError, readModelConfig(file));
    }
};

QTEST_GUILESS_MAIN(TestModelConfig)
#include "test_model_config.moc"
