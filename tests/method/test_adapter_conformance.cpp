// Every adapter plugin through the same checks (PEFT's TEST_CASES idea), on
// tiny random models of two architectures:
//   - at initialisation the outputs equal the base model's, where the method promises it;
//   - the trainable-parameter count equals the method's formula (expectedTrainable below,
//     computed from the model's layer shapes, not from the adapter);
//   - a few SFT steps lower the loss;
//   - only the adapter's tensors change, every other parameter stays bit for bit;
//   - the saved state restored into a fresh attachment gives the same outputs;
//   - switched off (where it can be), the model is the base model again;
//   - merged (where it can be), the bare model gives the adapter's outputs within 1e-5.

#include "core/method/adapter.h"
#include "core/method/parameter_schema.h"
#include "core/method/plugin_registry.h"
#include "core/model/causal_lm.h"
#include "core/model/linear.h"
#include "core/model/model_writer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QtTest>

using namespace tunebench;
using nlohmann::json;

namespace {

std::unique_ptr<CausalLM> tinyModel(Architecture arch)
{
    RandomModelSpec spec;
    spec.architecture = arch;
    spec.vocabSize = 48;
    spec.hiddenSize = 16;
    spec.numLayers = 2;
    spec.numHeads = 4;
    if (arch != Architecture::Gpt2)
        spec.numKvHeads = 2;
    spec.intermediateSize = 32;
    return createRandomCausalLM(randomModelConfig(spec), 11);
}

at::Tensor logitsOf(const CausalLM& model, const at::Tensor& ids)
{
    at::NoGradGuard noGrad;
    ForwardInput in;
    in.inputIds = ids;
    return model.forward(in).logits;
}

double sftLoss(const CausalLM& model, const at::Tensor& ids)
{
    ForwardInput in;
    in.inputIds = ids;
    const at::Tensor logits = model.forward(in).logits;
    return at::cross_entropy_loss(logits.narrow(1, 0, ids.size(1) - 1).reshape({ -1, logits.size(-1) }),
        ids.narrow(1, 1, ids.size(1) - 1).reshape({ -1 }))
        .item<double>();
}

bool matchesTarget(const std::string& module, const json& targets)
{
    for (const auto& t : targets.is_array() ? targets : json::array({ targets })) {
        const std::string target = t.get<std::string>();
        if (target == "all-linear"
                ? module != "lm_head"
                : module == target || (module.size() > target.size() && module.ends_with("." + target)))
            return true;
    }
    return false;
}

// The number of trainable values each method promises, from its formula and
// the model's shapes. -1: the row does not check the count.
std::int64_t expectedTrainable(const std::string& adapter, const json& p, const CausalLM& model)
{
    std::int64_t total = 0;
    if (adapter == "full")
        return model.parameterCount();
    if (adapter == "lora") { // r (in + out) per targeted layer
        for (const Linear* l : model.linears()) {
            if (matchesTarget(l->name(), p.at("target_modules")))
                total += p.at("r").get<std::int64_t>() * (l->inFeatures() + l->outFeatures());
        }
        return total;
    }
    if (adapter == "bitfit") { // every bias (both test architectures: GPT-2 has them, Llama falls back to norm gains)
        for (const auto& [name, t] : model.namedParameters()) {
            if (name.ends_with(".bias"))
                total += t.numel();
        }
        if (total == 0) {
            for (const auto& [name, t] : model.namedParameters()) {
                if (name.find("norm") != std::string::npos || name.find("ln_") != std::string::npos)
                    total += t.numel();
            }
        }
        return total;
    }
    if (adapter == "prompt_tuning") // n virtual-token embeddings of the hidden size
        return p.at("num_virtual_tokens").get<std::int64_t>() * model.config().hiddenSize;
    if (adapter == "prefix_tuning") { // n keys and values per layer; with projection, the embedding and MLP
        const ModelConfig& c = model.config();
        const std::int64_t n = p.at("num_virtual_tokens").get<std::int64_t>();
        const std::int64_t kv = c.numKvHeads * c.headDim;
        const std::int64_t width = c.numLayers * 2 * kv;
        if (!p.at("prefix_projection").get<bool>())
            return n * width;
        const std::int64_t e = p.at("encoder_hidden_size").get<std::int64_t>() > 0
            ? p.at("encoder_hidden_size").get<std::int64_t>()
            : kv;
        return n * kv + (kv * e + e) + (e * width + width);
    }
    // @formulas: other adapters add their formula above this line.
    return -1;
}

std::map<std::string, at::Tensor> snapshot(const CausalLM& model)
{
    std::map<std::string, at::Tensor> out;
    for (const auto& [name, t] : model.namedParameters())
        out[name] = t.detach().clone();
    return out;
}

} // namespace

class TestAdapterConformance : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;

    std::unique_ptr<Adapter> attach(CausalLM& model, const QString& name, const QString& params)
    {
        auto adapter = m_plugins.createAdapter(name.toStdString());
        json config = json::parse(params.toStdString());
        const json resolved = m_plugins.require(PluginKind::Adapter, name.toStdString()).schema.resolve(config, "test");
        model.setRequiresGrad(false);
        adapter->attach({ model, resolved, 5 });
        return adapter;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ std::filesystem::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
    }

    void matrix_data()
    {
        QTest::addColumn<QString>("adapter");
        QTest::addColumn<QString>("params");
        QTest::addColumn<int>("architecture");
        QTest::addColumn<bool>("identityAtInit"); // the method promises the base model's outputs at the start
        for (auto [arch, label] :
            { std::pair { Architecture::Llama, "llama" }, std::pair { Architecture::Gpt2, "gpt2" } }) {
            const QString targets = arch == Architecture::Gpt2 ? "[\"c_attn\", \"c_fc\"]" : "[\"q_proj\", \"v_proj\"]";
            QTest::addRow("full %s", label) << "full"
                                            << "{}" << int(arch) << true;
            QTest::addRow("lora %s", label)
                << "lora" << QString("{\"r\": 4, \"target_modules\": %1}").arg(targets) << int(arch) << true;
            QTest::addRow("lora all-linear dropout %s", label)
                << "lora"
                << "{\"r\": 2, \"target_modules\": \"all-linear\", \"lora_dropout\": 0.1}" << int(arch) << true;
            QTest::addRow("rslora %s", label)
                << "lora" << QString("{\"r\": 4, \"use_rslora\": true, \"target_modules\": %1}").arg(targets)
                << int(arch) << true;
            QTest::addRow("freeze top layer %s", label) << "freeze"
                                                        << "{\"trainable_layers\": 1}" << int(arch) << true;
            QTest::addRow("freeze with decay and module %s", label)
                << "freeze"
                << QString("{\"trainable_layers\": 2, \"layerwise_lr_decay\": 0.5, \"trainable_modules\": [\"%1\"]}")
                       .arg(arch == Architecture::Gpt2 ? "wte" : "embed_tokens")
                << int(arch) << true;
            QTest::addRow("bitfit %s", label) << "bitfit"
                                              << "{}" << int(arch) << true;
            // Virtual tokens change the outputs from the start.
            QTest::addRow("prompt_tuning %s", label) << "prompt_tuning"
                                                     << "{\"num_virtual_tokens\": 4}" << int(arch) << false;
            QTest::addRow("prompt_tuning sample_vocab %s", label)
                << "prompt_tuning"
                << "{\"num_virtual_tokens\": 3, \"prompt_tuning_init\": \"sample_vocab\"}" << int(arch) << false;
            QTest::addRow("prompt_tuning text ids %s", label)
                << "prompt_tuning"
                << "{\"num_virtual_tokens\": 5, \"prompt_tuning_init\": \"text\", "
                   "\"prompt_tuning_init_token_ids\": [3, 1, 4]}"
                << int(arch) << false;
            QTest::addRow("prefix_tuning %s", label) << "prefix_tuning"
                                                     << "{\"num_virtual_tokens\": 4}" << int(arch) << false;
            QTest::addRow("prefix_tuning projection %s", label)
                << "prefix_tuning"
                << "{\"pre_seq_len\": 3, \"prefix_projection\": true, \"encoder_hidden_size\": 12}" << int(arch)
                << false;
            // @rows: other adapters add their rows above this line.
        }
    }

    void matrix()
    {
        QFETCH(QString, adapter);
        QFETCH(QString, params);
        QFETCH(int, architecture);
        QFETCH(bool, identityAtInit);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        const at::Tensor ids = model_test::randomIds(4, 12, 3, 48);
        const at::Tensor baseLogits = logitsOf(*model, ids);
        const auto before = snapshot(*model);

        auto a = attach(*model, adapter, params);
        if (identityAtInit)
            QVERIFY2(
                model_test::maxAbsDiff(logitsOf(*model, ids), baseLogits) < 1e-6, "outputs changed at initialisation");

        auto groups = a->parameterGroups(0.01);
        std::set<std::string> trainable;
        std::int64_t count = 0;
        for (auto& g : groups) {
            for (auto& p : g.parameters) {
                QVERIFY2(p.tensor.requires_grad(), p.name.c_str());
                trainable.insert(p.name);
                count += p.tensor.numel();
            }
        }
        QVERIFY(count > 0);
        json given = json::parse(params.toStdString());
        const json resolved
            = m_plugins.require(PluginKind::Adapter, adapter.toStdString()).schema.resolve(given, "test");
        const std::int64_t expected = expectedTrainable(adapter.toStdString(), resolved, *model);
        if (expected >= 0)
            QCOMPARE(count, expected);
        if (adapter != "full")
            QVERIFY(count < model->parameterCount());

        auto optimizer = makeAdamW(groups);
        const double first = sftLoss(*model, ids);
        for (int step = 0; step < 12; ++step) {
            optimizer->zeroGrad();
            ForwardInput in;
            in.inputIds = ids;
            const at::Tensor logits = model->forward(in).logits;
            at::cross_entropy_loss(logits.narrow(1, 0, 11).reshape({ -1, 48 }), ids.narrow(1, 1, 11).reshape({ -1 }))
                .backward();
            optimizer->step(adapter == "bitfit" ? 5e-2 : 1e-2);
        }
        const double last = sftLoss(*model, ids);
        QVERIFY2(last < first, qPrintable(QString("loss %1 -> %2").arg(first).arg(last)));

        // Only the adapter's own tensors (or, for methods that train model
        // parameters, exactly the chosen ones) may have changed.
        for (const auto& [name, t] : model->namedParameters()) {
            const bool changed = !at::equal(before.at(name), t.detach());
            if (changed)
                QVERIFY2(trainable.count(name) == 1, ("changed but not trainable: " + name).c_str());
        }

        // State round trip into a fresh model and attachment.
        const at::Tensor tunedLogits = logitsOf(*model, ids);
        auto fresh = tinyModel(arch);
        auto b = attach(*fresh, adapter, params);
        b->restoreState(a->state());
        QVERIFY2(model_test::maxAbsDiff(logitsOf(*fresh, ids), tunedLogits) < 1e-6, "restored state differs");

        if (a->canDisable()) {
            a->setEnabled(false);
            QVERIFY(model_test::maxAbsDiff(logitsOf(*model, ids), baseLogits) == 0.0);
            a->setEnabled(true);
            QVERIFY(model_test::maxAbsDiff(logitsOf(*model, ids), tunedLogits) == 0.0);
        }

        if (a->canMerge()) {
            a->merge();
            for (const Linear* l : model->linears())
                QVERIFY2(!l->hook(), ("a hook is left on " + l->name() + " after merging").c_str());
            const double diff = model_test::maxAbsDiff(logitsOf(*model, ids), tunedLogits);
            QVERIFY2(diff < 1e-5, qPrintable(QString("merged outputs differ by %1").arg(diff)));
        }
    }

    void layerwiseDecayScales()
    {
        auto model = tinyModel(Architecture::Llama);
        auto a = attach(*model, "freeze", "{\"trainable_layers\": 2, \"layerwise_lr_decay\": 0.5}");
        std::map<std::string, double> scale;
        for (const auto& g : a->parameterGroups(0.0)) {
            for (const auto& p : g.parameters)
                scale[p.name] = g.lrScale;
        }
        QCOMPARE(scale.at("model.layers.1.self_attn.q_proj.weight"), 1.0);
        QCOMPARE(scale.at("model.layers.0.self_attn.q_proj.weight"), 0.5);
    }

    void badParametersNameTheProblem()
    {
        auto model = tinyModel(Architecture::Llama);
        try {
            attach(*model, "lora", "{\"target_modules\": [\"c_attn\"]}");
            QFAIL("attached to modules the model does not have");
        } catch (const InputError& e) {
            QVERIFY2(
                QString(e.what()).contains("target_modules: no linear layer of this model matches c_attn"), e.what());
            QVERIFY2(QString(e.what()).contains("q_proj"), e.what());
        }
        auto other = tinyModel(Architecture::Llama);
        QVERIFY_THROWS_EXCEPTION(InputError, attach(*other, "freeze", "{\"trainable_layers\": 9}"));
        auto third = tinyModel(Architecture::Llama);
        QVERIFY_THROWS_EXCEPTION(InputError, attach(*third, "bitfit", "{\"without_biases\": \"error\"}"));
    }
};

QTEST_GUILESS_MAIN(TestAdapterConformance)
#include "test_adapter_conformance.moc"
