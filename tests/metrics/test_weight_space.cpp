// Weight-space measures: effective rank, intruder dimensions, whole-model comparison.

#include "core/metrics/weight_space.h"
#include "core/model/model_weights.h"
#include "core/model/safetensors.h"
#include "support/cli_runner.h"

#include <ATen/ATen.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace tunebench;

namespace {

at::Tensor randomMatrix(std::int64_t rows, std::int64_t cols, std::uint64_t seed)
{
    at::Generator gen = at::detail::createCPUGenerator(seed);
    return at::randn({ rows, cols }, gen, at::TensorOptions().dtype(at::kDouble));
}

at::Tensor unitVector(std::int64_t n, std::uint64_t seed)
{
    at::Tensor v = randomMatrix(n, 1, seed);
    return v / v.norm();
}

} // namespace

class TestWeightSpace : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void effectiveRankByHand()
    {
        // Singular values 1,1,1,1: uniform, entropy log 4, effective rank 4.
        QVERIFY(std::abs(effectiveRank(at::eye(4, at::kDouble)) - 4.0) < 1e-9);
        // Rank one: effective rank 1.
        const at::Tensor u = unitVector(8, 1), v = unitVector(6, 2);
        QVERIFY(std::abs(effectiveRank(3.0 * u.matmul(v.t())) - 1.0) < 1e-9);
        // Singular values 3 and 1: p = 0.75, 0.25.
        const double h = -(0.75 * std::log(0.75) + 0.25 * std::log(0.25));
        QVERIFY(std::abs(effectiveRank(at::diag(at::tensor({ 3.0, 1.0 }, at::kDouble))) - std::exp(h)) < 1e-9);
        QCOMPARE(effectiveRank(at::zeros({ 3, 3 }, at::kDouble)), 0.0);
    }

    void noIntrudersAgainstItself()
    {
        const at::Tensor w = randomMatrix(48, 32, 7);
        QCOMPARE(intruderDimensions(w, w, 10, 0.5), 0);
        // A small dense perturbation (what full fine-tuning tends to do) keeps the directions.
        const at::Tensor nudged = w + 0.01 * randomMatrix(48, 32, 8);
        QCOMPARE(intruderDimensions(w, nudged, 10, 0.5), 0);
    }

    void plantedLowRankIntruderIsFound()
    {
        const at::Tensor w = randomMatrix(64, 64, 11);
        const double top = at::linalg_svdvals(w)[0].item<double>();
        // A rank-one update larger than the base's top singular value, in a random direction.
        const at::Tensor planted = w + 3.0 * top * unitVector(64, 12).matmul(unitVector(64, 13).t());
        QCOMPARE(intruderDimensions(w, planted, 1, 0.5), 1);
        QCOMPARE(intruderDimensions(w, planted, 10, 0.5), 1);
        const at::Tensor twoPlanted = planted + 2.5 * top * unitVector(64, 14).matmul(unitVector(64, 15).t());
        QCOMPARE(intruderDimensions(w, twoPlanted, 10, 0.5), 2);
    }

    void modelComparisonAndCli()
    {
        QTemporaryDir dir;
        const std::string base = dir.path().toStdString() + "/base";
        const std::string same = dir.path().toStdString() + "/same";
        const std::string tuned = dir.path().toStdString() + "/tuned";
        std::filesystem::create_directories(base);
        std::filesystem::create_directories(same);
        std::filesystem::create_directories(tuned);
        const at::Tensor q = randomMatrix(32, 32, 21).to(at::kFloat);
        const at::Tensor norm = at::ones({ 32 });
        const at::Tensor top = at::linalg_svdvals(q)[0];
        const at::Tensor qTuned = q + 3.0 * top * unitVector(32, 22).matmul(unitVector(32, 23).t()).to(at::kFloat);
        const at::Tensor normTuned = norm + 0.5;
        writeSafetensors(
            base + "/model.safetensors", { { "layers.0.q_proj.weight", q }, { "layers.0.norm.weight", norm } });
        writeSafetensors(
            same + "/model.safetensors", { { "layers.0.q_proj.weight", q }, { "layers.0.norm.weight", norm } });
        writeSafetensors(tuned + "/model.safetensors",
            { { "layers.0.q_proj.weight", qTuned }, { "layers.0.norm.weight", normTuned },
                { "extra.weight", at::zeros({ 2 }) } });

        const WeightSpaceReport self = compareWeights(ModelWeights::open(base), ModelWeights::open(same));
        QCOMPARE(self.intruderDimensions, 0);
        QCOMPARE(self.changedTensors, 0);
        QCOMPARE(self.totalUpdateNorm, 0.0);

        const WeightSpaceReport r = compareWeights(ModelWeights::open(base), ModelWeights::open(tuned));
        QCOMPARE(r.tensors.size(), 2u);
        QCOMPARE(r.changedTensors, 2);
        QCOMPARE(r.intruderDimensions, 1);
        QCOMPARE(r.onlyInTuned, std::vector<std::string> { "extra.weight" });
        const TensorUpdate& n = r.tensors[0].name == "layers.0.norm.weight" ? r.tensors[0] : r.tensors[1];
        QVERIFY(!n.matrix);
        QVERIFY(std::abs(n.updateNorm - 0.5 * std::sqrt(32.0)) < 1e-6);

        CliResult c = runCli(
            { "measure", "weights", "--base", QString::fromStdString(base), "--tuned", QString::fromStdString(tuned) });
        QCOMPARE(c.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(c.out.toUtf8()).object();
        QCOMPARE(o["totals"].toObject()["intruder_dimensions"].toInt(), 1);
        QCOMPARE(o["intruder_dimensions"].toInt(), 1);
        QCOMPARE(o["tensors"].toArray().size(), 2);
        c = runCli(
            { "measure", "weights", "--base", QString::fromStdString(base), "--tuned", QString::fromStdString(same) });
        QCOMPARE(QJsonDocument::fromJson(c.out.toUtf8()).object()["intruder_dimensions"].toInt(), 0);

        // A shape mismatch names the tensor and both files.
        writeSafetensors(same + "/model.safetensors", { { "layers.0.q_proj.weight", at::zeros({ 4, 4 }) } });
        c = runCli(
            { "measure", "weights", "--base", QString::fromStdString(base), "--tuned", QString::fromStdString(same) });
        QCOMPARE(c.code, 1);
        QVERIFY2(c.err.contains("layers.0.q_proj.weight") && c.err.contains("[32, 32]"), qPrintable(c.err));
    }
};

QTEST_GUILESS_MAIN(TestWeightSpace)
#include "test_weight_space.moc"
