// Optimisers against an independent scalar implementation of their formulas,
// gradient clipping, and exact state save/restore.

#include "core/train/gradients.h"
#include "core/train/optimizer.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <QtTest>

#include <cmath>

using namespace tunebench;

namespace {

// Plain-double AdamW for one scalar, written from the paper's update rule.
struct ScalarAdamW {
    double p, m = 0, v = 0;
    int t = 0;
    void step(double g, double lr, double wd, double b1 = 0.9, double b2 = 0.999, double eps = 1e-8)
    {
        ++t;
        p -= lr * wd * p;
        m = b1 * m + (1 - b1) * g;
        v = b2 * v + (1 - b2) * g * g;
        const double mHat = m / (1 - std::pow(b1, t));
        const double vHat = v / (1 - std::pow(b2, t));
        p -= lr * mHat / (std::sqrt(vHat) + eps);
    }
};

at::Tensor param(std::vector<double> values, std::vector<std::int64_t> shape)
{
    return at::tensor(values, at::kDouble).reshape(shape).requires_grad_(true);
}

// Gradient of sum(c * p^2) is 2 c p: differs per element and per step.
void backwardQuadratic(const std::vector<NamedParameter>& params)
{
    at::Tensor loss = at::zeros({}, at::kDouble);
    double c = 1.0;
    for (const auto& p : params) {
        loss = loss + (p.tensor.pow(2) * c).sum();
        c += 0.5;
    }
    loss.backward();
}

} // namespace

class TestOptimizer : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void adamwMatchesScalarReference()
    {
        at::Tensor w = param({ 0.5, -1.5, 2.0, 0.25 }, { 2, 2 });
        at::Tensor b = param({ 0.1, -0.2 }, { 2 });
        std::vector<NamedParameter> params { { "layer.weight", w }, { "layer.bias", b } };
        auto groups = defaultParameterGroups(params, 0.1);
        QCOMPARE(groups.size(), 2u);
        QCOMPARE(QString::fromStdString(groups[0].parameters[0].name), QStringLiteral("layer.weight"));
        QCOMPARE(groups[1].weightDecay, 0.0); // the bias is not decayed
        auto opt = makeAdamW(groups);

        std::vector<ScalarAdamW> ref;
        for (double x : { 0.5, -1.5, 2.0, 0.25, 0.1, -0.2 })
            ref.push_back({ x });
        const double lrs[] = { 1e-2, 5e-3, 2e-2, 1e-3, 1e-2 };
        for (double lr : lrs) {
            opt->zeroGrad();
            backwardQuadratic(params);
            for (int i = 0; i < 6; ++i) {
                const bool isWeight = i < 4;
                const double pv = ref[static_cast<std::size_t>(i)].p;
                const double g = 2.0 * (isWeight ? 1.0 : 1.5) * pv;
                ref[static_cast<std::size_t>(i)].step(g, lr, isWeight ? 0.1 : 0.0);
            }
            opt->step(lr);
        }
        const at::Tensor got = at::cat({ w.detach().flatten(), b.detach().flatten() });
        for (int i = 0; i < 6; ++i)
            QVERIFY2(std::abs(got[i].item<double>() - ref[static_cast<std::size_t>(i)].p) < 1e-12,
                qPrintable(QString("element %1: %2 vs %3").arg(i).arg(got[i].item<double>()).arg(ref[i].p)));
        QCOMPARE(opt->stepCount(), 5);
    }

    void lrScaleScalesTheWholeUpdate()
    {
        at::Tensor a = param({ 1.0, 2.0 }, { 1, 2 });
        at::Tensor b = param({ 1.0, 2.0 }, { 1, 2 });
        auto opt = makeAdamW({ { { { "a.weight", a } }, 0.1, 1.0 }, { { { "b.weight", b } }, 0.1, 0.5 } });
        opt->zeroGrad();
        (a.sum() + b.sum()).backward();
        opt->step(0.1);
        ScalarAdamW full { 1.0 }, half { 1.0 };
        full.step(1.0, 0.1, 0.1);
        half.step(1.0, 0.05, 0.1);
        QVERIFY(std::abs(a[0][0].item<double>() - full.p) < 1e-12);
        QVERIFY(std::abs(b[0][0].item<double>() - half.p) < 1e-12);
    }

    void sgdWithMomentum()
    {
        at::Tensor w = param({ 1.0, -2.0 }, { 1, 2 });
        auto opt = makeSgd({ { { { "w.weight", w } }, 0.0, 1.0 } }, { .momentum = 0.9 });
        double p0 = 1.0, buf = 0.0;
        for (int s = 0; s < 3; ++s) {
            opt->zeroGrad();
            w.pow(2).sum().backward();
            const double g = 2 * p0;
            buf = s == 0 ? g : 0.9 * buf + g;
            p0 -= 0.1 * buf;
            opt->step(0.1);
        }
        QVERIFY(std::abs(w[0][0].item<double>() - p0) < 1e-12);
    }

    void parametersWithoutGradientsAreLeftAlone()
    {
        at::Tensor used = param({ 1.0, 1.0 }, { 1, 2 });
        at::Tensor unused = param({ 3.0, 3.0 }, { 1, 2 });
        auto opt = makeAdamW({ { { { "used.weight", used }, { "unused.weight", unused } }, 0.5, 1.0 } });
        used.sum().backward();
        opt->step(0.1);
        QCOMPARE(unused[0][0].item<double>(), 3.0); // no gradient: not even decayed
        QVERIFY(used[0][0].item<double>() < 1.0);
    }

    void stateRoundTripContinuesExactly_data()
    {
        QTest::addColumn<bool>("adamw");
        QTest::newRow("adamw") << true;
        QTest::newRow("sgd momentum") << false;
    }

    void stateRoundTripContinuesExactly()
    {
        QFETCH(bool, adamw);
        auto make = [&](at::Tensor t) {
            std::vector<ParameterGroup> g { { { { "x.weight", t } }, 0.01, 1.0 } };
            return adamw ? makeAdamW(g) : makeSgd(g, { .momentum = 0.9, .nesterov = true });
        };
        auto train = [](Optimizer& opt, at::Tensor t, int steps) {
            for (int s = 0; s < steps; ++s) {
                opt.zeroGrad();
                (t.pow(3).sum() + t.sum()).backward();
                opt.step(1e-2);
            }
        };
        at::Tensor straight = param({ 0.3, -0.7, 1.1, 0.2 }, { 2, 2 });
        auto optA = make(straight);
        train(*optA, straight, 6);

        at::Tensor first = param({ 0.3, -0.7, 1.1, 0.2 }, { 2, 2 });
        auto optB = make(first);
        train(*optB, first, 3);
        std::map<std::string, at::Tensor> saved;
        for (auto& [k, v] : optB->state())
            saved[k] = v.clone();
        at::Tensor resumed = first.detach().clone().requires_grad_(true);
        auto optC = make(resumed);
        optC->restoreState(saved);
        QCOMPARE(optC->stepCount(), 3);
        train(*optC, resumed, 3);
        QVERIFY(at::equal(straight.detach(), resumed.detach())); // bit for bit
    }

    void restoreRefusesMismatchedState()
    {
        at::Tensor t = param({ 1.0, 2.0 }, { 1, 2 });
        auto opt = makeAdamW({ { { { "x.weight", t } }, 0.0, 1.0 } });
        std::map<std::string, at::Tensor> state = opt->state();
        state["x.weight.exp_avg"] = at::zeros({ 3 });
        try {
            opt->restoreState(state);
            QFAIL("accepted a state of the wrong shape");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("x.weight.exp_avg"), e.what());
        }
        state.erase("x.weight.exp_avg");
        QVERIFY_THROWS_EXCEPTION(InputError, opt->restoreState(state));
        QVERIFY_THROWS_EXCEPTION(InputError, makeAdamW({ { { { "x.weight", t }, { "x.weight", t } }, 0.0, 1.0 } }));
    }

    void clipping()
    {
        at::Tensor a = param({ 0.0, 0.0 }, { 1, 2 });
        at::Tensor b = param({ 0.0 }, { 1 });
        std::vector<ParameterGroup> groups { { { { "a.weight", a }, { "b.bias", b } }, 0.0, 1.0 } };
        a.mutable_grad() = at::tensor({ 3.0, 0.0 }, at::kDouble).reshape({ 1, 2 });
        b.mutable_grad() = at::tensor({ 4.0 }, at::kDouble);
        GradNorm n = clipGradNorm(groups, 0.0);
        QCOMPARE(n.norm, 5.0);
        QVERIFY(!n.clipped);
        n = clipGradNorm(groups, 1.0);
        QCOMPARE(n.norm, 5.0);
        QVERIFY(n.clipped);
        const double after = std::sqrt(a.grad().pow(2).sum().item<double>() + b.grad().pow(2).sum().item<double>());
        QVERIFY(std::abs(after - 1.0) < 1e-6);
        QVERIFY(!clipGradNorm(groups, 10.0).clipped);

        b.mutable_grad() = at::tensor({ std::nan("") }, at::kDouble);
        n = clipGradNorm(groups, 1.0);
        QVERIFY(!n.finite);
        QVERIFY(!n.clipped);
    }

    void decayConvention_data()
    {
        QTest::addColumn<QString>("name");
        QTest::addColumn<int>("dims");
        QTest::addColumn<bool>("decays");
        QTest::newRow("linear weight") << "model.layers.0.self_attn.q_proj.weight" << 2 << true;
        QTest::newRow("linear bias") << "model.layers.0.self_attn.q_proj.bias" << 1 << false;
        QTest::newRow("rms norm") << "model.layers.0.input_layernorm.weight" << 1 << false;
        QTest::newRow("final norm") << "model.norm.weight" << 1 << false;
        QTest::newRow("gpt2 ln") << "transformer.h.0.ln_1.weight" << 1 << false;
        QTest::newRow("embedding") << "model.embed_tokens.weight" << 2 << true;
        QTest::newRow("ia3 vector") << "model.layers.0.mlp.down_proj.ia3_l" << 1 << false;
    }

    void decayConvention()
    {
        QFETCH(QString, name);
        QFETCH(int, dims);
        QFETCH(bool, decays);
        at::Tensor t = dims == 2 ? at::zeros({ 2, 2 }) : at::zeros({ 2 });
        QCOMPARE(decaysByDefault({ name.toStdString(), t }), decays);
    }
};

QTEST_GUILESS_MAIN(TestOptimizer)
#include "test_optimizer.moc"
