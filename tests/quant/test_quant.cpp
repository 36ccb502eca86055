// core/quant: the NF4 and dynamic code books against their definitions computed
// here independently (plain double arithmetic, an inverse normal CDF by
// bisection on std::erfc), the codes against a brute-force nearest search,
// round-trip error bounds for NF4 (per block, relative to its absmax) and int8
// (per row), the double quantisation of the scales within its bound, nibble
// packing for odd sizes, and the quantised linear's gradient.

#include "core/quant/quantize.h"
#include "core/quant/quantized_linear.h"
#include "core/util/error.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <QtTest>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace tunebench;
using namespace tunebench::quant;

namespace {

// The standard normal quantile by bisection on Phi(x) = erfc(-x / sqrt 2) / 2.
double normalQuantile(double p)
{
    double lo = -10, hi = 10;
    for (int i = 0; i < 200; ++i) {
        const double mid = (lo + hi) / 2;
        (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
    }
    return (lo + hi) / 2;
}

// QLoRA's NF4 (Dettmers et al. 2023, section 3): 2^(k-1) quantiles of N(0, 1) for the positive half and
// 2^(k-1) - 1 for the negative half, from the outer quantile delta = (1/32 + 1/30) / 2 (bitsandbytes rounds it
// to 0.9677083) towards the median, plus zero; normalised into [-1, 1].
std::vector<double> nf4Definition()
{
    const double offset = 0.9677083;
    std::vector<double> v { 0.0 };
    for (int i = 0; i < 8; ++i)
        v.push_back(normalQuantile(offset + (0.5 - offset) * i / 8.0));
    for (int i = 0; i < 7; ++i)
        v.push_back(-normalQuantile(offset + (0.5 - offset) * i / 7.0));
    std::sort(v.begin(), v.end());
    const double top = v.back();
    for (double& x : v)
        x /= top;
    return v;
}

// The signed dynamic map (Dettmers 2015): per decade 10^(e-6), e = 0..6, the midpoints of 2^e + 1 even steps
// from 0.1 to 1, both signs; then 0 and 1.
std::vector<double> dynamicDefinition()
{
    std::vector<double> v { 0.0, 1.0 };
    for (int e = 0; e < 7; ++e) {
        const int steps = 1 << e;
        for (int j = 0; j < steps; ++j) {
            const double lo = 0.1 + 0.9 * j / steps, hi = 0.1 + 0.9 * (j + 1) / steps;
            const double m = (lo + hi) / 2 * std::pow(10.0, e - 6);
            v.push_back(m);
            v.push_back(-m);
        }
    }
    std::sort(v.begin(), v.end());
    return v;
}

double maxHalfGap(const at::Tensor& book)
{
    const std::int64_t k = book.size(0);
    return ((book.narrow(0, 1, k - 1) - book.narrow(0, 0, k - 1)).max().item<double>()) / 2;
}

// Weights of a kind: normal, heavy-tailed (outliers), uniform, or with an all-zero stretch.
at::Tensor weights(const QString& kind, std::vector<std::int64_t> shape, std::uint64_t seed)
{
    at::Generator gen = at::detail::createCPUGenerator(seed);
    at::Tensor w = at::empty(shape).normal_(0, 0.02, gen);
    if (kind == "outliers")
        w.view({ -1 }).index_put_({ at::arange(0, w.numel(), 37) }, 0.5);
    else if (kind == "uniform")
        w.uniform_(-1, 1, gen);
    else if (kind == "zeros")
        w.view({ -1 }).narrow(0, 0, std::min<std::int64_t>(w.numel(), 130)).zero_();
    return w;
}

} // namespace

class TestQuant : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void nf4CodeBookIsTheDefinition_data()
    {
        QTest::addColumn<int>("index");
        for (int i = 0; i < 16; ++i)
            QTest::addRow("code %d", i) << i;
    }
    void nf4CodeBookIsTheDefinition()
    {
        QFETCH(int, index);
        const at::Tensor book = nf4CodeBook();
        QCOMPARE(book.size(0), 16);
        QCOMPARE(book.scalar_type(), at::kFloat);
        const double expected = nf4Definition()[static_cast<std::size_t>(index)];
        const double got = book[index].item<double>();
        QVERIFY2(std::abs(got - expected) < 1e-6, qPrintable(QString("%1 vs %2").arg(got).arg(expected)));
        if (index == 7)
            QCOMPARE(got, 0.0); // the exact zero (asymmetric code book)
        if (index == 0 || index == 15)
            QCOMPARE(std::abs(got), 1.0);
    }

    void dynamicCodeBookIsTheDefinition()
    {
        const at::Tensor book = dynamicCodeBook();
        const std::vector<double> expected = dynamicDefinition();
        QCOMPARE(book.size(0), 256);
        QCOMPARE(expected.size(), std::size_t { 256 });
        double worst = 0;
        for (std::int64_t i = 0; i < 256; ++i)
            worst = std::max(worst, std::abs(book[i].item<double>() - expected[static_cast<std::size_t>(i)]));
        QVERIFY2(worst < 1e-6, qPrintable(QString::number(worst)));
    }

    void packingRoundTrip_data()
    {
        QTest::addColumn<int>("n");
        for (int n : { 1, 2, 3, 63, 64, 65, 129, 1000 })
            QTest::addRow("%d codes", n) << n;
    }
    void packingRoundTrip()
    {
        QFETCH(int, n);
        at::Generator gen = at::detail::createCPUGenerator(static_cast<std::uint64_t>(n));
        const at::Tensor codes = at::randint(0, 16, { n }, gen, at::TensorOptions().dtype(at::kByte));
        const at::Tensor packed = packNibbles(codes, 7);
        QCOMPARE(packed.numel(), (n + 1) / 2);
        QCOMPARE(packed.scalar_type(), at::kByte);
        // The first code of a pair in the high nibble, as bitsandbytes stores it; an odd count pads with 7.
        const int first = codes[0].item<int>(), second = n > 1 ? codes[1].item<int>() : 7;
        QCOMPARE(packed[0].item<int>(), first * 16 + second);
        if (n % 2 == 1)
            QCOMPARE(packed[(n - 1) / 2].item<int>() % 16, 7);
        QVERIFY(at::equal(unpackNibbles(packed, n), codes));
    }

    void nf4RoundTripWithinBlockBound_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QList<int>>("shape");
        // Sizes that are not a multiple of 64 pad the last block with zeros (nothing is refused).
        for (const char* kind : { "normal", "outliers", "uniform", "zeros" }) {
            QTest::addRow("%s 64x64", kind) << QString(kind) << QList<int> { 64, 64 };
            QTest::addRow("%s 33x31 (odd, 1023)", kind) << QString(kind) << QList<int> { 33, 31 };
            QTest::addRow("%s 300x64 (300 blocks, 2 scale blocks)", kind) << QString(kind) << QList<int> { 300, 64 };
        }
        QTest::addRow("one element") << "normal" << QList<int> { 1 };
        QTest::addRow("3x5x7") << "normal" << QList<int> { 3, 5, 7 };
    }
    void nf4RoundTripWithinBlockBound()
    {
        QFETCH(QString, kind);
        QFETCH(QList<int>, shape);
        const at::Tensor w = weights(kind, std::vector<std::int64_t>(shape.begin(), shape.end()), 3);
        const QuantizedTensor q = quantize(w, Scheme::Nf4);
        const std::int64_t n = w.numel(), blocks = (n + 63) / 64;
        QCOMPARE(q.data.numel(), (n + 1) / 2);
        QCOMPARE(q.scales.numel(), blocks);
        QCOMPARE(q.scaleAbsmax.numel(), (blocks + 255) / 256);
        const at::Tensor back = dequantize(q);
        QCOMPARE(back.sizes(), w.sizes());

        // Each code is the nearest code-book value to w / absmax (brute force over the 16).
        const at::Tensor flat = w.reshape({ n });
        const at::Tensor padded = at::constant_pad_nd(flat, { 0, blocks * 64 - n }, 0).view({ blocks, 64 });
        const at::Tensor absmax = std::get<0>(padded.abs().max(1)); // [blocks]
        const at::Tensor scaled
            = (padded / absmax.clamp_min(1e-30).unsqueeze(1)).reshape({ blocks * 64 }).narrow(0, 0, n);
        const at::Tensor book = nf4CodeBook();
        const at::Tensor distance = (scaled.unsqueeze(1) - book.unsqueeze(0)).abs(); // [n, 16]
        const at::Tensor codes = unpackNibbles(q.data, n).to(at::kLong);
        const at::Tensor chosen = distance.gather(1, codes.unsqueeze(1)).squeeze(1);
        QVERIFY2((chosen - std::get<0>(distance.min(1))).max().item<double>() < 1e-6, "a code is not the nearest");

        // |w - w'| <= absmax * (NF4's largest half gap) + |absmax - absmax'| per block (the second term from the
        // double quantisation of absmax; the code's magnitude is at most 1).
        const at::Tensor scales = nf4BlockScales(q);
        const at::Tensor bound = (absmax * maxHalfGap(book) + (absmax - scales).abs()) * (1 + 1e-5) + 1e-7;
        const at::Tensor error
            = at::constant_pad_nd((back - w).abs().reshape({ n }), { 0, blocks * 64 - n }, 0).view({ blocks, 64 });
        const at::Tensor excess = std::get<0>(error.max(1)) - bound;
        QVERIFY2(excess.max().item<double>() <= 0,
            qPrintable(QString("block %1 exceeds its bound by %2")
                           .arg(excess.argmax().item<std::int64_t>())
                           .arg(excess.max().item<double>())));
        // NF4's widest gap is between -1 and the next code (-0.696): half of it, 0.152 of the block's absmax.
        QVERIFY(maxHalfGap(book) < 0.153);
    }

    void doubleQuantisationRecoversScales_data()
    {
        QTest::addColumn<int>("blocks");
        QTest::addRow("1 block") << 1;
        QTest::addRow("255 blocks") << 255;
        QTest::addRow("700 blocks (3 scale blocks, the last partial)") << 700;
    }
    void doubleQuantisationRecoversScales()
    {
        QFETCH(int, blocks);
        const at::Tensor w = weights("outliers", { blocks, 64 }, 9);
        const QuantizedTensor q = quantize(w, Scheme::Nf4);
        const at::Tensor absmax = std::get<0>(w.abs().max(1)); // one NF4 block per row here
        QVERIFY(std::abs(q.scaleOffset - absmax.mean().item<double>()) < 1e-7);
        // |absmax - absmax'| <= (largest |absmax - mean| in its block of 256) * (dynamic map's largest half gap).
        const std::int64_t scaleBlocks = (blocks + 255) / 256;
        const at::Tensor centred = at::constant_pad_nd(absmax - q.scaleOffset, { 0, scaleBlocks * 256 - blocks }, 0)
                                       .view({ scaleBlocks, 256 });
        const at::Tensor blockMax = std::get<0>(centred.abs().max(1)); // [scaleBlocks]
        QVERIFY(at::allclose(q.scaleAbsmax, blockMax));
        const at::Tensor limit
            = (blockMax * maxHalfGap(dynamicCodeBook())).repeat_interleave(256).narrow(0, 0, blocks) * (1 + 1e-5)
            + 1e-7;
        const at::Tensor error = (nf4BlockScales(q) - absmax).abs();
        QVERIFY2((error - limit).max().item<double>() <= 0, qPrintable(QString::number(error.max().item<double>())));
        QVERIFY(maxHalfGap(dynamicCodeBook()) < 0.0071);
    }

    void int8RoundTripWithinRowBound_data()
    {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QList<int>>("shape");
        for (const char* kind : { "normal", "outliers", "uniform", "zeros" }) {
            QTest::addRow("%s 16x48", kind) << QString(kind) << QList<int> { 16, 48 };
            QTest::addRow("%s 7x13", kind) << QString(kind) << QList<int> { 7, 13 };
        }
        QTest::addRow("vector") << "normal" << QList<int> { 50 };
    }
    void int8RoundTripWithinRowBound()
    {
        QFETCH(QString, kind);
        QFETCH(QList<int>, shape);
        const at::Tensor w = weights(kind, std::vector<std::int64_t>(shape.begin(), shape.end()), 4);
        const QuantizedTensor q = quantize(w, Scheme::Int8);
        QCOMPARE(q.data.scalar_type(), at::kChar);
        const std::int64_t rows = w.size(0);
        const at::Tensor m = w.reshape({ rows, -1 });
        const at::Tensor absmax = std::get<0>(m.abs().max(1));
        QVERIFY(at::allclose(q.scales, absmax / 127));
        QVERIFY(q.data.abs().max().item<int>() <= 127);
        // Rounding to the nearest of 255 levels: at most half a step, absmax / 254.
        const at::Tensor error = std::get<0>((dequantize(q).reshape({ rows, -1 }) - m).abs().max(1));
        QVERIFY((error - (absmax / 254 * (1 + 1e-5) + 1e-9)).max().item<double>() <= 0);
    }

    void memoryOfTheQuantisedForms()
    {
        const at::Tensor w = weights("normal", { 256, 1024 }, 1);
        const double full = static_cast<double>(w.nbytes());
        const QuantizedTensor nf4 = quantize(w, Scheme::Nf4);
        const QuantizedTensor int8 = quantize(w, Scheme::Int8);
        // NF4: 4 bits per weight, one 8-bit scale per 64, one float per 256 * 64: 4.127 bits of 32.
        const double nf4Bits = 4 + 8.0 / 64 + 32.0 / (256 * 64);
        QCOMPARE(nf4.bytes(), static_cast<std::int64_t>(w.numel() * nf4Bits / 8 + 4 + 0.5));
        QVERIFY(nf4.bytes() / full < 1.0 / 7);
        QCOMPARE(int8.bytes(), w.numel() + 256 * 4);
    }

    void quantizedLinearGradient_data()
    {
        QTest::addColumn<int>("scheme");
        QTest::addRow("nf4") << static_cast<int>(Scheme::Nf4);
        QTest::addRow("int8") << static_cast<int>(Scheme::Int8);
    }
    void quantizedLinearGradient()
    {
        QFETCH(int, scheme);
        const at::Tensor w = weights("normal", { 24, 40 }, 2); // [out, in]
        const QuantizedTensor q = quantize(w, static_cast<Scheme>(scheme));
        const at::Tensor wq = dequantize(q);
        at::Generator gen = at::detail::createCPUGenerator(6);
        const at::Tensor x0 = at::empty({ 3, 5, 40 }).normal_(0, 1, gen);
        const at::Tensor upstream = at::empty({ 3, 5, 24 }).normal_(0, 1, gen);

        at::Tensor x = x0.clone().requires_grad_(true);
        const at::Tensor y = quantizedLinear(x, q);
        QVERIFY(y.requires_grad());
        (y * upstream).sum().backward();
        at::Tensor xr = x0.clone().requires_grad_(true);
        const at::Tensor yr = at::linear(xr, wq);
        (yr * upstream).sum().backward();
        QVERIFY(at::allclose(y, yr, 1e-5, 1e-6));
        QVERIFY(at::allclose(x.grad(), xr.grad(), 1e-5, 1e-6));
        // The graph keeps no float weight: nothing of q requires grad, and without gradients it is a plain product.
        QVERIFY(!q.data.requires_grad());
        at::NoGradGuard noGrad;
        QVERIFY(at::allclose(quantizedLinear(x0, q), yr.detach(), 1e-5, 1e-6));
    }

    void refusals_data()
    {
        QTest::addColumn<QString>("what");
        QTest::addColumn<QString>("message");
        QTest::addRow("unknown scheme") << "scheme"
                                        << "quantize_base: 'fp4' is not a quantisation scheme";
        QTest::addRow("integer tensor") << "integer"
                                        << "not floating point";
        QTest::addRow("NaN") << "nan"
                             << "NaN or infinite";
        QTest::addRow("no scheme") << "none"
                                   << "no scheme given";
        QTest::addRow("empty") << "empty"
                               << "empty";
    }
    void refusals()
    {
        QFETCH(QString, what);
        QFETCH(QString, message);
        try {
            if (what == "scheme")
                schemeFromString("fp4", "quantize_base");
            else if (what == "integer")
                quantize(at::ones({ 4 }, at::kLong), Scheme::Nf4);
            else if (what == "nan")
                quantize(at::full({ 4 }, NAN), Scheme::Int8);
            else if (what == "none")
                quantize(at::ones({ 4 }), Scheme::None);
            else
                quantize(at::ones({ 0 }), Scheme::Nf4);
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestQuant)
#include "test_quant.moc"
