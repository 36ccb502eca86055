// linearCrossEntropySum (core/model/linear_cross_entropy): the loss and the gradients of
// LibTorch's cross_entropy over h W^T, whatever the chunk size, with ignored targets, label
// smoothing, a frozen weight or frozen hidden states, and bfloat16 hidden states.
#include "core/model/linear_cross_entropy.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <QtTest/QtTest>

using namespace tunebench;

namespace {

struct Case {
    at::Tensor hidden;
    at::Tensor weight;
    at::Tensor targets;
};

Case makeCase(std::int64_t n, std::int64_t h, std::int64_t v, bool ignoreSome)
{
    at::Generator gen = at::detail::createCPUGenerator(17);
    Case c;
    c.hidden = at::randn({ n, h }, gen) * 2.0;
    c.weight = at::randn({ v, h }, gen) * 0.7;
    c.targets = at::randint(0, v, { n }, gen, at::TensorOptions().dtype(at::kLong));
    if (ignoreSome) {
        for (std::int64_t i = 0; i < n; i += 3)
            c.targets[i] = -100;
    }
    return c;
}

double relDiff(const at::Tensor& a, const at::Tensor& b)
{
    return (a - b).abs().max().item<double>() / std::max(b.abs().max().item<double>(), 1e-12);
}

} // namespace

class TestLinearCrossEntropy : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() { at::set_num_threads(1); }

    void matchesCrossEntropy_data()
    {
        QTest::addColumn<int>("chunk");
        QTest::addColumn<double>("smoothing");
        QTest::addColumn<bool>("ignoreSome");
        QTest::addColumn<bool>("hiddenGrad");
        QTest::addColumn<bool>("weightGrad");
        QTest::newRow("one chunk") << 1000 << 0.0 << false << true << true;
        QTest::newRow("chunks of 7, ignored targets") << 7 << 0.0 << true << true << true;
        QTest::newRow("chunks of 1, smoothing 0.1") << 1 << 0.1 << true << true << true;
        QTest::newRow("chunks of 16, frozen weight (LoRA)") << 16 << 0.0 << true << true << false;
        QTest::newRow("chunks of 5, frozen hidden") << 5 << 0.2 << false << false << true;
    }

    void matchesCrossEntropy()
    {
        QFETCH(int, chunk);
        QFETCH(double, smoothing);
        QFETCH(bool, ignoreSome);
        QFETCH(bool, hiddenGrad);
        QFETCH(bool, weightGrad);
        const Case c = makeCase(37, 12, 53, ignoreSome);

        const at::Tensor h1 = c.hidden.clone().requires_grad_(hiddenGrad);
        const at::Tensor w1 = c.weight.clone().requires_grad_(weightGrad);
        const at::Tensor expected
            = at::cross_entropy_loss(at::matmul(h1, w1.t()), c.targets, {}, at::Reduction::Sum, -100, smoothing);
        expected.backward();

        const at::Tensor h2 = c.hidden.clone().requires_grad_(hiddenGrad);
        const at::Tensor w2 = c.weight.clone().requires_grad_(weightGrad);
        const at::Tensor got = linearCrossEntropySum(h2, w2, c.targets, smoothing, chunk);
        QCOMPARE(got.scalar_type(), at::kFloat);
        QCOMPARE(got.dim(), 0);
        (got * 2.0).backward(); // backward scales the kept gradients by the incoming one

        QVERIFY2(std::abs(got.item<double>() - expected.item<double>()) <= 1e-5 * std::abs(expected.item<double>()),
            qPrintable(QStringLiteral("%1 vs %2").arg(got.item<double>()).arg(expected.item<double>())));
        if (hiddenGrad) {
            const double d = relDiff(h2.grad(), h1.grad() * 2.0);
            QVERIFY2(d < 1e-5, qPrintable(QStringLiteral("hidden gradient differs by %1").arg(d)));
        } else {
            QVERIFY(!h2.grad().defined());
        }
        if (weightGrad) {
            const double d = relDiff(w2.grad(), w1.grad() * 2.0);
            QVERIFY2(d < 1e-5, qPrintable(QStringLiteral("weight gradient differs by %1").arg(d)));
        } else {
            QVERIFY(!w2.grad().defined());
        }
    }

    // bfloat16 hidden states (what autocast gives) are computed in float32; the gradient comes
    // back in their own dtype.
    void lowPrecisionHidden()
    {
        const Case c = makeCase(20, 8, 31, true);
        const at::Tensor h = c.hidden.to(at::kBFloat16).requires_grad_(true);
        const at::Tensor got = linearCrossEntropySum(h, c.weight, c.targets, 0.0, 6);
        const at::Tensor expected = at::cross_entropy_loss(
            at::matmul(h.detach().to(at::kFloat), c.weight.t()), c.targets, {}, at::Reduction::Sum, -100, 0.0);
        QVERIFY(std::abs(got.item<double>() - expected.item<double>()) <= 1e-5 * std::abs(expected.item<double>()));
        got.backward();
        QCOMPARE(h.grad().scalar_type(), at::kBFloat16);
    }

    void allIgnored()
    {
        Case c = makeCase(9, 4, 11, false);
        c.targets.fill_(-100);
        const at::Tensor h = c.hidden.clone().requires_grad_(true);
        const at::Tensor got = linearCrossEntropySum(h, c.weight, c.targets, 0.0, 4);
        QCOMPARE(got.item<double>(), 0.0);
        got.backward();
        QCOMPARE(h.grad().abs().sum().item<double>(), 0.0);
    }

    void badInput_data()
    {
        QTest::addColumn<int>("which");
        QTest::newRow("target past the vocabulary") << 0;
        QTest::newRow("negative target other than -100") << 1;
        QTest::newRow("hidden size differs from the weight's") << 2;
        QTest::newRow("chunk of 0 tokens") << 3;
    }

    void badInput()
    {
        QFETCH(int, which);
        Case c = makeCase(6, 4, 10, false);
        std::int64_t chunk = 2;
        if (which == 0)
            c.targets[2] = 10;
        if (which == 1)
            c.targets[2] = -3;
        if (which == 2)
            c.weight = at::randn({ 10, 5 });
        if (which == 3)
            chunk = 0;
        QVERIFY_THROWS_EXCEPTION(InputError, linearCrossEntropySum(c.hidden, c.weight, c.targets, 0.0, chunk));
    }

    void chunkSize()
    {
        QCOMPARE(crossEntropyChunkTokens(32000), std::int64_t(1048));
        QCOMPARE(crossEntropyChunkTokens(151936), std::int64_t(220));
        QCOMPARE(crossEntropyChunkTokens(1 << 30), std::int64_t(64));
    }
};

QTEST_GUILESS_MAIN(TestLinearCrossEntropy)
#include "test_linear_cross_entropy.moc"
