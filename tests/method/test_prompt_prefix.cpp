// Prompt tuning and prefix tuning against the base model, on every
// architecture variant (GQA, Qwen3's free head_dim and k-norm, sliding
// windows, Llama-3 RoPE scaling, GPT-2's learned positions):
//   - prompt tuning whose virtual tokens are the embeddings of known ids gives,
//     for the input's positions, the base model's logits on [ids ; input];
//   - prefix tuning whose prefix is the KV cache the base model computes for
//     known ids gives the base model's logits on [ids ; input];
//   - generation with a KV cache equals a full forward each step (greedy
//     tokens and logits), batched prompts with left padding equal singles;
//   - switched off, the base model; state saved and restored, the same model;
//     a projected prefix's state loads as a plain prefix (export is a copy);
//   - text initialisation, positions against GPT-2's limit, and errors.

#include "core/method/adapter.h"
#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/kv_cache.h"
#include "core/model/model_writer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QtTest>

using namespace tunebench;
using nlohmann::json;

namespace {

at::Tensor logitsOf(const CausalLM& model, const at::Tensor& ids, const at::Tensor& mask = {})
{
    at::NoGradGuard noGrad;
    ForwardInput in;
    in.inputIds = ids;
    in.attentionMask = mask;
    return model.forward(in).logits;
}

std::vector<std::int32_t> idsOf(const at::Tensor& row)
{
    std::vector<std::int32_t> out;
    for (std::int64_t i = 0; i < row.size(0); ++i)
        out.push_back(static_cast<std::int32_t>(row[i].item<std::int64_t>()));
    return out;
}

// Greedy tokens by recomputing the whole sequence each step, no cache.
std::vector<std::int32_t> greedyWithoutCache(const CausalLM& model, const std::vector<std::int32_t>& prompt, int steps)
{
    std::vector<std::int64_t> sequence(prompt.begin(), prompt.end());
    for (int i = 0; i < steps; ++i) {
        const at::Tensor logits = logitsOf(model, at::tensor(sequence, at::kLong).unsqueeze(0));
        sequence.push_back(logits[0][logits.size(1) - 1].argmax().item<std::int64_t>());
    }
    return { sequence.begin() + static_cast<std::ptrdiff_t>(prompt.size()), sequence.end() };
}

std::vector<std::int32_t> greedy(const CausalLM& model, const std::vector<std::int32_t>& prompt, int steps)
{
    GenerationOptions o;
    o.maxNewTokens = steps;
    return generate(model, { prompt }, o)[0].tokens;
}

// PEFT's prefix layout from a KV cache of n positions: [n, layers * 2 * kv_heads * head_dim],
// each row [layers, 2 (keys, values), kv_heads, head_dim].
at::Tensor prefixFromCache(const KvCache& cache)
{
    std::vector<at::Tensor> layers;
    for (std::int64_t l = 0; l < cache.numLayers(); ++l) {
        const auto [k, v] = cache.layer(l); // [1, Hkv, n, D]
        layers.push_back(at::stack({ k[0], v[0] })); // [2, Hkv, n, D]
    }
    const at::Tensor all = at::stack(layers); // [L, 2, Hkv, n, D]
    return all.permute({ 3, 0, 1, 2, 4 }).reshape({ all.size(3), -1 }).contiguous(); // [n, L * 2 * Hkv * D]
}

} // namespace

class TestPromptPrefix : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    ModelConfig m_config;
    std::uint64_t m_seed = 0;

    // The row's architecture; the same weights each call.
    std::unique_ptr<CausalLM> makeModel()
    {
        QFETCH(int, row);
        m_config = model_test::architectureConfigs()[static_cast<std::size_t>(row)].second;
        m_seed = 700 + static_cast<std::uint64_t>(row);
        return createRandomCausalLM(m_config, m_seed);
    }

    static void architectureRows()
    {
        QTest::addColumn<int>("row");
        int i = 0;
        for (const auto& [name, config] : model_test::architectureConfigs())
            QTest::newRow(name.c_str()) << i++;
    }

    std::unique_ptr<Adapter> attach(CausalLM& model, const std::string& name, const json& params,
        TextEncoder encodeText = {}, std::uint64_t seed = 5)
    {
        auto adapter = m_plugins.createAdapter(name);
        json config = params;
        const json resolved = m_plugins.require(PluginKind::Adapter, name).schema.resolve(config, "test");
        model.setRequiresGrad(false);
        adapter->attach({ model, resolved, seed, std::move(encodeText) });
        return adapter;
    }

    // Moves every trainable tensor off its initial value, as training would.
    static void perturb(Adapter& adapter, std::uint64_t seed)
    {
        at::NoGradGuard noGrad;
        at::manual_seed(seed);
        for (auto& g : adapter.parameterGroups(0.0)) {
            for (auto& p : g.parameters)
                p.tensor.add_(at::randn_like(p.tensor) * 0.1);
        }
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ std::filesystem::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        QVERIFY(m_plugins.find(PluginKind::Adapter, "prompt_tuning"));
        QVERIFY(m_plugins.find(PluginKind::Adapter, "prefix_tuning"));
    }

    // Virtual tokens equal to the embeddings of known ids: the logits of the
    // input's positions are the base model's on [ids ; input] (positions,
    // GPT-2's position embeddings and masks included).
    void promptTuningEqualsBaseOnKnownIds_data() { architectureRows(); }
    void promptTuningEqualsBaseOnKnownIds()
    {
        auto model = makeModel();
        const std::int64_t n = 5;
        const at::Tensor virtualIds = model_test::randomIds(1, n, 21);
        const at::Tensor input = model_test::randomIds(3, 9, 22);
        const at::Tensor full = at::cat({ virtualIds.expand({ 3, n }), input }, 1);
        const at::Tensor baseLogits = logitsOf(*model, full);
        const at::Tensor expected = baseLogits.narrow(1, n, 9);

        std::vector<std::int64_t> ids;
        for (std::int64_t i = 0; i < n; ++i)
            ids.push_back(virtualIds[0][i].item<std::int64_t>());
        auto a = attach(*model, "prompt_tuning",
            { { "num_virtual_tokens", n }, { "prompt_tuning_init", "text" }, { "prompt_tuning_init_token_ids", ids } });
        const at::Tensor got = logitsOf(*model, input);
        QCOMPARE(got.sizes(), expected.sizes());
        const double diff = model_test::maxAbsDiff(got, expected);
        qInfo("max |prompt tuning - base on [ids ; input]| = %.3g", diff);
        QVERIFY2(diff < 1e-5, qPrintable(QString("differs by %1").arg(diff)));

        // With a mask (right padding on row 1): the real positions are unchanged.
        at::Tensor mask = at::ones({ 3, 9 }, at::kLong);
        mask[1].narrow(0, 6, 3).fill_(0);
        const at::Tensor masked = logitsOf(*model, input, mask);
        QVERIFY(model_test::maxAbsDiff(masked[1].narrow(0, 0, 6), got[1].narrow(0, 0, 6)) < 1e-5);
        QVERIFY(model_test::maxAbsDiff(masked[0], got[0]) < 1e-5);

        // Hidden states and the last position cover the input only.
        ForwardInput in;
        in.inputIds = input;
        in.outputHiddenStates = true;
        in.lastPositionOnly = true;
        at::NoGradGuard noGrad;
        const ForwardOutput out = model->forward(in);
        QCOMPARE(out.hiddenStates.size(), static_cast<std::size_t>(m_config.numLayers + 1));
        for (const auto& h : out.hiddenStates)
            QCOMPARE(h.size(1), std::int64_t(9));
        QVERIFY(model_test::maxAbsDiff(out.logits, got.narrow(1, 8, 1)) < 1e-5);
        QVERIFY(!out.lastVirtualLogits.defined()); // only on request

        // On request the last virtual token's logits [B, V], the prediction of the input's first token (PEFT's
        // loss counts it): the base model's at position n - 1.
        in.outputHiddenStates = false;
        in.lastPositionOnly = false;
        in.outputLastVirtualLogits = true;
        const at::Tensor last = model->forward(in).lastVirtualLogits;
        QCOMPARE(last.sizes(), baseLogits.select(1, n - 1).sizes());
        QVERIFY(model_test::maxAbsDiff(last, baseLogits.select(1, n - 1)) < 1e-5);
        a->setEnabled(false);
        QVERIFY(!model->forward(in).lastVirtualLogits.defined()); // no virtual tokens, none
    }

    // A prefix equal to the base model's KV cache for known ids: the logits
    // are the base model's on [ids ; input]. The prefix keys are used as
    // given (already rotated) and the input's positions start at n.
    void prefixTuningEqualsBaseAfterKnownIds_data() { architectureRows(); }
    void prefixTuningEqualsBaseAfterKnownIds()
    {
        auto model = makeModel();
        const std::int64_t n = 6;
        const at::Tensor prefixIds = model_test::randomIds(1, n, 31);
        const at::Tensor input = model_test::randomIds(2, 8, 32);
        KvCache cache(m_config.numLayers);
        {
            at::NoGradGuard noGrad;
            ForwardInput in;
            in.inputIds = prefixIds;
            in.cache = &cache;
            model->forward(in);
        }
        const at::Tensor prefix = prefixFromCache(cache);
        QCOMPARE(prefix.size(1), m_config.numLayers * 2 * m_config.numKvHeads * m_config.headDim);
        const at::Tensor expected = logitsOf(*model, at::cat({ prefixIds.expand({ 2, n }), input }, 1)).narrow(1, n, 8);

        auto a = attach(*model, "prefix_tuning", { { "num_virtual_tokens", n } });
        a->restoreState({ { "prompt_embeddings", prefix } });
        const at::Tensor got = logitsOf(*model, input);
        const double diff = model_test::maxAbsDiff(got, expected);
        qInfo("max |prefix tuning - base on [ids ; input]| = %.3g", diff);
        QVERIFY2(diff < 1e-5, qPrintable(QString("differs by %1").arg(diff)));

        // A left-padded row equals the row alone: padding shifts no position.
        at::Tensor padded = at::cat({ at::zeros({ 1, 3 }, at::kLong), input.narrow(0, 1, 1) }, 1);
        at::Tensor mask = at::cat({ at::zeros({ 1, 3 }, at::kLong), at::ones({ 1, 8 }, at::kLong) }, 1);
        const double padDiff
            = model_test::maxAbsDiff(logitsOf(*model, padded, mask).narrow(1, 3, 8), got[1].unsqueeze(0));
        QVERIFY2(padDiff < 1e-5, qPrintable(QString("left padding changes the logits by %1").arg(padDiff)));

        // Gradients reach the prefix, with and without a cache.
        for (bool withCache : { false, true }) {
            a->restoreState({ { "prompt_embeddings", prefix } });
            auto groups = a->parameterGroups(0.0);
            at::Tensor t = groups.front().parameters.front().tensor;
            t.mutable_grad() = at::Tensor();
            KvCache trainingCache(m_config.numLayers);
            ForwardInput in;
            in.inputIds = input;
            in.cache = withCache ? &trainingCache : nullptr;
            in.outputLastVirtualLogits = true;
            const ForwardOutput out = model->forward(in);
            QVERIFY(!out.lastVirtualLogits.defined()); // a prefix is keys and values, it predicts nothing
            out.logits.sum().backward();
            QVERIFY(t.grad().defined());
            QVERIFY(t.grad().abs().sum().item<double>() > 0);
        }
    }

    // generate() puts the virtual tokens in on its first forward only; each
    // step then equals recomputing everything without a cache.
    void generationMatchesFullForward_data()
    {
        QTest::addColumn<int>("row");
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("params");
        int i = 0;
        for (const auto& [name, config] : model_test::architectureConfigs()) {
            QTest::addRow("prompt %s", name.c_str()) << i << "prompt_tuning"
                                                     << R"({"num_virtual_tokens": 4})";
            QTest::addRow("prefix %s", name.c_str()) << i << "prefix_tuning"
                                                     << R"({"num_virtual_tokens": 3})";
            QTest::addRow("prefix projected %s", name.c_str())
                << i << "prefix_tuning"
                << R"({"num_virtual_tokens": 2, "prefix_projection": true})";
            ++i;
        }
    }
    void generationMatchesFullForward()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, params);
        auto model = makeModel();
        auto a = attach(*model, adapter.toStdString(), json::parse(params.toStdString()));
        perturb(*a, 3);
        const std::vector<std::int32_t> prompt = idsOf(model_test::randomIds(1, 5, 41)[0]);
        const auto generated = greedy(*model, prompt, 10);
        QCOMPARE(generated, greedyWithoutCache(*model, prompt, 10));

        // Step by step with a cache: the logits equal those of a full forward.
        {
            at::NoGradGuard noGrad;
            KvCache cache(m_config.numLayers);
            ForwardInput in;
            in.inputIds = at::tensor(std::vector<std::int64_t>(prompt.begin(), prompt.end()), at::kLong).unsqueeze(0);
            in.cache = &cache;
            model->forward(in);
            QCOMPARE(cache.virtualLength(), model->virtualTokenCount());
            QCOMPARE(cache.length(), model->virtualTokenCount() + 5);
            in.inputIds = at::tensor({ std::int64_t(generated[0]) }, at::kLong).unsqueeze(0);
            in.attentionMask = at::ones({ 1, 6 }, at::kLong); // the caller's tokens only
            const at::Tensor step = model->forward(in).logits; // [1, 1, V]
            std::vector<std::int64_t> all(prompt.begin(), prompt.end());
            all.push_back(generated[0]);
            const at::Tensor full = logitsOf(*model, at::tensor(all, at::kLong).unsqueeze(0));
            QVERIFY(model_test::maxAbsDiff(step[0][0], full[0][5]) < 1e-5);
        }

        // Batched prompts of different lengths (left padding) equal singles.
        const std::vector<std::vector<std::int32_t>> prompts { idsOf(model_test::randomIds(1, 2, 42)[0]), prompt,
            idsOf(model_test::randomIds(1, 8, 43)[0]) };
        GenerationOptions o;
        o.maxNewTokens = 6;
        const auto batched = generate(*model, prompts, o);
        for (std::size_t i = 0; i < prompts.size(); ++i)
            QCOMPARE(batched[i].tokens, greedy(*model, prompts[i], 6));

        // Switched off: the base model's generation.
        a->setEnabled(false);
        QCOMPARE(model->virtualTokenCount(), std::int64_t(0));
        const auto plain = greedy(*model, prompt, 10);
        a->setEnabled(true);
        model->setInputPrefixHook(nullptr);
        model->setAttentionPrefixHook(nullptr);
        QCOMPARE(plain, greedy(*model, prompt, 10));
    }

    void disabledIsBaseModelAndStateRoundTrips_data()
    {
        QTest::addColumn<int>("row");
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("params");
        int i = 0;
        for (const auto& [name, config] : model_test::architectureConfigs()) {
            QTest::addRow("prompt %s", name.c_str()) << i << "prompt_tuning"
                                                     << R"({"num_virtual_tokens": 3})";
            QTest::addRow("prompt sample_vocab %s", name.c_str())
                << i << "prompt_tuning"
                << R"({"num_virtual_tokens": 3, "prompt_tuning_init": "sample_vocab"})";
            QTest::addRow("prefix %s", name.c_str()) << i << "prefix_tuning"
                                                     << R"({"num_virtual_tokens": 3})";
            QTest::addRow("prefix zero %s", name.c_str()) << i << "prefix_tuning"
                                                          << R"({"num_virtual_tokens": 3, "init_weights": "zero"})";
            QTest::addRow("prefix projected %s", name.c_str())
                << i << "prefix_tuning"
                << R"({"num_virtual_tokens": 3, "prefix_projection": true, "encoder_hidden_size": 7})";
            ++i;
        }
    }
    void disabledIsBaseModelAndStateRoundTrips()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, params);
        const json config = json::parse(params.toStdString());
        auto model = makeModel();
        const at::Tensor ids = model_test::randomIds(2, 7, 51);
        const at::Tensor baseLogits = logitsOf(*model, ids);
        auto a = attach(*model, adapter.toStdString(), config);
        QVERIFY(a->canDisable());
        QVERIFY(!a->canMerge());
        perturb(*a, 4);
        const at::Tensor tuned = logitsOf(*model, ids);
        QVERIFY(model_test::maxAbsDiff(tuned, baseLogits) > 1e-4);
        a->setEnabled(false);
        QCOMPARE(model_test::maxAbsDiff(logitsOf(*model, ids), baseLogits), 0.0);
        a->setEnabled(true);
        QCOMPARE(model_test::maxAbsDiff(logitsOf(*model, ids), tuned), 0.0);

        // The saved names and shapes are PEFT's.
        const AdapterState state = a->state();
        const std::int64_t n = 3;
        const std::int64_t width = adapter == "prompt_tuning"
            ? m_config.hiddenSize
            : m_config.numLayers * 2 * m_config.numKvHeads * m_config.headDim;
        QCOMPARE(QString::fromStdString(state.front().first), QStringLiteral("prompt_embeddings"));
        QCOMPARE(state.front().second.sizes(), at::IntArrayRef({ n, width }));
        const bool projected = config.value("prefix_projection", false);
        QCOMPARE(state.size(), std::size_t(projected ? 6 : 1));

        // Into a fresh model and attachment (another seed): the same outputs.
        auto fresh = createRandomCausalLM(m_config, m_seed);
        auto b = attach(*fresh, adapter.toStdString(), config, {}, 99);
        b->restoreState(state);
        QCOMPARE(model_test::maxAbsDiff(logitsOf(*fresh, ids), tuned), 0.0);

        if (projected) {
            // Export is a copy: the projected prefix alone is a plain prefix with the same outputs.
            auto plainModel = createRandomCausalLM(m_config, m_seed);
            auto plain = attach(*plainModel, "prefix_tuning", { { "num_virtual_tokens", n } });
            plain->restoreState({ state.front() });
            const double diff = model_test::maxAbsDiff(logitsOf(*plainModel, ids), tuned);
            QVERIFY2(diff < 1e-6, qPrintable(QString("the exported prefix differs by %1").arg(diff)));
            // ... but it cannot resume a projected run.
            QVERIFY_THROWS_EXCEPTION(InputError, b->restoreState({ state.front() }));
        }
        // A state of the wrong shape names the tensor.
        try {
            b->restoreState({ { state.front().first, at::zeros({ n + 1, width }) } });
            if (!projected)
                QFAIL("a state of the wrong shape was accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(projected ? "prompt_encoder.embedding.weight" : "prompt_embeddings"),
                e.what());
        }
    }

    void textInitialisation()
    {
        RandomModelSpec spec;
        spec.architecture = Architecture::Llama;
        spec.vocabSize = 40;
        spec.hiddenSize = 16;
        spec.numLayers = 1;
        spec.numHeads = 2;
        auto model = createRandomCausalLM(randomModelConfig(spec), 3);
        const at::Tensor embed = model->parameter("model.embed_tokens.weight");
        auto rowsOf = [&](std::vector<std::int64_t> ids) { return embed.index_select(0, at::tensor(ids, at::kLong)); };
        // Repeated to n, and cut to n, as PEFT does.
        auto a = attach(*model, "prompt_tuning",
            { { "num_virtual_tokens", 5 }, { "prompt_tuning_init", "text" },
                { "prompt_tuning_init_token_ids", { 7, 8 } } });
        QVERIFY(at::equal(a->state().front().second, rowsOf({ 7, 8, 7, 8, 7 })));
        model->setInputPrefixHook(nullptr);
        a = attach(*model, "prompt_tuning",
            { { "num_virtual_tokens", 2 }, { "prompt_tuning_init", "text" },
                { "prompt_tuning_init_token_ids", { 9, 10, 11 } } });
        QVERIFY(at::equal(a->state().front().second, rowsOf({ 9, 10 })));
        model->setInputPrefixHook(nullptr);

        // The text goes through the run's tokenizer when there is one.
        std::string seen;
        a = attach(*model, "prompt_tuning",
            { { "num_virtual_tokens", 4 }, { "prompt_tuning_init", "text" }, { "prompt_tuning_init_text", "hello" } },
            [&seen](const std::string& text) {
                seen = text;
                return std::vector<std::int32_t> { 1, 2, 3 };
            });
        QCOMPARE(QString::fromStdString(seen), QStringLiteral("hello"));
        QVERIFY(at::equal(a->state().front().second, rowsOf({ 1, 2, 3, 1 })));
        model->setInputPrefixHook(nullptr);

        auto messageOf = [&](const json& params) {
            try {
                attach(*model, "prompt_tuning", params);
            } catch (const InputError& e) {
                model->setInputPrefixHook(nullptr);
                return QString(e.what());
            }
            model->setInputPrefixHook(nullptr);
            return QString();
        };
        QString m = messageOf({ { "prompt_tuning_init", "text" }, { "prompt_tuning_init_text", "hello" } });
        QVERIFY2(m.contains("prompt_tuning_init_text") && m.contains("prompt_tuning_init_token_ids"), qPrintable(m));
        m = messageOf({ { "prompt_tuning_init", "text" } });
        QVERIFY2(m.contains("prompt_tuning_init"), qPrintable(m));
        m = messageOf({ { "prompt_tuning_init", "text" }, { "prompt_tuning_init_token_ids", { 3, 40 } } });
        QVERIFY2(m.contains("prompt_tuning_init_token_ids: token id 40 is outside"), qPrintable(m));
        m = messageOf({ { "prompt_tuning_init_token_ids", { 3 } } });
        QVERIFY2(m.contains("only used with prompt_tuning_init: text"), qPrintable(m));
        m = messageOf({ { "num_virtual_tokens", 0 } });
        QVERIFY2(m.contains("num_virtual_tokens"), qPrintable(m));

        // Prefix: the MLP size needs the MLP; one adapter of a kind per model.
        QVERIFY_THROWS_EXCEPTION(InputError, attach(*model, "prefix_tuning", { { "encoder_hidden_size", 8 } }));
        auto prefix = attach(*model, "prefix_tuning", json::object());
        QCOMPARE(model->virtualTokenCount(), std::int64_t(20));
        QVERIFY_THROWS_EXCEPTION(InputError, attach(*model, "prefix_tuning", json::object()));
    }

    // GPT-2's learned positions: the virtual tokens take the first ones.
    void gpt2PositionsCountVirtualTokens()
    {
        const auto configs = model_test::architectureConfigs();
        const ModelConfig& config = configs.back().second;
        QCOMPARE(config.architecture, Architecture::Gpt2);
        QCOMPARE(config.maxPositionEmbeddings, std::int64_t(64));
        for (const char* name : { "prompt_tuning", "prefix_tuning" }) {
            auto model = createRandomCausalLM(config, 8);
            auto a = attach(*model, name, { { "num_virtual_tokens", 8 } });
            const std::vector<std::int32_t> prompt = idsOf(model_test::randomIds(1, 50, 61)[0]);
            GenerationOptions o;
            o.maxNewTokens = 20;
            const auto result = generate(*model, { prompt }, o)[0];
            QCOMPARE(result.tokens.size(), std::size_t(64 - 8 - 50));
            QCOMPARE(result.reason, FinishReason::Length);
            QVERIFY_THROWS_EXCEPTION(InputError, generate(*model, { idsOf(model_test::randomIds(1, 56, 62)[0]) }, o));
            QVERIFY_THROWS_EXCEPTION(InputError, logitsOf(*model, model_test::randomIds(1, 57, 63)));
            a->setEnabled(false);
            QCOMPARE(logitsOf(*model, model_test::randomIds(1, 64, 63)).size(1), std::int64_t(64));
        }
    }
};

QTEST_GUILESS_MAIN(TestPromptPrefix)
#include "test_prompt_prefix.moc"
