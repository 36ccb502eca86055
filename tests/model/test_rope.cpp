// Rotary embeddings: frequencies for every scaling type against values
// computed by hand (in double precision, offline), YaRN's attention factor,
// and the rotation's defining properties. tests/reference/compare_transformers.py
// compares whole models with each scaling against transformers.

#include "core/model/rope.h"

#include <QtTest>

#include <cmath>

using namespace tunebench;

namespace {

ModelConfig ropeConfig(std::int64_t headDim, double theta)
{
    ModelConfig c;
    c.architecture = Architecture::Llama;
    c.headDim = headDim;
    c.ropeTheta = theta;
    c.maxPositionEmbeddings = 128;
    return c;
}

void compareRelative(const at::Tensor& actual, std::int64_t index, double expected)
{
    const double got = actual[index].item<double>();
    QVERIFY2(std::abs(got - expected) <= 2e-6 * std::abs(expected),
        qPrintable(
            QString("inv_freq[%1] = %2, expected %3").arg(index).arg(got, 0, 'g', 10).arg(expected, 0, 'g', 10)));
}

} // namespace

class TestRope : public QObject {
    Q_OBJECT

private Q_SLOTS:
    // Llama 3.1's published setting: head_dim 128, theta 500000, factor 8,
    // low/high frequency factors 1 and 4, original context 8192. Expected values
    // from the formula in double precision: short wavelengths (< 2048) are kept,
    // long ones (> 8192) divided by 8, the band between interpolated.
    void llama3Published()
    {
        ModelConfig c = ropeConfig(128, 500000.0);
        c.ropeScaling = { RopeScaling::Type::Llama3, 8.0, 1.0, 4.0, 8192 };
        const at::Tensor inv = ropeInverseFrequencies(c);
        QCOMPARE(inv.size(0), std::int64_t(64));
        QCOMPARE(inv.scalar_type(), at::kFloat);
        compareRelative(inv, 0, 1.0);
        compareRelative(inv, 20, 0.016560440080994446); // wavelength 379: kept
        compareRelative(inv, 28, 0.0032114459947525913); // wavelength 1956: kept
        compareRelative(inv, 30, 0.0013718935677611381); // wavelength 2948: interpolated
        compareRelative(inv, 40, 3.428102195952591e-05); // wavelength 22911: divided by 8
        compareRelative(inv, 63, 3.068925988914511e-07);
    }

    // A short original context puts a small head's frequencies in all three bands.
    void llama3SmallContext()
    {
        ModelConfig c = ropeConfig(16, 500000.0);
        c.ropeScaling = { RopeScaling::Type::Llama3, 8.0, 1.0, 4.0, 64 };
        const at::Tensor inv = ropeInverseFrequencies(c);
        compareRelative(inv, 0, 1.0); // wavelength 6.3 < 16: kept
        compareRelative(inv, 1, 0.0794030091792082); // 32.4: smooth = (64/32.4 - 1) / 3
        compareRelative(inv, 2, 0.004700753866357992); // 167 > 64: / 8
        compareRelative(inv, 7, 1.2891731721515574e-06);
    }

    void defaultLinearDynamic()
    {
        ModelConfig c = ropeConfig(16, 10000.0);
        const at::Tensor base = ropeInverseFrequencies(c);
        for (std::int64_t i = 0; i < 8; ++i)
            compareRelative(base, i, std::pow(10000.0, -2.0 * static_cast<double>(i) / 16.0));

        c.ropeScaling.type = RopeScaling::Type::Linear;
        c.ropeScaling.factor = 4.0;
        const at::Tensor linear = ropeInverseFrequencies(c);
        for (std::int64_t i = 0; i < 8; ++i)
            compareRelative(linear, i, std::pow(10000.0, -2.0 * static_cast<double>(i) / 16.0) / 4.0);

        c.ropeScaling.type = RopeScaling::Type::Dynamic;
        c.ropeScaling.factor = 2.0;
        // Up to max_position_embeddings the frequencies are the default ones ...
        QVERIFY(at::allclose(ropeInverseFrequencies(c, 100), base));
        // ... beyond, the base grows: theta * (factor * len / max - (factor - 1))^(d / (d - 2)).
        const double grown = 10000.0 * std::pow(2.0 * 256.0 / 128.0 - 1.0, 16.0 / 14.0);
        const at::Tensor dynamic = ropeInverseFrequencies(c, 256);
        for (std::int64_t i = 0; i < 8; ++i)
            compareRelative(dynamic, i, std::pow(grown, -2.0 * static_cast<double>(i) / 16.0));
    }

    // YaRN, head_dim 32, theta 10000, factor 4 over an original context of 512: a pair turning more than
    // beta_fast (32) times over 512 positions keeps its frequency, fewer than beta_slow (1) times is divided
    // by 4. Unrounded those pairs are 1.62 and 7.65; truncated, the band is [1, 8] and the ramp (i - 1) / 7.
    void yarnDefaults()
    {
        ModelConfig c = ropeConfig(32, 10000.0);
        c.ropeScaling.type = RopeScaling::Type::Yarn;
        c.ropeScaling.factor = 4.0;
        c.ropeScaling.originalMaxPositionEmbeddings = 512;
        const at::Tensor inv = ropeInverseFrequencies(c);
        QCOMPARE(inv.size(0), std::int64_t(16));
        compareRelative(inv, 0, 1.0); // kept
        compareRelative(inv, 1, 0.5623413251903491); // the band's start: kept
        compareRelative(inv, 3, 0.1397219536459154); // 2/7 of the way to / 4
        compareRelative(inv, 5, 0.03213379001087709);
        compareRelative(inv, 8, 0.0025); // 10000^(-1/2) / 4
        compareRelative(inv, 15, 4.445698525097307e-05);
        // cos and sin carry the attention factor 0.1 ln 4 + 1.
        QCOMPARE(ropeAttentionScaling(c.ropeScaling), 1.138629436111989);
        RotaryEmbedding rotary(c);
        const auto [cos, sin] = rotary.cosSin(at::zeros({ 1, 1 }, at::kLong), at::kFloat);
        QCOMPARE(cos[0][0][0].item<float>(), static_cast<float>(1.138629436111989));
        QCOMPARE(sin[0][0][0].item<float>(), 0.0f);
    }

    // The options: betas 16 and 2 without truncation put the band at [2.83, 6.44]; attention_factor wins
    // over mscale / mscale_all_dim, which win over the factor alone.
    void yarnOptions()
    {
        ModelConfig c = ropeConfig(32, 10000.0);
        RopeScaling& s = c.ropeScaling;
        s.type = RopeScaling::Type::Yarn;
        s.factor = 4.0;
        s.originalMaxPositionEmbeddings = 512;
        s.betaFast = 16.0;
        s.betaSlow = 2.0;
        s.truncate = false;
        const at::Tensor inv = ropeInverseFrequencies(c);
        compareRelative(inv, 2, 0.31622776601683794);
        compareRelative(inv, 3, 0.1714731616983942);
        compareRelative(inv, 5, 0.03087385676740207);
        compareRelative(inv, 6, 0.010796108651350396);
        compareRelative(inv, 15, 4.445698525097307e-05);
        s.mscale = 0.8;
        s.mscaleAllDim = 0.5;
        QCOMPARE(ropeAttentionScaling(s), 1.0388929752217428); // (0.08 ln 4 + 1) / (0.05 ln 4 + 1)
        s.mscaleAllDim = 0.0; // transformers tests both for truth: 0 means absent
        QCOMPARE(ropeAttentionScaling(s), 1.138629436111989);
        s.attentionFactor = 0.875;
        QCOMPARE(ropeAttentionScaling(s), 0.875);
        s.factor = 1.0;
        s.attentionFactor.reset();
        QCOMPARE(ropeAttentionScaling(s), 1.0); // no stretch, no scaling
    }

    void rotationProperties()
    {
        ModelConfig c = ropeConfig(8, 10000.0);
        RotaryEmbedding rotary(c);
        const at::Tensor positions = at::arange(6, at::kLong).unsqueeze(0); // [1, 6]
        const auto [cos, sin] = rotary.cosSin(positions, at::kFloat); // [1, 6, 8]
        QVERIFY(cos.sizes() == at::IntArrayRef({ 1, 6, 8 }));
        const at::Tensor q = at::randn({ 1, 1, 1, 8 }).expand({ 1, 1, 6, 8 }).contiguous();
        const at::Tensor k = at::randn({ 1, 1, 1, 8 }).expand({ 1, 1, 6, 8 }).contiguous();
        const at::Tensor rq = applyRotary(q, cos, sin);
        const at::Tensor rk = applyRotary(k, cos, sin);
        // Position 0 is the identity; rotations keep norms.
        QVERIFY(at::allclose(rq.select(2, 0), q.select(2, 0)));
        QVERIFY(at::allclose(rq.norm(2, -1), q.norm(2, -1), 1e-5, 1e-5));
        // The score depends only on the distance: <q_m, k_n> == <q_{m+1}, k_{n+1}>.
        const at::Tensor scores = at::matmul(rq, rk.transpose(-1, -2)).squeeze(); // [6, 6]
        for (int m = 0; m < 4; ++m)
            QVERIFY(std::abs(scores[m][m + 1].item<double>() - scores[m + 1][m + 2].item<double>()) < 1e-4);
        QVERIFY(std::abs(scores[0][1].item<double>() - scores[0][3].item<double>()) > 1e-4);
    }
};

QTEST_GUILESS_MAIN(TestRope)
#include "test_rope.moc"
