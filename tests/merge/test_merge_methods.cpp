// Each merge method on hand-made tensors, against values worked out by hand
// in the comments (float64, so every expected value is exact).

#include "core/merge/merge_methods.h"
#include "core/merge/run_merge.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <QtTest>

using namespace tunebench;

namespace {

at::Tensor vec(std::vector<double> values)
{
    return at::tensor(values, at::TensorOptions().dtype(at::kDouble));
}

bool same(const at::Tensor& a, const at::Tensor& b)
{
    return a.sizes() == b.sizes() && at::equal(a.to(at::kDouble), b.to(at::kDouble));
}

QString text(const at::Tensor& t)
{
    return QString::fromStdString(c10::str(t));
}

#define CHECK_TENSOR(actual, expected)                                                                                 \
    QVERIFY2(same(actual, expected), qPrintable("got " + text(actual) + " expected " + text(expected)))

template <typename F> QString errorOf(F&& f)
{
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

} // namespace

class TestMergeMethods : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void taskVectorIsTheDifference()
    {
        const StateDict base { { "w", vec({ 1, 1, 1 }) } };
        const StateDict tuned { { "w", vec({ 2, 0, 1.5 }) } };
        CHECK_TENSOR(taskVector(base, tuned).at("w"), vec({ 1, -1, 0.5 }));
    }

    void uniformSoupAverages()
    {
        const std::vector<StateDict> models { { { "w", vec({ 1, 2, 3, 4 }) } }, { { "w", vec({ 3, 2, 1, 0 }) } } };
        CHECK_TENSOR(uniformSoup(models).at("w"), vec({ 2, 2, 2, 2 }));
        // Weights 3 and 1: (3 a + b) / 4.
        CHECK_TENSOR(uniformSoup(models, { 3, 1 }).at("w"), vec({ 1.5, 2, 2.5, 3 }));
        QVERIFY(errorOf([&] { uniformSoup(models, { 1 }); }).contains("one weight per model"));
        QVERIFY(errorOf([&] { uniformSoup(models, { 0, 0 }); }).contains("positive sum"));
    }

    void taskArithmeticScalesTheSum()
    {
        // tau_a = [1, -1, 0, 2], tau_b = [0, 2, 0, -2]; sum [1, 1, 0, 0]; base + 0.5 sum.
        const StateDict base { { "w", vec({ 1, 1, 1, 1 }) } };
        const std::vector<StateDict> tuned { { { "w", vec({ 2, 0, 1, 3 }) } }, { { "w", vec({ 1, 3, 1, -1 }) } } };
        CHECK_TENSOR(taskArithmetic(base, tuned, 0.5).at("w"), vec({ 1.5, 1.5, 1, 1 }));
        // Weights 1 and -0.5 (negating half of b): sum [1, -2, 0, 3]; lambda 1.
        CHECK_TENSOR(taskArithmetic(base, tuned, 1.0, { 1, -0.5 }).at("w"), vec({ 2, -1, 1, 4 }));
    }

    void tiesTrimKeepsTheLargestShare()
    {
        // density 0.4 of 5 entries: the 2 largest magnitudes, -3 and 2.
        CHECK_TENSOR(tiesTrim(vec({ 0.5, -3, 1, 2, -0.25 }), 0.4), vec({ 0, -3, 0, 2, 0 }));
        // Equal magnitudes: the earlier entry is kept.
        CHECK_TENSOR(tiesTrim(vec({ 1, -1, 0.5 }), 1.0 / 3.0), vec({ 1, 0, 0 }));
        CHECK_TENSOR(tiesTrim(vec({ 1, -1, 0.5 }), 0.0), vec({ 0, 0, 0 }));
        CHECK_TENSOR(tiesTrim(vec({ 1, -1, 0.5 }), 1.0), vec({ 1, -1, 0.5 }));
        // Shapes are kept: a 2 x 2 matrix, density 0.5 keeps 4 and -3.
        const at::Tensor m = vec({ 1, 4, -3, 2 }).view({ 2, 2 });
        CHECK_TENSOR(tiesTrim(m, 0.5), vec({ 0, 4, -3, 0 }).view({ 2, 2 }));
        QVERIFY(errorOf([] { tiesTrim(vec({ 1 }), 1.5); }).contains("density must be in [0, 1]"));
    }

    void tiesElectsTheSignOfTheSummedMassAndTakesTheDisjointMean()
    {
        // Sums [-1, -3, 4, 4]: signs -, -, +, +.
        // Entry 0: the negative ones, 2 of them: (-1 - 2) / 2 = -1.5 (the +2 disagrees).
        // Entry 1: -1, -2 -> -1.5. Entry 2: only 4 -> 4. Entry 3: 3 and 1 -> 2 (the 0 is no vote).
        const std::vector<at::Tensor> trimmed { vec({ 2, -1, 0, 3 }), vec({ -1, -2, 4, 0 }), vec({ -2, 0, 0, 1 }) };
        CHECK_TENSOR(tiesElectAndMean(trimmed), vec({ -1.5, -1.5, 4, 2 }));
        // A sum of exactly zero elects no sign: nothing is kept.
        CHECK_TENSOR(tiesElectAndMean({ vec({ 1 }), vec({ -1 }) }), vec({ 0 }));
    }

    void tiesMergesPerTensor()
    {
        // tau_a = [0.5, -3, 1, 2, -0.25] -> trimmed (density 0.4) [0, -3, 0, 2, 0];
        // tau_b = [1, 2, -0.1, 4, 0]     -> trimmed [0, 2, 0, 4, 0].
        // Sum [0, -1, 0, 6, 0]: entry 1 elects -, keeps -3; entry 3 elects +, mean of 2 and 4 = 3.
        // theta = 1 + 2 * [0, -3, 0, 3, 0].
        const StateDict base { { "w", vec({ 1, 1, 1, 1, 1 }) } };
        const std::vector<StateDict> tuned { { { "w", vec({ 1.5, -2, 2, 3, 0.75 }) } },
            { { "w", vec({ 2, 3, 0.9, 5, 1 }) } } };
        CHECK_TENSOR(ties(base, tuned, 0.4, 2.0).at("w"), vec({ 1, -5, 1, 7, 1 }));
    }

    void breadcrumbsDropsTheLargestAndSmallestShares()
    {
        // 10 entries; beta 0.2 drops the 2 largest (-5, -3), gamma 0.3 the 3 smallest (0.05, 0.1, -0.2).
        const at::Tensor tau = vec({ 0.1, -5, 0.3, 2, -0.2, 1, 0.05, -3, 0.4, 0.6 });
        const at::Tensor mask = breadcrumbsMask(tau, 0.2, 0.3);
        const at::Tensor expected
            = at::tensor(std::vector<std::uint8_t> { 0, 0, 1, 1, 0, 1, 0, 0, 1, 1 }).to(at::kBool);
        QVERIFY2(at::equal(mask, expected), qPrintable(text(mask)));
        QVERIFY(at::equal(breadcrumbsMask(tau, 0, 0), at::ones({ 10 }, at::kBool)));
        QVERIFY(errorOf([&] { breadcrumbsMask(tau, 0.6, 0.5); }).contains("beta + gamma must not exceed 1"));
    }

    void breadcrumbsMergesTheMaskedTaskVectors()
    {
        // beta = gamma = 0.25 of 4 entries: one largest and one smallest dropped per tensor.
        // tau_a = [4, -1, 2, 0.5]  -> [0, -1, 2, 0]; tau_b = [-0.1, 3, -2, 1] -> [0, 0, -2, 1].
        // Sum [0, -1, 0, 1]; theta = 10 + 0.5 * sum.
        const StateDict base { { "w", vec({ 10, 10, 10, 10 }) } };
        const std::vector<StateDict> tuned { { { "w", vec({ 14, 9, 12, 10.5 }) } },
            { { "w", vec({ 9.9, 13, 8, 11 }) } } };
        CHECK_TENSOR(breadcrumbs(base, tuned, 0.25, 0.25, 0.5).at("w"), vec({ 10, 9.5, 10, 10.5 }));
    }

    void layerPositionsFollowTheHfNames()
    {
        using K = LayerPosition::Kind;
        QVERIFY(layerPosition("model.layers.3.self_attn.q_proj.weight").kind == K::Block);
        QCOMPARE(layerPosition("model.layers.3.self_attn.q_proj.weight").block, std::int64_t(3));
        QCOMPARE(layerPosition("model.layers.12.mlp.down_proj.weight").block, std::int64_t(12));
        QCOMPARE(layerPosition("transformer.h.0.attn.c_attn.weight").block, std::int64_t(0));
        QVERIFY(layerPosition("transformer.h.0.attn.c_attn.weight").kind == K::Block);
        QVERIFY(layerPosition("model.embed_tokens.weight").kind == K::BeforeBlocks);
        QVERIFY(layerPosition("transformer.wte.weight").kind == K::BeforeBlocks);
        QVERIFY(layerPosition("transformer.wpe.weight").kind == K::BeforeBlocks);
        QVERIFY(layerPosition("model.norm.weight").kind == K::AfterBlocks);
        QVERIFY(layerPosition("transformer.ln_f.bias").kind == K::AfterBlocks);
        QVERIFY(layerPosition("lm_head.weight").kind == K::AfterBlocks);
    }

    void linesScalesByDepth()
    {
        // L = 3, alpha 0.25, beta 0.5: blocks 0.25, 0.5, 0.75; embeddings 0.25; norm and head 0.75.
        QCOMPARE(linesScale({ LayerPosition::Kind::Block, 0 }, 3, 0.25, 0.5), 0.25);
        QCOMPARE(linesScale({ LayerPosition::Kind::Block, 1 }, 3, 0.25, 0.5), 0.5);
        QCOMPARE(linesScale({ LayerPosition::Kind::Block, 2 }, 3, 0.25, 0.5), 0.75);
        QCOMPARE(linesScale({ LayerPosition::Kind::BeforeBlocks, 0 }, 3, 0.25, 0.5), 0.25);
        QCOMPARE(linesScale({ LayerPosition::Kind::AfterBlocks, 0 }, 3, 0.25, 0.5), 0.75);
        QCOMPARE(linesScale({ LayerPosition::Kind::Block, 0 }, 1, 0.25, 0.5), 0.75);
        QVERIFY(errorOf([] { linesScale({ LayerPosition::Kind::Block, 3 }, 3, 0.25, 0.5); }).contains("outside"));

        // One run (LiNeS applied to one fine-tuning): tau = 4 everywhere, base 0.
        const std::vector<std::string> names { "model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight",
            "model.layers.1.mlp.up_proj.weight", "model.layers.2.mlp.up_proj.weight", "model.norm.weight",
            "lm_head.weight" };
        StateDict base;
        StateDict tuned;
        StateDict other;
        for (const auto& n : names) {
            base[n] = vec({ 0, 0 });
            tuned[n] = vec({ 4, 4 });
            other[n] = vec({ 2, -2 });
        }
        const StateDict one = lines(base, { tuned }, 3, 0.25, 0.5);
        const std::vector<double> expected { 1, 1, 2, 3, 3, 3 };
        for (std::size_t i = 0; i < names.size(); ++i)
            CHECK_TENSOR(one.at(names[i]), vec({ expected[i], expected[i] }));
        // Two runs, weights 1 and 0.5: sum [5, 3], scaled by depth.
        const StateDict two = lines(base, { tuned, other }, 3, 0.25, 0.5, { 1, 0.5 });
        CHECK_TENSOR(two.at("model.layers.1.mlp.up_proj.weight"), vec({ 2.5, 1.5 }));
        CHECK_TENSOR(two.at("lm_head.weight"), vec({ 3.75, 2.25 }));
    }

    void greedySoupAddsWhatDoesNotHurt()
    {
        // Loss (x - 1)^2. Alone: a 0 -> 1, b 3 -> 4, c 1.5 -> 0.25, d 0.5 -> 0.25.
        // Order c, d (tie: given order), a, b. {c} 0.25; + d: mean 1.0 -> 0, kept;
        // + a: mean 2/3 -> 1/9, dropped; + b: mean 5/3 -> 4/9, dropped.
        const std::vector<StateDict> models { { { "x", vec({ 0 }) } }, { { "x", vec({ 3 }) } },
            { { "x", vec({ 1.5 }) } }, { { "x", vec({ 0.5 }) } } };
        int calls = 0;
        const auto loss = [&](const StateDict& s) {
            ++calls;
            const double x = s.at("x").item<double>();
            return (x - 1) * (x - 1);
        };
        const GreedySoupResult r = greedySoup(models, loss);
        QVERIFY(r.kept == (std::vector<std::size_t> { 2, 3 }));
        CHECK_TENSOR(r.merged.at("x"), vec({ 1.0 }));
        QCOMPARE(r.loss, 0.0);
        QCOMPARE(calls, 4 + 3);
        QCOMPARE(r.steps.size(), 4u);
        QCOMPARE(r.steps[0].ingredient, 2u);
        QCOMPARE(r.steps[1].ingredient, 3u);
        QVERIFY(r.steps[1].kept);
        QCOMPARE(r.steps[2].ingredient, 0u);
        QVERIFY(!r.steps[2].kept);
        QVERIFY(qAbs(r.steps[2].soupLoss - 1.0 / 9.0) < 1e-12);
        QVERIFY(!r.steps[3].kept);

        // A soup whose loss stays the same keeps the ingredient ("does not get worse").
        const GreedySoupResult tie = greedySoup({ { { "x", vec({ 1 }) } }, { { "x", vec({ 1 }) } } }, loss);
        QCOMPARE(tie.kept.size(), 2u);
    }

    void mismatchedModelsAreRefusedByName()
    {
        const StateDict base { { "a", vec({ 1, 2 }) }, { "b", vec({ 1 }) } };
        const StateDict wrongShape { { "a", vec({ 1, 2, 3 }) }, { "b", vec({ 1 }) } };
        const StateDict missing { { "a", vec({ 1, 2 }) } };
        const StateDict extra { { "a", vec({ 1, 2 }) }, { "b", vec({ 1 }) }, { "c", vec({ 1 }) } };
        QString e = errorOf([&] { taskArithmetic(base, { wrongShape }, 1.0); });
        QVERIFY2(e.contains("'a'") && e.contains("[3]") && e.contains("[2]"), qPrintable(e));
        e = errorOf([&] { ties(base, { missing }, 0.5, 1.0); });
        QVERIFY2(e.contains("no tensor 'b'"), qPrintable(e));
        e = errorOf([&] { breadcrumbs(base, { extra }, 0.1, 0.1, 1.0); });
        QVERIFY2(e.contains("'c'"), qPrintable(e));
        e = errorOf([&] { uniformSoup({ base, wrongShape }); });
        QVERIFY2(e.contains("'a'"), qPrintable(e));
        e = errorOf([&] { taskArithmetic(base, { base, base }, 1.0, { 1.0 }); });
        QVERIFY2(e.contains("one weight per model"), qPrintable(e));
    }

    void parametersAreResolvedPerMethod()
    {
        const nlohmann::json ties = resolveMergeParameters("ties", nlohmann::json::object());
        QCOMPARE(ties["density"].get<double>(), 0.2);
        QCOMPARE(ties["scaling"].get<double>(), 1.0);
        const nlohmann::json crumbs = resolveMergeParameters("breadcrumbs", { { "beta", 0.05 } });
        QCOMPARE(crumbs["beta"].get<double>(), 0.05);
        QCOMPARE(crumbs["gamma"].get<double>(), 0.85);
        const nlohmann::json linesParams = resolveMergeParameters("lines", nlohmann::json::object());
        QCOMPARE(linesParams["alpha"].get<double>(), 0.5);
        QCOMPARE(linesParams["beta"].get<double>(), 0.5);
        QString e = errorOf([] { resolveMergeParameters("soup", { { "density", 0.5 } }); });
        QVERIFY2(e.contains("soup takes no parameter 'density'"), qPrintable(e));
        e = errorOf([] { resolveMergeParameters("ties", { { "density", 2.0 } }); });
        QVERIFY2(e.contains("'density' must be in [0"), qPrintable(e));
        e = errorOf([] { resolveMergeParameters("breadcrumbs", { { "beta", 0.5 }, { "gamma", 0.6 } }); });
        QVERIFY2(e.contains("must not exceed 1"), qPrintable(e));
        e = errorOf([] { resolveMergeParameters("greedy_soup", { { "weights", { 1, 2 } } }); });
        QVERIFY2(e.contains("greedy_soup takes no parameter 'weights'"), qPrintable(e));
        e = errorOf([] { resolveMergeParameters("dare", nlohmann::json::object()); });
        QVERIFY2(e.contains("unknown") && e.contains("task_arithmetic"), qPrintable(e));
    }
};

QTEST_GUILESS_MAIN(TestMergeMethods)
#include "test_merge_methods.moc"
