// The invariants every architecture must satisfy on random weights: KV-cache
// decoding equals full recomputation, causality, a padded batch equals its
// prompts one by one, HF parameter names, hooks, gradients, save and reload.

#include "core/model/causal_lm.h"
#include "core/model/kv_cache.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/util/error.h"

#include "model_test_support.h"

#include <QtTest>

using namespace tunebench;
using model_test::maxAbsDiff;
using model_test::randomIds;

namespace {

constexpr double kTolerance = 1e-4;

// Zeroes a layer's output: a hook that visibly changes the model.
class ZeroHook final : public LinearHook {
public:
    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override { return layer.baseForward(x) * 0; }
};

class PassThroughHook final : public LinearHook {
public:
    at::Tensor forward(const Linear& layer, const at::Tensor& x) const override { return layer.baseForward(x); }
};

} // namespace

class TestArchitectures : public QObject {
    Q_OBJECT

    ModelConfig m_config;
    std::unique_ptr<CausalLM> m_model;

    void makeModel()
    {
        QFETCH(int, row);
        m_config = model_test::architectureConfigs()[static_cast<std::size_t>(row)].second;
        m_model = createRandomCausalLM(m_config, 1234 + static_cast<std::uint64_t>(row));
    }

    at::Tensor logits(const at::Tensor& ids, const at::Tensor& mask = {}) const
    {
        ForwardInput in;
        in.inputIds = ids;
        in.attentionMask = mask;
        return m_model->forward(in).logits;
    }

    static void architectureRows()
    {
        QTest::addColumn<int>("row");
        int i = 0;
        for (const auto& [name, config] : model_test::architectureConfigs())
            QTest::newRow(name.c_str()) << i++;
    }

private Q_SLOTS:
    void init() { at::manual_seed(7); }

    void huggingFaceNames_data() { architectureRows(); }
    void huggingFaceNames()
    {
        makeModel();
        const auto names = m_model->parameterNames();
        auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
        const std::int64_t h = m_config.hiddenSize;
        if (m_config.architecture == Architecture::Gpt2) {
            QVERIFY(has("transformer.wte.weight") && has("transformer.wpe.weight") && has("transformer.ln_f.bias"));
            // Conv1D keeps the checkpoint's [in, out] layout.
            QVERIFY(m_model->parameter("transformer.h.1.attn.c_attn.weight").sizes() == at::IntArrayRef({ h, 3 * h }));
            QVERIFY(m_model->parameter("transformer.h.0.mlp.c_fc.weight").sizes()
                == at::IntArrayRef({ h, m_config.intermediateSize }));
            QVERIFY(m_model->linear("transformer.h.0.attn.c_attn") != nullptr);
            QCOMPARE(m_model->linear("transformer.h.0.attn.c_attn")->weightOutIn().size(0), 3 * h);
            QCOMPARE(names.size(), std::size_t(2 + 12 * m_config.numLayers + 2));
        } else {
            QVERIFY(has("model.embed_tokens.weight") && has("model.norm.weight"));
            QVERIFY(has("model.layers.1.self_attn.q_proj.weight") && has("model.layers.1.mlp.down_proj.weight"));
            QVERIFY(m_model->parameter("model.layers.0.self_attn.k_proj.weight").sizes()
                == at::IntArrayRef({ m_config.numKvHeads * m_config.headDim, h }));
            QCOMPARE(has("model.layers.0.self_attn.q_proj.bias"), m_config.qkvBias);
            QCOMPARE(has("model.layers.0.self_attn.o_proj.bias"), m_config.outputBias);
            QCOMPARE(has("model.layers.0.mlp.up_proj.bias"), m_config.mlpBias);
            QCOMPARE(has("model.layers.0.self_attn.q_norm.weight"), m_config.qkNorm);
            QVERIFY(m_model->linear("model.layers.1.self_attn.o_proj") != nullptr);
            QVERIFY(m_model->linear("model.layers.1.mlp.gate_proj") != nullptr);
        }
        QCOMPARE(has("lm_head.weight"), !m_config.tieWordEmbeddings);
        QVERIFY(m_model->linear("model.layers.9.nothing") == nullptr);
        QVERIFY_THROWS_EXCEPTION(InputError, m_model->parameter("nope"));
    }

    void kvCacheMatchesFullRecompute_data() { architectureRows(); }
    void kvCacheMatchesFullRecompute()
    {
        makeModel();
        const at::Tensor ids = randomIds(2, 12, 11);
        const at::Tensor full = logits(ids);
        KvCache cache(m_config.numLayers);
        std::vector<at::Tensor> pieces;
        std::int64_t start = 0;
        for (std::int64_t chunk : { 5, 1, 1, 3, 1, 1 }) {
            ForwardInput in;
            in.inputIds = ids.narrow(1, start, chunk);
            in.cache = &cache;
            pieces.push_back(m_model->forward(in).logits);
            start += chunk;
        }
        QCOMPARE(cache.length(), std::int64_t(12));
        const double diff = maxAbsDiff(at::cat(pieces, 1), full);
        qInfo("max |cached - full| = %.3g", diff);
        QVERIFY(diff < kTolerance);
    }

    void causality_data() { architectureRows(); }
    void causality()
    {
        makeModel();
        const at::Tensor ids = randomIds(1, 12, 12);
        at::Tensor changed = ids.clone();
        changed[0][7] = (ids[0][7].item<std::int64_t>() + 1) % (model_test::kVocab - 1);
        const at::Tensor a = logits(ids);
        const at::Tensor b = logits(changed);
        const double before = maxAbsDiff(a.narrow(1, 0, 7), b.narrow(1, 0, 7));
        const double after = maxAbsDiff(a.narrow(1, 7, 5), b.narrow(1, 7, 5));
        qInfo("earlier positions moved by %.3g, later by %.3g", before, after);
        QVERIFY(before < 1e-6);
        QVERIFY(after > 1e-3); // the change is visible where it may be
    }

    void paddedBatchMatchesSingles_data() { architectureRows(); }
    void paddedBatchMatchesSingles()
    {
        makeModel();
        const std::vector<std::int64_t> lengths { 3, 9, 6 };
        const std::int64_t width = 9;
        at::Tensor batch = at::zeros({ 3, width }, at::kLong);
        at::Tensor mask = at::zeros({ 3, width }, at::kLong);
        std::vector<at::Tensor> singles;
        for (std::size_t i = 0; i < lengths.size(); ++i) {
            const at::Tensor ids = randomIds(1, lengths[i], 100 + i);
            singles.push_back(logits(ids));
            const std::int64_t pad = width - lengths[i];
            batch[static_cast<std::int64_t>(i)].narrow(0, pad, lengths[i]).copy_(ids[0]);
            mask[static_cast<std::int64_t>(i)].narrow(0, pad, lengths[i]).fill_(1);
        }
        const at::Tensor batched = logits(batch, mask);
        double worst = 0;
        for (std::size_t i = 0; i < lengths.size(); ++i) {
            const at::Tensor real = batched[static_cast<std::int64_t>(i)].narrow(0, width - lengths[i], lengths[i]);
            worst = std::max(worst, maxAbsDiff(real, singles[i][0]));
        }
        qInfo("max |padded batch - single| = %.3g", worst);
        QVERIFY(worst < kTolerance);
    }

    void outputsAndOptions_data() { architectureRows(); }
    void outputsAndOptions()
    {
        makeModel();
        const at::Tensor ids = randomIds(2, 6, 13);
        ForwardInput in;
        in.inputIds = ids;
        in.outputHiddenStates = true;
        const ForwardOutput full = m_model->forward(in);
        QVERIFY(full.logits.sizes() == at::IntArrayRef({ 2, 6, m_config.vocabSize }));
        QCOMPARE(full.hiddenStates.size(), static_cast<std::size_t>(m_config.numLayers + 1));
        QVERIFY(full.hiddenStates.back().sizes() == at::IntArrayRef({ 2, 6, m_config.hiddenSize }));
        in.outputHiddenStates = false;
        in.lastPositionOnly = true;
        const at::Tensor last = m_model->forward(in).logits;
        QVERIFY(last.sizes() == at::IntArrayRef({ 2, 1, m_config.vocabSize }));
        QVERIFY(maxAbsDiff(last, full.logits.narrow(1, 5, 1)) < 1e-5);
        // Explicit positions equal to the default ones change nothing.
        in.lastPositionOnly = false;
        in.positionIds = at::arange(6, at::kLong).unsqueeze(0).expand({ 2, 6 });
        QVERIFY(maxAbsDiff(m_model->forward(in).logits, full.logits) < 1e-6);
    }

    void badInputs_data() { architectureRows(); }
    void badInputs()
    {
        makeModel();
        QVERIFY_THROWS_EXCEPTION(InputError, logits(at::full({ 1, 3 }, m_config.vocabSize, at::kLong)));
        QVERIFY_THROWS_EXCEPTION(InputError, logits(at::full({ 1, 3 }, -1, at::kLong)));
        QVERIFY_THROWS_EXCEPTION(InputError, logits(at::zeros({ 1, 3 }, at::kFloat)));
        QVERIFY_THROWS_EXCEPTION(InputError, logits(at::zeros({ 3 }, at::kLong)));
        QVERIFY_THROWS_EXCEPTION(InputError, logits(at::zeros({ 1, 3 }, at::kLong), at::ones({ 1, 4 }, at::kLong)));
        if (m_config.architecture == Architecture::Gpt2)
            QVERIFY_THROWS_EXCEPTION(
                InputError, logits(at::zeros({ 1, m_config.maxPositionEmbeddings + 1 }, at::kLong)));
    }

    void linearHooks_data() { architectureRows(); }
    void linearHooks()
    {
        makeModel();
        const at::Tensor ids = randomIds(1, 5, 14);
        const at::Tensor base = logits(ids);
        const std::string name = m_config.architecture == Architecture::Gpt2 ? "transformer.h.0.mlp.c_proj"
                                                                             : "model.layers.0.mlp.down_proj";
        Linear* layer = m_model->linear(name);
        QVERIFY(layer);
        layer->setHook(std::make_shared<PassThroughHook>());
        QVERIFY(at::equal(logits(ids), base));
        layer->setHook(std::make_shared<ZeroHook>());
        QVERIFY(maxAbsDiff(logits(ids), base) > 1e-3);
        layer->setHook(nullptr);
        QVERIFY(at::equal(logits(ids), base));
    }

    void gradientsReachEveryParameter_data() { architectureRows(); }
    void gradientsReachEveryParameter()
    {
        makeModel();
        m_model->setRequiresGrad(true);
        const at::Tensor ids = randomIds(2, 6, 15);
        logits(ids).log_softmax(-1).select(-1, 3).sum().backward();
        for (const auto& [name, p] : m_model->namedParameters()) {
            QVERIFY2(p.is_leaf(), name.c_str());
            QVERIFY2(p.grad().defined() && p.grad().abs().sum().item<double>() > 0, name.c_str());
        }
    }

    void saveAndReload_data() { architectureRows(); }
    void saveAndReload()
    {
        makeModel();
        QTemporaryDir dir;
        const std::filesystem::path path = QFile::encodeName(dir.path()).toStdString();
        saveModelFolder(*m_model, path / "single");
        saveModelFolder(*m_model, path / "sharded", 20'000);
        const at::Tensor ids = randomIds(2, 7, 16);
        const at::Tensor expected = logits(ids);
        for (const char* folder : { "single", "sharded" }) {
            std::unique_ptr<CausalLM> loaded = loadCausalLM(path / folder);
            QCOMPARE(loaded->parameterNames(), m_model->parameterNames());
            ForwardInput in;
            in.inputIds = ids;
            QVERIFY(at::equal(loaded->forward(in).logits, expected));
        }
        QVERIFY(std::filesystem::exists(path / "sharded" / "model.safetensors.index.json"));
        QVERIFY(!std::filesystem::exists(path / "sharded" / "model.safetensors"));
        int shards = 0;
        for (const auto& entry : std::filesystem::directory_iterator(path / "sharded"))
            shards += entry.path().filename().string().rfind("model-0000", 0) == 0;
        QVERIFY(shards >= 2);
    }

    // Mistral's window of 4 over 2 layers: token 0 reaches positions up to 6 and no further.
    void slidingWindowLimitsReach()
    {
        const auto configs = model_test::architectureConfigs();
        const ModelConfig& config = configs[2].second;
        QCOMPARE(config.slidingWindow, std::optional<std::int64_t>(4));
        m_config = config;
        m_model = createRandomCausalLM(config, 99);
        const at::Tensor ids = randomIds(1, 10, 17);
        at::Tensor changed = ids.clone();
        changed[0][0] = (ids[0][0].item<std::int64_t>() + 1) % (model_test::kVocab - 1);
        const at::Tensor a = logits(ids);
        const at::Tensor b = logits(changed);
        QVERIFY(maxAbsDiff(a.narrow(1, 6, 1), b.narrow(1, 6, 1)) > 1e-4);
        QVERIFY(maxAbsDiff(a.narrow(1, 7, 3), b.narrow(1, 7, 3)) < 1e-6);
    }
};

QTEST_GUILESS_MAIN(TestArchitectures)
#include "test_architectures.moc"
