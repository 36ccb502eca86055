// core/quant against bitsandbytes (tests/reference/bnb_quant.py, its CPU path):
// the code books, NF4's packed codes, double-quantised scales and dequantised
// values, and int8's row-wise codes, for tensors of several shapes (sizes not a
// multiple of 64, odd sizes, several blocks of 256 scales, outliers). One
// Python process for all of them.

#include "core/model/safetensors.h"
#include "core/quant/quantize.h"
#include "support/reference.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <QTemporaryDir>
#include <QtTest>

#include <map>

using namespace tunebench;
using namespace tunebench::quant;

namespace {

struct Case {
    const char* name;
    std::vector<std::int64_t> shape;
    double stddev;
    bool outliers;
};

const std::vector<Case> kCases {
    { "square_64x64", { 64, 64 }, 0.02, false },
    { "odd_33x31", { 33, 31 }, 0.02, false },
    { "blocks_700x64", { 700, 64 }, 1.0, false },
    { "outliers_96x80", { 96, 80 }, 0.02, true },
    { "odd_3x5x7", { 3, 5, 7 }, 0.5, false },
};

at::Tensor caseTensor(const Case& c, std::uint64_t seed)
{
    at::Generator gen = at::detail::createCPUGenerator(seed);
    at::Tensor w = at::empty(c.shape).normal_(0, c.stddev, gen);
    if (c.outliers)
        w.view({ -1 }).index_put_({ at::arange(0, w.numel(), 53) }, 0.7);
    return w;
}

double worst(const at::Tensor& a, const at::Tensor& b)
{
    return (a.to(at::kDouble) - b.to(at::kDouble)).abs().max().item<double>();
}

} // namespace

class TestQuantReference : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::map<std::string, at::Tensor> m_inputs;
    std::map<std::string, at::Tensor> m_bnb;
    QString m_failure;

    const at::Tensor& bnb(const std::string& name) const
    {
        const auto it = m_bnb.find(name);
        if (it == m_bnb.end())
            throw std::runtime_error("bnb_quant.py wrote no " + name);
        return it->second;
    }

private Q_SLOTS:
    void initTestCase()
    {
        NamedTensors in;
        std::uint64_t seed = 1;
        for (const Case& c : kCases) {
            m_inputs[c.name] = caseTensor(c, seed++);
            in.emplace_back(c.name, m_inputs[c.name]);
        }
        const std::filesystem::path dir = m_dir.path().toStdString();
        writeSafetensors(dir / "in.safetensors", in);
        QString why;
        if (reference::python(&why).isEmpty()) {
            m_failure = why;
            return;
        }
        const reference::Result r = reference::run("bnb_quant.py",
            { QString::fromStdString((dir / "in.safetensors").string()),
                QString::fromStdString((dir / "out.safetensors").string()) });
        if (r.code != 0) {
            m_failure = "bnb_quant.py failed (" + QString::number(r.code) + "): " + r.err.right(2000);
            return;
        }
        for (const auto& [name, t] : SafetensorsFile::open(dir / "out.safetensors").tensors())
            m_bnb[name] = t.clone();
    }

    void codeBooks()
    {
        REQUIRE_REFERENCE_PYTHON(python);
        if (!m_failure.isEmpty())
            QFAIL(qPrintable(m_failure));
        const double nf4 = worst(nf4CodeBook(), bnb("code.nf4"));
        const double dynamic = worst(dynamicCodeBook(), bnb("code.dynamic"));
        qInfo("code books: NF4 worst %.3g, dynamic map worst %.3g", nf4, dynamic);
        QVERIFY(nf4 < 1e-6);
        QVERIFY(dynamic < 1e-6);
    }

    void matchesBitsandbytes_data()
    {
        QTest::addColumn<QString>("name");
        for (const Case& c : kCases)
            QTest::newRow(c.name) << QString(c.name);
    }
    void matchesBitsandbytes()
    {
        QFETCH(QString, name);
        REQUIRE_REFERENCE_PYTHON(python);
        if (!m_failure.isEmpty())
            QFAIL(qPrintable(m_failure));
        const std::string n = name.toStdString();
        const at::Tensor& w = m_inputs.at(n);

        const QuantizedTensor q = quantize(w, Scheme::Nf4);
        const std::int64_t packedDiffer = q.data.ne(bnb(n + ".nf4.packed")).sum().item<std::int64_t>();
        const double offset = std::abs(q.scaleOffset - bnb(n + ".nf4.offset").item<double>());
        const double scaleAbsmax = worst(q.scaleAbsmax, bnb(n + ".nf4.absmax_scale"));
        const double absmax = w.abs().max().item<double>();

        // The scale codes: bitsandbytes' CPU kernel (cquantize_blockwise_cpu_fp32) does not always take the
        // nearest code of its dynamic map; its generic path (argmin of the distance) and core/quant do. Where
        // the codes differ, ours must be at least as near to the centred, normalised scale as theirs.
        const std::int64_t blocks = q.scales.numel();
        const at::Tensor flat = at::constant_pad_nd(w.reshape({ -1 }), { 0, blocks * 64 - w.numel() }, 0);
        const at::Tensor trueScale = std::get<0>(flat.view({ blocks, 64 }).abs().max(1)); // [blocks]
        const at::Tensor normalised = (trueScale - static_cast<float>(q.scaleOffset))
            / q.scaleAbsmax.repeat_interleave(kScaleBlockSize).narrow(0, 0, blocks).clamp_min(1e-30);
        const at::Tensor map = dynamicCodeBook();
        const at::Tensor theirs = bnb(n + ".nf4.absmax_codes").to(at::kLong);
        const at::Tensor ours = q.scales.to(at::kLong);
        const at::Tensor differ = ours.ne(theirs);
        const std::int64_t scaleCodesDiffer = differ.sum().item<std::int64_t>();
        const at::Tensor oursDistance = (normalised - map.index_select(0, ours)).abs();
        const at::Tensor theirsDistance = (normalised - map.index_select(0, theirs)).abs();
        const double nearer = (oursDistance - theirsDistance).max().item<double>(); // <= 0: ours never farther
        const double margin = (theirsDistance - oursDistance).max().item<double>(); // how much nearer at most
        // Values: equal where the scale codes agree (the NF4 codes all agree).
        const at::Tensor sameScale = differ.logical_not().repeat_interleave(64).narrow(0, 0, w.numel());
        const at::Tensor valueDiff
            = (dequantize(q) - bnb(n + ".nf4.dequantized").reshape(w.sizes())).abs().reshape({ -1 });
        const double values = (valueDiff * sameScale).max().item<double>();

        const QuantizedTensor i8 = quantize(w, Scheme::Int8);
        const at::Tensor rows = w.reshape({ w.size(0), -1 });
        const std::int64_t int8Differ
            = i8.data.ne(bnb(n + ".int8.codes").reshape(rows.sizes())).sum().item<std::int64_t>();
        const double rowAbsmax = worst(i8.scales * 127, bnb(n + ".int8.absmax"));
        qInfo("%s: nf4 bytes differing %lld of %lld; scale codes differing %lld of %lld (ours nearer by up to %.3g); "
              "offset %.3g, scale absmax %.3g, values worst %.3g where the scale codes agree (absmax %.3g); "
              "int8 codes differing %lld, row absmax %.3g",
            qPrintable(name), static_cast<long long>(packedDiffer), static_cast<long long>(q.data.numel()),
            static_cast<long long>(scaleCodesDiffer), static_cast<long long>(blocks), margin, offset, scaleAbsmax,
            values, absmax, static_cast<long long>(int8Differ), rowAbsmax);
        QCOMPARE(q.data.numel(), bnb(n + ".nf4.packed").numel());
        QCOMPARE(packedDiffer, 0);
        QVERIFY2(nearer <= 1e-6, "a scale code of ours is farther from the scale than bitsandbytes'");
        QVERIFY(offset <= 1e-7 * std::max(1.0, absmax));
        QVERIFY(scaleAbsmax <= 1e-7 * std::max(1.0, absmax));
        QVERIFY(values <= 1e-6 * absmax);
        QCOMPARE(int8Differ, 0);
        QVERIFY(rowAbsmax <= 1e-6 * absmax);
    }
};

QTEST_GUILESS_MAIN(TestQuantReference)
#include "test_quant_reference.moc"
