// GRPO's loss against values worked out by hand (plain arithmetic on the formulas of METHODS.md / TRL's
// GRPOTrainer) on two completions of two tokens, the second one token long: each loss_type's reduction, the
// clipping bounds, the k3 KL term, the gradient of one update per generation; and group advantages.

#include "core/reward/grpo_loss.h"
#include "core/util/error.h"

#include <ATen/ATen.h>

#include <QtTest>

#include <cmath>

using namespace tunebench;

namespace {

at::Tensor t2(std::initializer_list<float> v)
{
    return at::tensor(std::vector<float>(v), at::kFloat).view({ 2, 2 });
}

} // namespace

class TestGrpoLoss : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void loss_data()
    {
        QTest::addColumn<QString>("lossType");
        QTest::addColumn<double>("epsilonLow");
        QTest::addColumn<double>("epsilonHigh");
        QTest::addColumn<double>("beta");
        QTest::addColumn<double>("expected");
        QTest::addColumn<double>("clipRatio");
        // Row 0 (advantage +1): ratios e^0.1, e^-0.1; row 1 (advantage -1): ratio 1, and a masked token.
        QTest::newRow("grpo") << "grpo" << 0.2 << 0.2 << 0.0 << -0.002502084027901752 << 0.0;
        QTest::newRow("dr_grpo") << "dr_grpo" << 0.2 << 0.2 << 0.0 << -0.12625104201395088 << 0.0;
        QTest::newRow("dapo") << "dapo" << 0.2 << 0.2 << 0.0 << -0.33666944537053567 << 0.0;
        // e^0.1 > 1.05 with a positive advantage: clipped to 1.05 (one token of three).
        QTest::newRow("grpo clipped") << "grpo" << 0.05 << 0.05 << 0.0 << 0.01129064549101011 << 1.0 / 3;
        QTest::newRow("dapo clip-higher bound") << "dapo" << 0.2 << 0.05 << 0.0 << -0.3182791393453199 << 1.0 / 3;
        QTest::newRow("dapo wide upper bound") << "dapo" << 0.05 << 0.28 << 0.0 << -0.33666944537053567 << 0.0;
        QTest::newRow("grpo with KL") << "grpo" << 0.2 << 0.2 << 0.1 << -0.001775269297169868 << 0.0;
        QTest::newRow("dr_grpo with KL") << "dr_grpo" << 0.2 << 0.2 << 0.1 << -0.12595227112453053 << 0.0;
        QTest::newRow("dapo with KL") << "dapo" << 0.2 << 0.2 << 0.1 << -0.3358727229987481 << 0.0;
    }

    void loss()
    {
        QFETCH(QString, lossType);
        QFETCH(double, epsilonLow);
        QFETCH(double, epsilonHigh);
        QFETCH(double, beta);
        QFETCH(double, expected);
        QFETCH(double, clipRatio);
        const at::Tensor logp = t2({ -1.0f, -2.0f, -0.5f, -1.5f });
        const at::Tensor old = t2({ -1.1f, -1.9f, -0.5f, -1.0f });
        const at::Tensor ref = t2({ -1.2f, -2.0f, -0.4f, -1.0f });
        const at::Tensor adv = at::tensor({ 1.0f, -1.0f });
        const at::Tensor mask = t2({ 1, 1, 1, 0 });
        GrpoLossOptions o;
        o.type = grpoLossTypeFromString(lossType.toStdString());
        o.epsilonLow = epsilonLow;
        o.epsilonHigh = epsilonHigh;
        o.beta = beta;
        o.maxCompletionLength = 4;
        const GrpoLoss l = grpoLoss(logp, old, beta > 0 ? ref : at::Tensor(), adv, mask, o);
        QVERIFY2(std::abs(l.loss.item<double>() - expected) < 1e-6,
            qPrintable(QString::number(l.loss.item<double>(), 'g', 10)));
        QVERIFY(std::abs(l.clipRatio - clipRatio) < 1e-6);
        // k3 over the unmasked tokens: (e^-0.2 + 0.2 - 1 + 0 + e^0.1 - 0.1 - 1) / 3.
        QVERIFY(std::abs(l.kl - (beta > 0 ? 0.007967223717876504 : 0.0)) < 1e-6);
    }

    // One update per generation (old = the policy detached): the ratio is 1 and the gradient of the grpo loss is
    // -A / (|o| N) on each unmasked token.
    void onPolicyGradient()
    {
        const at::Tensor logp = t2({ -1.0f, -2.0f, -0.5f, -1.5f }).requires_grad_(true);
        GrpoLossOptions o;
        const GrpoLoss l = grpoLoss(logp, {}, {}, at::tensor({ 1.0f, -1.0f }), t2({ 1, 1, 1, 0 }), o);
        QVERIFY(std::abs(l.loss.item<double>() - 0.0) < 1e-7);
        l.loss.backward();
        QVERIFY(at::allclose(logp.grad(), t2({ -0.25f, -0.25f, 0.5f, 0.0f })));
    }

    void advantages_data()
    {
        QTest::addColumn<std::vector<double>>("rewards");
        QTest::addColumn<bool>("scale");
        QTest::addColumn<std::vector<double>>("expected");
        QTest::addColumn<double>("zeroStd");
        const double a = 0.5 / (std::sqrt(0.5) + 1e-4); // group {1, 0}: std (unbiased) sqrt(0.5)
        QTest::newRow("scaled") << std::vector<double> { 1, 0, 2, 2 } << true << std::vector<double> { a, -a, 0, 0 }
                                << 0.5;
        QTest::newRow("dr grpo: not scaled")
            << std::vector<double> { 1, 0, 3, 1 } << false << std::vector<double> { 0.5, -0.5, 1, -1 } << 0.0;
        QTest::newRow("groups of three") << std::vector<double> { 0, 0, 3 } << false
                                         << std::vector<double> { -1, -1, 2 } << 0.0;
    }

    void advantages()
    {
        QFETCH(std::vector<double>, rewards);
        QFETCH(bool, scale);
        QFETCH(std::vector<double>, expected);
        QFETCH(double, zeroStd);
        const std::int64_t group = rewards.size() == 3 ? 3 : 2;
        const GroupAdvantages g = groupAdvantages(at::tensor(rewards, at::kDouble), group, scale);
        QVERIFY(at::allclose(g.advantages, at::tensor(expected, at::kDouble), 1e-9, 1e-9));
        QCOMPARE(g.zeroStdShare, zeroStd);
    }

    // Mean-pooled hidden states [N, C, H] over masked tokens, 1 - mean pairwise cosine per group, mean over groups.
    void embeddingDiversity_data()
    {
        QTest::addColumn<std::vector<double>>("hidden"); // N x C x H = N x 2 x 2
        QTest::addColumn<std::vector<double>>("mask"); // N x 2
        QTest::addColumn<qint64>("groupSize");
        QTest::addColumn<double>("expected");
        // Group 1 pools to (1, 0) and (0, 1) (the masked (5, 5) left out): cosine 0. Group 2 pools to (2, 2) and
        // (0.5, 0.5): cosine 1. Mean of 1 and 0.
        QTest::newRow("two groups") << std::vector<double> { 1, 0, 1, 0, 0, 1, 5, 5, 1, 1, 3, 3, 1, 0, 0, 1 }
                                    << std::vector<double> { 1, 1, 1, 0, 1, 1, 1, 1 } << qint64(2) << 0.5;
        // (1, 0), (0, 1), (1, 1): cosines 0, 1/sqrt(2), 1/sqrt(2).
        QTest::newRow("group of three") << std::vector<double> { 1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 1, 1 }
                                        << std::vector<double> { 1, 1, 1, 1, 1, 1 } << qint64(3)
                                        << 1.0 - std::sqrt(2.0) / 3.0;
        // The empty completion is left out: (1, 0) against (1, 1).
        QTest::newRow("empty completion")
            << std::vector<double> { 1, 0, 1, 0, 9, 9, 9, 9, 1, 1, 1, 1 } << std::vector<double> { 1, 1, 0, 0, 1, 1 }
            << qint64(3) << 1.0 - 1.0 / std::sqrt(2.0);
        QTest::newRow("no group of two") << std::vector<double> { 1, 0, 1, 0, 9, 9, 9, 9 }
                                         << std::vector<double> { 1, 1, 0, 0 } << qint64(2) << -1.0;
    }

    void embeddingDiversity()
    {
        QFETCH(std::vector<double>, hidden);
        QFETCH(std::vector<double>, mask);
        QFETCH(qint64, groupSize);
        QFETCH(double, expected);
        const auto n = static_cast<std::int64_t>(mask.size() / 2);
        const at::Tensor h = at::tensor(hidden, at::kFloat).view({ n, 2, 2 });
        const at::Tensor m = at::tensor(mask, at::kFloat).view({ n, 2 });
        const double got = groupEmbeddingDiversity(h, m, groupSize);
        QVERIFY2(std::abs(got - expected) < 1e-6, qPrintable(QString("%1 vs %2").arg(got).arg(expected)));
    }

    void refusals()
    {
        QVERIFY_THROWS_EXCEPTION(InputError, groupAdvantages(at::zeros({ 5 }), 2, true));
        QVERIFY_THROWS_EXCEPTION(InputError, grpoLossTypeFromString("ppo"));
    }
};

QTEST_GUILESS_MAIN(TestGrpoLoss)
#include "test_grpo_loss.moc"
