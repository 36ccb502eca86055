// The LoRA-family plugins (rslora, dora, pissa, chain_of_lora) against their
// formulas, beyond the shared conformance matrix: each output computed again
// from the adapter's tensors, hand-worked numbers for DoRA, PiSSA's factors
// against the SVD, and chain of LoRA's links across folds, resume and merge.

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
#include <ATen/CPUGeneratorImpl.h>

#include <QtTest>

#include <cmath>
#include <map>

using namespace tunebench;
using nlohmann::json;

namespace {

using model_test::tinyModel;

using model_test::logitsOf;

at::Tensor sftLoss(const CausalLM& model, const at::Tensor& ids)
{
    ForwardInput in;
    in.inputIds = ids;
    const at::Tensor logits = model.forward(in).logits;
    return at::cross_entropy_loss(logits.narrow(1, 0, ids.size(1) - 1).reshape({ -1, logits.size(-1) }),
        ids.narrow(1, 1, ids.size(1) - 1).reshape({ -1 }));
}

std::string prefix(const std::string& module)
{
    return "base_model.model." + module;
}

std::map<std::string, at::Tensor> byName(const AdapterState& state)
{
    std::map<std::string, at::Tensor> out;
    for (const auto& [name, t] : state)
        out[name] = t;
    return out;
}

AdapterState withTensors(AdapterState state, const std::map<std::string, at::Tensor>& replace)
{
    for (auto& [name, t] : state) {
        auto it = replace.find(name);
        if (it != replace.end())
            t = it->second;
    }
    return state;
}

// The layer's weight as [out, in], whatever the layout.
at::Tensor weightOf(const Linear& layer)
{
    return layer.weightOutIn().detach().clone();
}

// W [out, in] x + bias, without any hook.
at::Tensor affine(const at::Tensor& x, const at::Tensor& w, const Linear& layer)
{
    at::Tensor y = at::matmul(x, w.t());
    return layer.hasBias() ? y + layer.bias().detach() : y;
}

const char* targetsOf(Architecture arch)
{
    return arch == Architecture::Gpt2 ? "[\"c_attn\", \"c_fc\"]" : "[\"q_proj\", \"v_proj\"]";
}

} // namespace

class TestLoraFamily : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;

    std::unique_ptr<Adapter> attach(CausalLM& model, const std::string& name, const json& params)
    {
        auto adapter = m_plugins.createAdapter(name);
        json config = params;
        const json resolved = m_plugins.require(PluginKind::Adapter, name).schema.resolve(config, "test");
        model.setRequiresGrad(false);
        adapter->attach({ model, resolved, 5 });
        return adapter;
    }

    // A few SFT steps with the trainer's afterStep protocol; returns each step's loss.
    static std::vector<double> train(CausalLM& model, Adapter& adapter, std::unique_ptr<Optimizer>& optimizer,
        const at::Tensor& ids, std::int64_t firstStep, std::int64_t lastStep)
    {
        std::vector<double> losses;
        for (std::int64_t step = firstStep; step <= lastStep; ++step) {
            optimizer->zeroGrad();
            at::Tensor loss = sftLoss(model, ids);
            losses.push_back(loss.item<double>());
            loss.backward();
            optimizer->step(1e-2);
            if (adapter.afterStep(step))
                optimizer = makeAdamW(adapter.parameterGroups(0.0));
        }
        return losses;
    }

    // The data of every test that runs on both weight layouts.
    static void architectures()
    {
        QTest::addColumn<int>("architecture");
        QTest::newRow("llama (nn.Linear)") << int(Architecture::Llama);
        QTest::newRow("gpt2 (Conv1D)") << int(Architecture::Gpt2);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load({ std::filesystem::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.broken().empty());
        for (const char* name : { "lora", "rslora", "dora", "pissa", "chain_of_lora" })
            QVERIFY2(m_plugins.find(PluginKind::Adapter, name), name);
    }

    // ---- rsLoRA ----

    void rsloraScalesBySqrtR_data() { architectures(); }
    void rsloraScalesBySqrtR()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        auto a = attach(
            *model, "rslora", { { "r", 4 }, { "lora_alpha", 6 }, { "target_modules", json::parse(targetsOf(arch)) } });
        // B is zero at the start; give it values so the update shows.
        const Linear& layer = *model->linear(
            arch == Architecture::Gpt2 ? "transformer.h.0.attn.c_attn" : "model.layers.0.self_attn.q_proj");
        auto state = byName(a->state());
        const std::string bName = prefix(layer.name()) + ".lora_B.weight";
        QVERIFY(state.count(bName) == 1);
        const at::Tensor b = at::randn({ layer.outFeatures(), 4 }, at::TensorOptions().dtype(at::kFloat));
        a->restoreState(withTensors(a->state(), { { bName, b } }));
        const at::Tensor aT = byName(a->state()).at(prefix(layer.name()) + ".lora_A.weight");

        const at::Tensor x = at::randn({ 3, layer.inFeatures() });
        at::NoGradGuard noGrad;
        const at::Tensor expected = affine(x, weightOf(layer) + at::matmul(b, aT) * (6.0 / std::sqrt(4.0)), layer);
        QVERIFY(model_test::maxAbsDiff(layer.forward(x), expected) < 1e-5);

        // The lora plugin with use_rslora gives the same tensors and outputs.
        auto other = tinyModel(arch);
        auto l = attach(*other, "lora",
            { { "r", 4 }, { "lora_alpha", 6 }, { "use_rslora", true },
                { "target_modules", json::parse(targetsOf(arch)) } });
        l->restoreState(a->state());
        QVERIFY(model_test::maxAbsDiff(other->linear(layer.name())->forward(x), layer.forward(x)) == 0.0);
    }

    // ---- DoRA ----

    // Hand-worked numbers: r = 1, alpha = 1 (s = 1), W0 = 3 I except W0[1][0] = 4,
    // A = e1^T, B = 4 e0, so V's row 0 is [3, 4, 0, ...] with norm 5 and row 1
    // [4, 3, 0, ...] (norm 5, a column norm would be 3 and 5 elsewhere). With
    // m0 = 10 (set) and m1 = 5 (initialised), x = [1, 2, 0, ...]:
    //   y0 = 10/5 (3 + 8) = 22,  y1 = 5/5 (4 + 6) = 10,  bias added unscaled.
    void doraHandWorked_data() { architectures(); }
    void doraHandWorked()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        const std::string module
            = arch == Architecture::Gpt2 ? "transformer.h.0.attn.c_attn" : "model.layers.0.self_attn.q_proj";
        Linear& layer = *model->linear(module);
        const std::int64_t in = layer.inFeatures();
        const std::int64_t out = layer.outFeatures();
        at::Tensor w0 = at::zeros({ out, in });
        for (std::int64_t i = 0; i < out; ++i)
            w0[i][i % in] = 3.0; // no zero rows: DoRA divides by the row norms
        w0[1][0] = 4.0;
        model->setParameter(module + ".weight", layer.layout() == Linear::Layout::OutIn ? w0 : w0.t().contiguous());
        if (layer.hasBias())
            model->setParameter(module + ".bias", at::full({ out }, 0.5));
        const double bias = layer.hasBias() ? 0.5 : 0.0;

        auto a = attach(
            *model, "dora", { { "r", 1 }, { "lora_alpha", 1 }, { "target_modules", json::array({ module }) } });
        auto state = byName(a->state());
        const std::string p = prefix(module);
        QVERIFY(state.at(p + ".lora_magnitude_vector").sizes() == at::IntArrayRef({ out }));
        QCOMPARE(state.at(p + ".lora_magnitude_vector")[1].item<double>(), 5.0); // ||W0 row 1||
        QCOMPARE(state.at(p + ".lora_magnitude_vector")[0].item<double>(), 3.0);
        at::Tensor aT = at::zeros({ 1, in });
        aT[0][1] = 1.0;
        at::Tensor bT = at::zeros({ out, 1 });
        bT[0][0] = 4.0;
        at::Tensor m = state.at(p + ".lora_magnitude_vector").clone();
        m[0] = 10.0;
        a->restoreState(withTensors(a->state(),
            { { p + ".lora_A.weight", aT }, { p + ".lora_B.weight", bT }, { p + ".lora_magnitude_vector", m } }));

        at::Tensor x = at::zeros({ 1, in });
        x[0][0] = 1.0;
        x[0][1] = 2.0;
        at::Tensor y;
        {
            at::NoGradGuard noGrad;
            y = layer.forward(x)[0]; // [out]
        }
        QCOMPARE(y[0].item<double>(), 22.0 + bias);
        QCOMPARE(y[1].item<double>(), 10.0 + bias);
        QCOMPARE(y[2].item<double>(), 0.0 + bias);
        if (out > in)
            QCOMPARE(y[in + 1].item<double>(), 6.0 + bias); // row in + 1 is 3 e1^T

        // Merged: W' row 0 = 10 [3, 4] / 5 = [6, 8], row 1 unchanged.
        a->merge();
        QVERIFY(!layer.hook());
        const at::Tensor merged = layer.weightOutIn();
        QVERIFY(std::abs(merged[0][0].item<double>() - 6.0) < 1e-6);
        QVERIFY(std::abs(merged[0][1].item<double>() - 8.0) < 1e-6);
        QVERIFY(std::abs(merged[1][0].item<double>() - 4.0) < 1e-6);
        QVERIFY(std::abs(merged[1][1].item<double>() - 3.0) < 1e-6);
        at::NoGradGuard noGrad;
        QVERIFY(std::abs(layer.forward(x)[0][0].item<double>() - (22.0 + bias)) < 1e-5);
    }

    // The hook's output and gradients against W' = m (W0 + s B A) / ||W0 + s B A||
    // formed directly, the norm detached as PEFT detaches it.
    void doraMatchesTheFormula_data() { architectures(); }
    void doraMatchesTheFormula()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        auto a = attach(*model, "dora", { { "r", 4 }, { "target_modules", json::parse(targetsOf(arch)) } });
        const double s = 16.0 / 4.0;
        // Random B and magnitude, so every term counts.
        std::map<std::string, at::Tensor> replace;
        for (const auto& [name, t] : a->state()) {
            if (name.ends_with(".lora_B.weight"))
                replace[name] = at::randn(t.sizes()) * 0.1;
            if (name.ends_with(".lora_magnitude_vector"))
                replace[name] = t * (1.0 + 0.2 * at::rand(t.sizes()));
        }
        a->restoreState(withTensors(a->state(), replace));

        for (const Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            const auto state = byName(a->state());
            const std::string p = prefix(layer->name());
            const at::Tensor aT = state.at(p + ".lora_A.weight").clone().requires_grad_(true);
            const at::Tensor bT = state.at(p + ".lora_B.weight").clone().requires_grad_(true);
            const at::Tensor m = state.at(p + ".lora_magnitude_vector").clone().requires_grad_(true);
            const at::Tensor v = weightOf(*layer) + at::matmul(bT, aT) * s; // [out, in]
            const at::Tensor norm = at::linalg_vector_norm(v, 2, at::IntArrayRef { 1 }, true).detach(); // [out, 1]
            const at::Tensor x = at::randn({ 2, 3, layer->inFeatures() });
            const at::Tensor expected = affine(x, m.unsqueeze(1) * v / norm, *layer);
            const at::Tensor got = layer->forward(x);
            QVERIFY2(model_test::maxAbsDiff(got, expected) < 1e-5, layer->name().c_str());

            // Gradients: the same weighting of both outputs.
            const at::Tensor weights = at::randn(expected.sizes());
            (expected * weights).sum().backward();
            (got * weights).sum().backward();
            std::map<std::string, at::Tensor> live;
            for (const auto& g : a->parameterGroups(0.0)) {
                for (const auto& param : g.parameters)
                    live[param.name] = param.tensor;
            }
            QVERIFY(model_test::maxAbsDiff(live.at(p + ".lora_A.weight").grad(), aT.grad()) < 1e-4);
            QVERIFY(model_test::maxAbsDiff(live.at(p + ".lora_B.weight").grad(), bT.grad()) < 1e-4);
            QVERIFY(model_test::maxAbsDiff(live.at(p + ".lora_magnitude_vector").grad(), m.grad()) < 1e-4);
            for (auto& [name, t] : live)
                t.mutable_grad().reset();
        }
    }

    // ---- PiSSA ----

    void pissaFactorsAreTheSvd_data() { architectures(); }
    void pissaFactorsAreTheSvd()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        const std::int64_t r = 4;
        const double alpha = 8;
        const double s = alpha / static_cast<double>(r);
        auto a = attach(*model, "pissa",
            { { "r", r }, { "lora_alpha", alpha }, { "target_modules", json::parse(targetsOf(arch)) } });
        const auto state = byName(a->state());
        int checked = 0;
        for (const Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            ++checked;
            const std::string p = prefix(layer->name());
            const at::Tensor w0 = weightOf(*layer).to(at::kDouble); // [out, in]
            const auto [u, sv, vh] = at::linalg_svd(w0, false);
            const at::Tensor root = (sv.narrow(0, 0, r) / s).sqrt();
            const at::Tensor expectA = root.unsqueeze(1) * vh.narrow(0, 0, r); // sqrt(S_r / s) V_r^T
            const at::Tensor expectB = u.narrow(1, 0, r) * root.unsqueeze(0); // U_r sqrt(S_r / s)
            const at::Tensor gotA = state.at(p + ".lora_A.weight");
            const at::Tensor gotB = state.at(p + ".lora_B.weight");
            QVERIFY(gotA.sizes() == at::IntArrayRef({ r, layer->inFeatures() }));
            QVERIFY(gotB.sizes() == at::IntArrayRef({ layer->outFeatures(), r }));
            QVERIFY(model_test::maxAbsDiff(gotA.to(at::kDouble), expectA) < 1e-6);
            QVERIFY(model_test::maxAbsDiff(gotB.to(at::kDouble), expectB) < 1e-6);
            QVERIFY(at::equal(state.at(p + ".pissa_init.lora_A.weight"), gotA));
            QVERIFY(at::equal(state.at(p + ".pissa_init.lora_B.weight"), gotB));
            // s B A is W0's best rank-r approximation U_r S_r V_r^T.
            const at::Tensor rankR
                = at::matmul(u.narrow(1, 0, r) * sv.narrow(0, 0, r).unsqueeze(0), vh.narrow(0, 0, r));
            QVERIFY(model_test::maxAbsDiff(at::matmul(gotB, gotA).to(at::kDouble) * s, rankR) < 1e-5);
        }
        QVERIFY(checked > 0);
    }

    // At full rank s B0 A0 is W0 itself, up to float32 rounding.
    void pissaFullRankReconstructsTheWeight_data() { architectures(); }
    void pissaFullRankReconstructsTheWeight()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        const std::string target = arch == Architecture::Gpt2 ? "c_proj" : "q_proj";
        auto a = attach(
            *model, "pissa", { { "r", 16 }, { "lora_alpha", 32 }, { "target_modules", json::array({ target }) } });
        const auto state = byName(a->state());
        for (const Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            QCOMPARE(std::min(layer->inFeatures(), layer->outFeatures()), 16);
            const std::string p = prefix(layer->name());
            const at::Tensor rebuilt = at::matmul(state.at(p + ".lora_B.weight"), state.at(p + ".lora_A.weight")) * 2.0;
            const double diff = model_test::maxAbsDiff(rebuilt, weightOf(*layer));
            QVERIFY2(diff < 1e-5, qPrintable(QString("%1: %2").arg(QString::fromStdString(layer->name())).arg(diff)));
        }
    }

    // Outputs at initialisation against the base model (tolerance 1e-4; the
    // residual is kept as -s B0 A0 x, so they are in fact bit for bit), and after
    // A and B moved, against the residual formulation (W0 - s B0 A0) x + s B A x.
    void pissaIdentityAndResidual_data() { architectures(); }
    void pissaIdentityAndResidual()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        const at::Tensor ids = model_test::randomIds(2, 10, 3, 48);
        const at::Tensor base = logitsOf(*model, ids);
        auto a = attach(*model, "pissa", { { "r", 4 }, { "target_modules", "all-linear" } });
        const double atInit = model_test::maxAbsDiff(logitsOf(*model, ids), base);
        QVERIFY2(atInit < 1e-4, qPrintable(QString::number(atInit)));
        QVERIFY(atInit == 0.0);

        std::map<std::string, at::Tensor> replace;
        for (const auto& [name, t] : a->state()) {
            if (name.ends_with(".lora_A.weight") && name.find("pissa_init") == std::string::npos)
                replace[name] = t + 0.05 * at::randn(t.sizes());
            if (name.ends_with(".lora_B.weight") && name.find("pissa_init") == std::string::npos)
                replace[name] = t + 0.05 * at::randn(t.sizes());
        }
        a->restoreState(withTensors(a->state(), replace));
        const auto state = byName(a->state());
        const double s = 16.0 / 4.0;
        at::NoGradGuard noGrad;
        for (const Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            const std::string p = prefix(layer->name());
            const at::Tensor residual = weightOf(*layer)
                - at::matmul(state.at(p + ".pissa_init.lora_B.weight"), state.at(p + ".pissa_init.lora_A.weight")) * s;
            const at::Tensor w
                = residual + at::matmul(state.at(p + ".lora_B.weight"), state.at(p + ".lora_A.weight")) * s;
            const at::Tensor x = at::randn({ 3, layer->inFeatures() });
            QVERIFY2(model_test::maxAbsDiff(layer->forward(x), affine(x, w, *layer)) < 1e-5, layer->name().c_str());
        }
    }

    void pissaRankAboveTheLayer()
    {
        auto model = tinyModel(Architecture::Llama);
        try {
            attach(*model, "pissa", { { "r", 17 }, { "target_modules", json::array({ "q_proj" }) } });
            QFAIL("accepted a rank above the layer's");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("r: "), e.what());
        }
    }

    // ---- chain of LoRA ----

    void chainStartsLinksAtTheRightSteps_data() { architectures(); }
    void chainStartsLinksAtTheRightSteps()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        auto model = tinyModel(arch);
        std::map<std::string, at::Tensor> frozenBase;
        for (const auto& [name, t] : model->namedParameters())
            frozenBase[name] = t.detach().clone();
        const at::Tensor ids = model_test::randomIds(4, 12, 3, 48);
        const json params = { { "r", 4 }, { "chain_links", 3 }, { "chain_link_steps", 2 },
            { "target_modules", json::parse(targetsOf(arch)) } };
        auto a = attach(*model, "chain_of_lora", params);
        const auto linkOf = [&] { return byName(a->state()).at("chain_of_lora.link").item<std::int64_t>(); };
        QCOMPARE(linkOf(), std::int64_t { 0 });
        std::unique_ptr<Optimizer> optimizer = makeAdamW(a->parameterGroups(0.0));

        // Link 0 is what the lora plugin draws with the same seed.
        {
            auto other = tinyModel(arch);
            auto l = attach(*other, "lora", { { "r", 4 }, { "target_modules", json::parse(targetsOf(arch)) } });
            const auto chainState = byName(a->state());
            for (const auto& [name, t] : l->state())
                QVERIFY2(at::equal(chainState.at(name), t), name.c_str());
        }

        std::vector<std::int64_t> started;
        for (std::int64_t step = 1; step <= 8; ++step) {
            optimizer->zeroGrad();
            sftLoss(*model, ids).backward();
            optimizer->step(1e-2);
            const at::Tensor before = logitsOf(*model, ids);
            std::map<std::string, at::Tensor> stateBefore; // state() shares the live tensors' memory
            for (const auto& [name, t] : a->state())
                stateBefore[name] = t.clone();
            if (!a->afterStep(step))
                continue;
            started.push_back(step);
            optimizer = makeAdamW(a->parameterGroups(0.0));
            // Folding changes no output, and the finished link is kept as it was.
            QCOMPARE(model_test::maxAbsDiff(logitsOf(*model, ids), before), 0.0);
            const std::int64_t link = linkOf();
            const auto state = byName(a->state());
            std::int64_t seen = 0;
            for (const auto& [name, t] : stateBefore) {
                if (!name.ends_with(".lora_A.weight") && !name.ends_with(".lora_B.weight"))
                    continue;
                if (name.find(".chain.") != std::string::npos)
                    continue;
                // The link in training before the fold is now chain.<link - 1>.
                const std::string module = name.substr(0, name.size() - std::string(".lora_A.weight").size());
                const std::string factor = name.substr(name.size() - std::string("lora_A.weight").size());
                QVERIFY(at::equal(state.at(module + ".chain." + std::to_string(link - 1) + "." + factor), t));
                ++seen;
            }
            QVERIFY(seen > 0);
            // The new link: B = 0, A Kaiming-uniform from seed + link, drawn layer by layer.
            at::Generator gen = at::detail::createCPUGenerator(5 + static_cast<std::uint64_t>(link));
            for (const Linear* layer : model->linears()) {
                if (!layer->hook())
                    continue;
                const double bound = 1.0 / std::sqrt(static_cast<double>(layer->inFeatures()));
                const at::Tensor expectA = at::empty({ 4, layer->inFeatures() }).uniform_(-bound, bound, gen);
                QVERIFY(at::equal(state.at(prefix(layer->name()) + ".lora_A.weight"), expectA));
                QVERIFY(state.at(prefix(layer->name()) + ".lora_B.weight").eq(0).all().item<bool>());
            }
        }
        QCOMPARE(started, (std::vector<std::int64_t> { 2, 4 })); // three links: started at 0, 2 and 4
        QCOMPARE(linkOf(), std::int64_t { 2 });
        std::int64_t trainable = 0;
        for (const auto& g : a->parameterGroups(0.0)) {
            for (const auto& p : g.parameters)
                trainable += p.tensor.numel();
        }
        std::int64_t expected = 0;
        for (const Linear* layer : model->linears())
            expected += layer->hook() ? 4 * (layer->inFeatures() + layer->outFeatures()) : 0;
        QCOMPARE(trainable, expected); // the link in training only

        for (const auto& [name, t] : model->namedParameters())
            QVERIFY2(at::equal(frozenBase.at(name), t.detach()), ("base parameter changed: " + name).c_str());

        // Merged: W0 + s sum_j B_j A_j, and the same outputs.
        const at::Tensor tuned = logitsOf(*model, ids);
        const auto state = byName(a->state());
        std::map<std::string, at::Tensor> expectedWeights;
        for (const Linear* layer : model->linears()) {
            if (!layer->hook())
                continue;
            const std::string p = prefix(layer->name());
            at::Tensor delta = at::matmul(state.at(p + ".lora_B.weight"), state.at(p + ".lora_A.weight"));
            for (int j = 0; j < 2; ++j) {
                const std::string link = p + ".chain." + std::to_string(j);
                delta = delta + at::matmul(state.at(link + ".lora_B.weight"), state.at(link + ".lora_A.weight"));
            }
            expectedWeights[layer->name()] = weightOf(*layer) + delta * 4.0; // s = 16 / 4
        }
        a->merge();
        for (const auto& [module, w] : expectedWeights)
            QVERIFY2(model_test::maxAbsDiff(weightOf(*model->linear(module)), w) < 1e-6, module.c_str());
        const double diff = model_test::maxAbsDiff(logitsOf(*model, ids), tuned);
        QVERIFY2(diff < 1e-5, qPrintable(QString::number(diff)));
    }

    // Stopped mid-chain and resumed from state() (with the optimiser's state, as
    // the trainer's checkpoints do) into a fresh model, the losses are the same bit
    // for bit, across the folds still to come.
    void chainResumesExactly_data() { architectures(); }
    void chainResumesExactly()
    {
        QFETCH(int, architecture);
        const auto arch = static_cast<Architecture>(architecture);
        const at::Tensor ids = model_test::randomIds(4, 12, 3, 48);
        const json params = { { "r", 2 }, { "chain_links", 4 }, { "chain_link_steps", 3 },
            { "target_modules", json::parse(targetsOf(arch)) } };

        auto straightModel = tinyModel(arch);
        auto straight = attach(*straightModel, "chain_of_lora", params);
        std::unique_ptr<Optimizer> optimizer = makeAdamW(straight->parameterGroups(0.0));
        const std::vector<double> all = train(*straightModel, *straight, optimizer, ids, 1, 12);

        auto firstModel = tinyModel(arch);
        auto first = attach(*firstModel, "chain_of_lora", params);
        std::unique_ptr<Optimizer> firstOptimizer = makeAdamW(first->parameterGroups(0.0));
        std::vector<double> losses = train(*firstModel, *first, firstOptimizer, ids, 1, 5); // link 1, mid-way
        const AdapterState saved = first->state();
        const auto optimizerState = firstOptimizer->state();
        QCOMPARE(byName(saved).at("chain_of_lora.link").item<std::int64_t>(), std::int64_t { 1 });

        auto resumedModel = tinyModel(arch);
        auto resumed = attach(*resumedModel, "chain_of_lora", params);
        resumed->restoreState(saved);
        QCOMPARE(model_test::maxAbsDiff(logitsOf(*resumedModel, ids), logitsOf(*firstModel, ids)), 0.0);
        std::unique_ptr<Optimizer> resumedOptimizer = makeAdamW(resumed->parameterGroups(0.0));
        resumedOptimizer->restoreState(optimizerState);
        const std::vector<double> rest = train(*resumedModel, *resumed, resumedOptimizer, ids, 6, 12);
        losses.insert(losses.end(), rest.begin(), rest.end());

        QCOMPARE(losses.size(), all.size());
        for (std::size_t i = 0; i < all.size(); ++i)
            QVERIFY2(losses[i] == all[i],
                qPrintable(QString("step %1: %2 vs %3").arg(i + 1).arg(losses[i], 0, 'g', 17).arg(all[i], 0, 'g', 17)));
        QVERIFY(all.back() < all.front());
        QCOMPARE(byName(resumed->state()).at("chain_of_lora.link").item<std::int64_t>(), std::int64_t { 3 });
    }

    void chainStateErrorsNameTheProblem()
    {
        auto model = tinyModel(Architecture::Llama);
        const json params = { { "r", 2 }, { "chain_links", 2 }, { "chain_link_steps", 1 } };
        auto a = attach(*model, "chain_of_lora", params);
        AdapterState state = a->state();
        for (auto& [name, t] : state) {
            if (name == "chain_of_lora.link")
                t = at::scalar_tensor(2, at::kLong);
        }
        try {
            a->restoreState(state);
            QFAIL("accepted link 2 of 2");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("chain_links is 2"), e.what());
        }
        for (auto& [name, t] : state) {
            if (name == "chain_of_lora.link")
                t = at::scalar_tensor(1, at::kLong); // link 1 needs link 0's tensors, which this state lacks
        }
        try {
            a->restoreState(state);
            QFAIL("accepted a state without the finished link");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(".chain.0.lora_A.weight"), e.what());
        }
        AdapterState noLink;
        for (const auto& [name, t] : a->state()) {
            if (name != "chain_of_lora.link")
                noLink.emplace_back(name, t);
        }
        QVERIFY_THROWS_EXCEPTION(InputError, a->restoreState(noLink));
    }

    // ---- all four ----

    void targetErrorsNameTheLayers_data()
    {
        QTest::addColumn<QString>("adapter");
        for (const char* name : { "rslora", "dora", "pissa", "chain_of_lora" })
            QTest::newRow(name) << QString(name);
    }
    void targetErrorsNameTheLayers()
    {
        QFETCH(QString, adapter);
        auto model = tinyModel(Architecture::Llama);
        try {
            attach(*model, adapter.toStdString(), { { "target_modules", json::array({ "c_attn" }) } });
            QFAIL("attached to modules the model does not have");
        } catch (const InputError& e) {
            QVERIFY2(
                QString(e.what()).contains("target_modules: no linear layer of this model matches c_attn"), e.what());
            QVERIFY2(QString(e.what()).contains("q_proj"), e.what());
        }
    }

    void schemasKnowPeftNames_data() { targetErrorsNameTheLayers_data(); }
    void schemasKnowPeftNames()
    {
        QFETCH(QString, adapter);
        const auto& schema = m_plugins.require(PluginKind::Adapter, adapter.toStdString()).schema;
        for (const char* key : { "r", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "use_rslora" })
            QVERIFY2(schema.find(key), key);
        QCOMPARE(schema.find("use_rslora")->defaultValue.get<bool>(), adapter == "rslora");
    }
};

QTEST_GUILESS_MAIN(TestLoraFamily)
#include "test_lora_family.moc"
