// Every adapter plugin through the same checks (PEFT's TEST_CASES idea), on
// tiny random models of two architectures:
//   - at initialisation the outputs equal the base model's, where the method promises it;
//   - the trainable-parameter count equals the method's formula (expectedTrainable below,
//     computed from the model's layer shapes, not from the adapter);
//   - a few SFT steps lower the loss, driven as the trainer drives an adapter (beginStage,
//     afterStep and a fresh optimiser when it asks for one);
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
#include "core/train/optimizer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <ATen/ATen.h>

#include <QtTest>

using namespace tunebench;
using nlohmann::json;

namespace {

using model_test::tinyModel;

using model_test::logitsOf;

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
    if (adapter == "freeze") { // every parameter of the top trainable_layers layers, plus names holding a module
        const std::int64_t layers = model.config().numLayers;
        const std::int64_t top = p.at("trainable_layers").get<std::int64_t>();
        for (const auto& [name, t] : model.namedParameters()) {
            bool trains = false;
            for (std::int64_t l = layers - top; l < layers; ++l)
                trains = trains || name.find("layers." + std::to_string(l) + ".") != std::string::npos
                    || name.find("h." + std::to_string(l) + ".") != std::string::npos;
            for (const auto& m : p.at("trainable_modules"))
                trains = trains || name.find(m.get<std::string>()) != std::string::npos;
            total += trains ? t.numel() : 0;
        }
        return total;
    }
    if (adapter == "rslora" || adapter == "pissa") // LoRA's r (in + out) per targeted layer
        return expectedTrainable("lora", p, model);
    if (adapter == "chain_of_lora") // the link in training only: r (in + out) per targeted layer
        return expectedTrainable("lora", p, model);
    if (adapter == "dora") { // LoRA's count plus the magnitude, out per targeted layer
        total = expectedTrainable("lora", p, model);
        for (const Linear* l : model.linears()) {
            if (matchesTarget(l->name(), p.at("target_modules")))
                total += l->outFeatures();
        }
        return total;
    }
    if (adapter == "hft") { // every weight and bias of the layers' linear projections (all stages together)
        if (p.at("other_parameters") == "trainable")
            return model.parameterCount();
        for (const Linear* l : model.linears()) {
            if (l->name() != "lm_head")
                total += l->inFeatures() * l->outFeatures() + (l->hasBias() ? l->outFeatures() : 0);
        }
        return total;
    }
    if (adapter == "ia3") { // out per targeted layer, in per feed-forward one (PEFT's defaults when not given)
        const bool gpt2 = model.config().architecture == Architecture::Gpt2;
        json targets = p.at("target_modules");
        json feedforward = p.at("feedforward_modules");
        if (targets.empty())
            targets = gpt2 ? json { "c_attn", "mlp.c_proj" } : json { "k_proj", "v_proj", "down_proj" };
        if (feedforward.empty())
            feedforward = gpt2 ? json { "mlp.c_proj" } : json { "down_proj" };
        for (const Linear* l : model.linears()) {
            if (matchesTarget(l->name(), targets))
                total += matchesTarget(l->name(), feedforward) ? l->inFeatures() : l->outFeatures();
        }
        return total;
    }
    if (adapter == "sparse") { // the dense phase: every parameter whose name contains a trainable module
        for (const auto& [name, t] : model.namedParameters()) {
            bool chosen = p.at("trainable_modules").empty();
            for (const auto& m : p.at("trainable_modules"))
                chosen = chosen || name.find(m.get<std::string>()) != std::string::npos;
            total += chosen ? t.numel() : 0;
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
            QTest::addRow("rslora plugin %s", label)
                << "rslora" << QString("{\"r\": 4, \"target_modules\": %1}").arg(targets) << int(arch) << true;
            QTest::addRow("dora %s", label)
                << "dora" << QString("{\"r\": 4, \"target_modules\": %1}").arg(targets) << int(arch) << true;
            QTest::addRow("dora all-linear dropout %s", label)
                << "dora"
                << "{\"r\": 2, \"target_modules\": \"all-linear\", \"lora_dropout\": 0.1}" << int(arch) << true;
            QTest::addRow("pissa %s", label)
                << "pissa" << QString("{\"r\": 4, \"target_modules\": %1}").arg(targets) << int(arch) << true;
            // Three links of four steps: the matrix's twelve steps cross two folds.
            QTest::addRow("chain_of_lora %s", label)
                << "chain_of_lora"
                << QString("{\"r\": 4, \"chain_links\": 3, \"chain_link_steps\": 4, \"target_modules\": %1}")
                       .arg(targets)
                << int(arch) << true;
            QTest::addRow("hft %s", label) << "hft"
                                           << "{}" << int(arch) << true;
            QTest::addRow("hft quarter %s", label) << "hft"
                                                   << "{\"hft_ratio\": 0.25}" << int(arch) << true;
            QTest::addRow("ia3 defaults %s", label) << "ia3"
                                                    << "{}" << int(arch) << true;
            QTest::addRow("ia3 chosen modules %s", label)
                << "ia3"
                << (arch == Architecture::Gpt2
                           ? "{\"target_modules\": [\"c_attn\", \"attn.c_proj\", \"c_fc\"], \"feedforward_modules\": "
                             "[\"c_fc\"]}"
                           : "{\"target_modules\": [\"q_proj\", \"o_proj\", \"gate_proj\"], \"feedforward_modules\": "
                             "[\"gate_proj\"]}")
                << int(arch) << true;
            // dense_steps 6 of the 12: the matrix crosses the transition to the sparse phase.
            QTest::addRow("sparse transition %s", label)
                << "sparse"
                << "{\"trainable_modules\": [\"attn\", \"mlp\"], \"dense_steps\": 6, \"sparsity_k\": 300}" << int(arch)
                << true;
            QTest::addRow("sparse dense phase %s", label)
                << "sparse"
                << "{\"trainable_modules\": [\"mlp\"], \"dense_steps\": 100, \"density\": 0.1}" << int(arch) << true;
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

        // The trainer's protocol: beginStage when an epoch begins, afterStep
        // after each optimiser step (a fresh optimiser when it returns true).
        a->beginStage(0);
        auto groups = a->parameterGroups(0.01);
        std::set<std::string> trainable;
        std::set<std::string> frozenListed; // listed, but not trained in this stage (HFT's other half)
        std::int64_t count = 0;
        for (auto& g : groups) {
            for (auto& p : g.parameters) {
                if (adapter != "hft")
                    QVERIFY2(p.tensor.requires_grad(), p.name.c_str());
                if (!p.tensor.requires_grad())
                    frozenListed.insert(p.name);
                trainable.insert(p.name);
                count += p.tensor.numel();
            }
        }
        QVERIFY(frozenListed.size() < trainable.size());
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
            // As the trainer does: an adapter that changed its tensors gets a fresh optimiser.
            if (a->afterStep(step + 1)) {
                groups = a->parameterGroups(0.01);
                optimizer = makeAdamW(groups);
            }
        }
        const double last = sftLoss(*model, ids);
        QVERIFY2(last < first, qPrintable(QString("loss %1 -> %2").arg(first).arg(last)));

        // Only the adapter's own tensors (or, for methods that train model
        // parameters, exactly the chosen ones) may have changed.
        for (const auto& [name, t] : model->namedParameters()) {
            const bool changed = !at::equal(before.at(name), t.detach());
            if (changed)
                QVERIFY2(trainable.count(name) == 1, ("changed but not trainable: " + name).c_str());
            if (changed)
                QVERIFY2(frozenListed.count(name) == 0, ("changed while frozen in this stage: " + name).c_str());
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

        const std::pair<const char*, const char*> cases[] = {
            { "{\"target_modules\": [\"c_attn\"]}", "target_modules: no linear layer of this model matches c_attn" },
            { "{\"target_modules\": [\"k_proj\", \"v_proj\"], \"feedforward_modules\": [\"down_proj\"]}",
                "feedforward_modules: 'down_proj' matches none of the layers target_modules selects" },
        };
        for (const auto& [params, message] : cases) {
            auto m = tinyModel(Architecture::Llama);
            try {
                attach(*m, "ia3", params);
                QFAIL(params);
            } catch (const InputError& e) {
                QVERIFY2(QString(e.what()).contains(message), e.what());
            }
        }
        auto fourth = tinyModel(Architecture::Llama);
        try {
            attach(*fourth, "sparse", "{\"trainable_modules\": [\"q_proj\"], \"sparsity_k\": 100000}");
            QFAIL("kept more entries than the parameters hold");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("sparsity_k: 100000 entries asked for"), e.what());
        }
        auto fifth = tinyModel(Architecture::Gpt2);
        try {
            attach(*fifth, "sparse", "{\"trainable_modules\": [\"q_proj\"]}");
            QFAIL("trained modules the model does not have");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("trainable_modules: no parameter name of this model contains 'q_proj'"),
                e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestAdapterConformance)
#include "test_adapter_conformance.moc"
