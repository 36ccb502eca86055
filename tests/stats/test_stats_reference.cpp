// core/stats against scipy (tests/reference/scipy_stats.py, one process for every
// case): t.cdf, t.ppf, ttest_ind(equal_var=False) and ttest_rel, within 1e-9
// (relative to the value where it exceeds 1).

#include "core/stats/compare.h"
#include "core/stats/describe.h"
#include "support/reference.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QtTest>

#include <cmath>
#include <vector>

using namespace tunebench::stats;

namespace {

constexpr double kTolerance = 1e-9;

using Sample = std::vector<double>;
struct Pair {
    Sample a;
    Sample b;
};

QJsonArray toJson(const Sample& values)
{
    QJsonArray out;
    for (double v : values)
        out.append(v);
    return out;
}

// The largest difference seen per quantity, reported at the end.
struct Worst {
    double difference = 0.0;
    QString where;
    void update(double got, double expected, const QString& at)
    {
        const double d = std::abs(got - expected) / std::max(1.0, std::abs(expected));
        if (!(d <= difference)) {
            difference = d;
            where = at;
        }
    }
};

} // namespace

class TestStatsReference : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void againstScipy()
    {
        REQUIRE_REFERENCE_PYTHON(py);
        const std::vector<double> dfs { 0.7, 1, 2, 2.5, 3, 5, 9.3, 30, 100, 1e4 };
        const std::vector<double> ts { -50, -6, -2.1, -0.3, 0, 0.4, 1.7, 3, 8, 200 };
        const std::vector<double> ps { 1e-12, 1e-6, 0.001, 0.025, 0.1, 0.5, 0.7, 0.95, 0.975, 0.999, 1 - 1e-9 };
        // Seed groups of the sizes Compare sees (the demo's forgetting values among them).
        const std::vector<Pair> groups {
            { { 0.092, 0.151, 0.118 }, { 0.41, 0.39, 0.47 } },
            { { 1, 2, 3, 4 }, { 2, 4, 6 } },
            { { 2.31, 2.29, 2.35, 2.4, 2.28 }, { 2.3, 2.33, 2.37, 2.38, 2.31 } },
            { { 0.5, 0.51 }, { 0.7, 0.69 } },
            { { 10.5, 11.2, 9.8, 10.1, 10.9, 11.4, 9.9, 10.2 }, { 12.1, 11.8, 12.6, 11.3 } },
            { { 1e-3, 2e-3, 1.5e-3, 1.2e-3 }, { 3e-3, 2.8e-3, 3.3e-3, 3.1e-3 } },
        };
        QJsonArray cdfCases;
        QJsonArray quantileCases;
        for (double df : dfs) {
            for (double t : ts)
                cdfCases.append(QJsonArray { t, df });
            for (double p : ps)
                quantileCases.append(QJsonArray { p, df });
        }
        QJsonArray pairs;
        QJsonArray sameSize; // ttest_rel refuses groups of different sizes, as pairedTest does (test_stats)
        for (const Pair& g : groups) {
            pairs.append(QJsonArray { toJson(g.a), toJson(g.b) });
            if (g.a.size() == g.b.size())
                sameSize.append(QJsonArray { toJson(g.a), toJson(g.b) });
        }
        const QJsonObject cases { { "cdf", cdfCases }, { "quantile", quantileCases }, { "welch", pairs },
            { "paired", sameSize } };
        const reference::Result r = reference::run("scipy_stats.py", {}, QJsonDocument(cases).toJson());
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QJsonParseError error;
        const QJsonObject scipy = QJsonDocument::fromJson(r.out, &error).object();
        QVERIFY2(error.error == QJsonParseError::NoError, qPrintable(error.errorString()));

        Worst cdf, quantile, welchT, welchDf, welchP, welchCi, pairedT, pairedP, pairedCi;
        const QJsonArray cdfs = scipy["cdf"].toArray();
        const QJsonArray quantiles = scipy["quantile"].toArray();
        QCOMPARE(cdfs.size(), cdfCases.size());
        QCOMPARE(quantiles.size(), quantileCases.size());
        for (qsizetype i = 0; i < cdfCases.size(); ++i) {
            const double t = cdfCases[i][0].toDouble();
            const double df = cdfCases[i][1].toDouble();
            cdf.update(studentTCdf(t, df), cdfs[i].toDouble(), QString("t.cdf(%1, %2)").arg(t).arg(df));
        }
        for (qsizetype i = 0; i < quantileCases.size(); ++i) {
            const double p = quantileCases[i][0].toDouble();
            const double df = quantileCases[i][1].toDouble();
            quantile.update(studentTQuantile(p, df), quantiles[i].toDouble(), QString("t.ppf(%1, %2)").arg(p).arg(df));
        }
        const QJsonArray welch = scipy["welch"].toArray();
        const QJsonArray paired = scipy["paired"].toArray();
        QCOMPARE(welch.size(), qsizetype(groups.size()));
        QCOMPARE(paired.size(), sameSize.size());
        qsizetype pairedIndex = 0;
        for (std::size_t i = 0; i < groups.size(); ++i) {
            const QString at = QString("group %1").arg(i);
            const QJsonObject w = welch[qsizetype(i)].toObject();
            const GroupTest mine = welchTest(groups[i].a, groups[i].b);
            welchT.update(mine.t, w["t"].toDouble(), at);
            welchDf.update(mine.df, w["df"].toDouble(), at);
            welchP.update(mine.p, w["p"].toDouble(), at);
            welchCi.update(mine.differenceInterval.low, w["low"].toDouble(), at);
            welchCi.update(mine.differenceInterval.high, w["high"].toDouble(), at);
            if (groups[i].a.size() != groups[i].b.size())
                continue;
            const QJsonObject p = paired[pairedIndex++].toObject();
            const GroupTest minePaired = pairedTest(groups[i].a, groups[i].b);
            pairedT.update(minePaired.t, p["t"].toDouble(), at);
            QCOMPARE(minePaired.df, p["df"].toDouble());
            pairedP.update(minePaired.p, p["p"].toDouble(), at);
            pairedCi.update(minePaired.differenceInterval.low, p["low"].toDouble(), at);
            pairedCi.update(minePaired.differenceInterval.high, p["high"].toDouble(), at);
        }
        const std::vector<std::pair<const char*, const Worst*>> all { { "t.cdf", &cdf }, { "t.ppf", &quantile },
            { "welch t", &welchT }, { "welch df", &welchDf }, { "welch p", &welchP }, { "welch ci", &welchCi },
            { "paired t", &pairedT }, { "paired p", &pairedP }, { "paired ci", &pairedCi } };
        for (const auto& [name, worst] : all)
            qInfo("worst %s difference: %.3g at %s", name, worst->difference, qPrintable(worst->where));
        for (const auto& [name, worst] : all)
            QVERIFY2(worst->difference <= kTolerance,
                qPrintable(QString("%1 differs by %2 at %3").arg(name).arg(worst->difference).arg(worst->where)));
    }
};

QTEST_GUILESS_MAIN(TestStatsReference)
#include "test_stats_reference.moc"
