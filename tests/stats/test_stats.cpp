// Student's t, the seed-group summary and the two-group tests against values
// computed by hand: the closed forms of t with 1, 2, 3 and 4 degrees of freedom,
// and samples small enough to work out on paper.

#include "core/stats/compare.h"
#include "core/stats/describe.h"

#include <QtTest>

#include <cmath>
#include <numbers>
#include <vector>

using namespace tunebench::stats;

namespace {

bool near(double a, double b, double tolerance)
{
    return std::abs(a - b) <= tolerance * std::max(1.0, std::abs(b));
}

// Closed forms of the t distribution (Hill 1970; Shaw 2006 for the quantiles).
double cdfClosedForm(double t, int df)
{
    const double pi = std::numbers::pi;
    switch (df) {
    case 1:
        return 0.5 + std::atan(t) / pi;
    case 2:
        return 0.5 + t / (2.0 * std::sqrt(2.0 + t * t));
    case 3:
        return 0.5 + (t / (std::sqrt(3.0) * (1.0 + t * t / 3.0)) + std::atan(t / std::sqrt(3.0))) / pi;
    case 4:
        return 0.5 + 0.375 * (t / std::sqrt(1.0 + t * t / 4.0)) * (1.0 - t * t / (12.0 * (1.0 + t * t / 4.0)));
    }
    return NAN;
}

double quantileClosedForm(double p, int df)
{
    switch (df) {
    case 1:
        // tan(pi (p - 1/2)) written as a cotangent of the smaller tail: near p = 0 or 1
        // the tangent's argument sits at pi/2, where its rounding would dominate.
        return p < 0.5 ? -1.0 / std::tan(std::numbers::pi * p) : 1.0 / std::tan(std::numbers::pi * (1.0 - p));
    case 2:
        return (2.0 * p - 1.0) / std::sqrt(2.0 * p * (1.0 - p));
    case 4: {
        const double alpha = 4.0 * p * (1.0 - p);
        const double q = std::cos(std::acos(std::sqrt(alpha)) / 3.0) / std::sqrt(alpha);
        return (p < 0.5 ? -2.0 : 2.0) * std::sqrt(q - 1.0);
    }
    }
    return NAN;
}

} // namespace

class TestStats : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void cdf_data()
    {
        QTest::addColumn<double>("t");
        QTest::addColumn<int>("df");
        for (int df : { 1, 2, 3, 4 })
            for (double t : { -40.0, -3.5, -1.0, -0.2, 0.0, 0.7, 2.0, 12.706204736174698 })
                QTest::addRow("t=%g df=%d", t, df) << t << df;
    }
    void cdf()
    {
        QFETCH(double, t);
        QFETCH(int, df);
        const double expected = cdfClosedForm(t, df);
        QVERIFY2(near(studentTCdf(t, df), expected, 1e-12),
            qPrintable(QString("%1 vs %2").arg(studentTCdf(t, df), 0, 'g', 17).arg(expected, 0, 'g', 17)));
        // The two-sided p of |t| is twice the lower tail of -|t|.
        QVERIFY(near(studentTTwoSidedP(t, df), 2.0 * cdfClosedForm(-std::abs(t), df), 1e-12));
    }

    void smallTailKeepsRelativeAccuracy()
    {
        // df = 1: P(T > t) = atan(1/t) / pi; for t = 1e6 that is ~3.2e-7, lost to
        // cancellation by 1 - cdf but not by the tail computed directly.
        const double t = 1e6;
        const double expected = 2.0 * std::atan(1.0 / t) / std::numbers::pi;
        QVERIFY(std::abs(studentTTwoSidedP(t, 1) / expected - 1.0) < 1e-12);
    }

    void quantile_data()
    {
        QTest::addColumn<double>("p");
        QTest::addColumn<int>("df");
        for (int df : { 1, 2, 4 })
            for (double p : { 1e-9, 0.001, 0.025, 0.3, 0.5, 0.6, 0.975, 0.995, 1.0 - 1e-7 })
                QTest::addRow("p=%g df=%d", p, df) << p << df;
    }
    void quantile()
    {
        QFETCH(double, p);
        QFETCH(int, df);
        const double expected = quantileClosedForm(p, df);
        const double got = studentTQuantile(p, df);
        QVERIFY2(
            near(got, expected, 1e-10), qPrintable(QString("%1 vs %2").arg(got, 0, 'g', 17).arg(expected, 0, 'g', 17)));
        QVERIFY(near(studentTCdf(got, df), p, 1e-12));
    }

    void quantileRoundTripsForOtherDf()
    {
        for (double df : { 0.5, 3.0, 7.5, 30.0, 1000.0 })
            for (double p : { 0.01, 0.2, 0.975 })
                QVERIFY(near(studentTCdf(studentTQuantile(p, df), df), p, 1e-12));
        // Textbook table values (t_{0.975}).
        QVERIFY(near(studentTQuantile(0.975, 3), 3.182446305284263, 1e-12));
        QVERIFY(near(studentTQuantile(0.975, 10), 2.228138851986274, 1e-12));
        // Infinite df is the normal distribution.
        QVERIFY(near(studentTQuantile(0.975, INFINITY), 1.959963984540054, 1e-12));
    }

    void badArguments()
    {
        QVERIFY(std::isnan(studentTQuantile(0.0, 3)));
        QVERIFY(std::isnan(studentTQuantile(1.0, 3)));
        QVERIFY(std::isnan(studentTQuantile(0.5, 0)));
        QVERIFY(std::isnan(studentTCdf(1.0, -1)));
        QVERIFY(std::isnan(studentTCdf(NAN, 3)));
    }

    void describeByHand()
    {
        const std::vector<double> v { 1.0, 2.0, 3.0, 4.0 };
        const Summary s = describe(v);
        QCOMPARE(s.n, std::size_t(4));
        QVERIFY(near(s.mean, 2.5, 1e-15));
        // Squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5 over n - 1 = 3.
        QVERIFY(near(s.std, std::sqrt(5.0 / 3.0), 1e-15));
        const double half = 3.182446305284263 * std::sqrt(5.0 / 3.0) / 2.0;
        QVERIFY(near(s.ci95Low, 2.5 - half, 1e-12));
        QVERIFY(near(s.ci95High, 2.5 + half, 1e-12));

        // The demo's two LoRA forgetting values: df = 1, t = 12.706...
        const std::vector<double> two { 0.092, 0.151 };
        const Summary d = describe(two);
        const double sd = std::abs(0.151 - 0.092) / std::sqrt(2.0);
        QVERIFY(near(d.std, sd, 1e-14));
        QVERIFY(near(d.ci95High - d.mean, 12.706204736174698 * sd / std::sqrt(2.0), 1e-12));

        // Far from zero: no cancellation.
        const std::vector<double> far { 1e9 + 1, 1e9 + 2, 1e9 + 3 };
        QVERIFY(near(describe(far).std, 1.0, 1e-12));
    }

    void describeSmallSamples()
    {
        const Summary empty = describe({});
        QCOMPARE(empty.n, std::size_t(0));
        QVERIFY(std::isnan(empty.mean) && std::isnan(empty.std) && std::isnan(empty.ci95Low));
        const std::vector<double> one { 0.4 };
        const Summary single = describe(one);
        QCOMPARE(single.n, std::size_t(1));
        QCOMPARE(single.mean, 0.4);
        QVERIFY(std::isnan(single.std) && std::isnan(single.ci95Low) && std::isnan(single.ci95High));
        const std::vector<double> same { 2.0, 2.0, 2.0 };
        const Summary flat = describe(same);
        QCOMPARE(flat.std, 0.0);
        QCOMPARE(flat.ci95Low, 2.0);
        QCOMPARE(flat.ci95High, 2.0);
    }

    void welchByHand()
    {
        // a: mean 2.5, variance 5/3; b: mean 4, variance 4. se^2 = 5/12 + 4/3 = 7/4,
        // df = (7/4)^2 / ((5/12)^2 / 3 + (4/3)^2 / 2) = 1323/409.
        const std::vector<double> a { 1, 2, 3, 4 };
        const std::vector<double> b { 2, 4, 6 };
        const GroupTest w = welchTest(a, b);
        QCOMPARE(w.kind, TestKind::Welch);
        QCOMPARE(w.nA, std::size_t(4));
        QCOMPARE(w.nB, std::size_t(3));
        QVERIFY(near(w.difference, -1.5, 1e-15));
        QVERIFY(near(w.t, -1.5 / std::sqrt(1.75), 1e-14));
        QVERIFY(near(w.df, 1323.0 / 409.0, 1e-14));
        QVERIFY(near(w.p, 2.0 * studentTCdf(w.t, w.df), 1e-14));
        // Cohen's d with the pooled variance (3 * 5/3 + 2 * 4) / 5 = 13/5; Hedges' J(5).
        QVERIFY(near(w.effectSize, -1.5 / std::sqrt(2.6), 1e-14));
        QVERIFY(near(w.hedgesG, w.effectSize * std::tgamma(2.5) / (std::sqrt(2.5) * std::tgamma(2.0)), 1e-14));
        QCOMPARE(w.effectName, std::string("d"));
        QCOMPARE(w.differenceInterval.method, IntervalMethod::StudentT);
        QVERIFY(w.differenceInterval.contains(0.0));
        QCOMPARE(w.verdict, Verdict::NoDifferenceShown);
        QVERIFY2(w.reason.find("contains 0") != std::string::npos, w.reason.c_str());
    }

    void welchWithFourDf()
    {
        // Equal sizes and variances: df = 2 (n - 1) = 4, where t has a closed form.
        const std::vector<double> a { 1, 2, 3 };
        const std::vector<double> b { 4, 5, 6 };
        const GroupTest w = welchTest(a, b);
        const double t = -3.0 / std::sqrt(2.0 / 3.0);
        QVERIFY(near(w.t, t, 1e-14));
        QVERIFY(near(w.df, 4.0, 1e-14));
        QVERIFY(near(w.p, 2.0 * cdfClosedForm(t, 4), 1e-12));
        QVERIFY(w.p < 0.05);
        // t(0.975, 4) from the closed form, times se = sqrt(2/3).
        const double half = quantileClosedForm(0.975, 4) * std::sqrt(2.0 / 3.0);
        QVERIFY(near(w.differenceInterval.low, -3.0 - half, 1e-10));
        QVERIFY(near(w.differenceInterval.high, -3.0 + half, 1e-10));
        QCOMPARE(w.verdict, Verdict::Difference);
        QVERIFY(near(w.effectSize, -3.0, 1e-14)); // pooled sd 1
    }

    void pairedByHand()
    {
        // Differences 1, 1, 3: mean 5/3, variance 4/3, se 2/3, t = 2.5, df = 2.
        const std::vector<double> a { 1, 2, 4 };
        const std::vector<double> b { 0, 1, 1 };
        const GroupTest p = pairedTest(a, b);
        QCOMPARE(p.kind, TestKind::Paired);
        QCOMPARE(p.nA, std::size_t(3));
        QVERIFY(near(p.difference, 5.0 / 3.0, 1e-15));
        QVERIFY(near(p.t, 2.5, 1e-14));
        QCOMPARE(p.df, 2.0);
        QVERIFY(near(p.p, 1.0 - 2.5 / std::sqrt(8.25), 1e-12));
        QVERIFY(near(p.effectSize, (5.0 / 3.0) / std::sqrt(4.0 / 3.0), 1e-14));
        QCOMPARE(p.effectName, std::string("d_z"));
        QVERIFY(near(p.hedgesG, p.effectSize / std::sqrt(std::numbers::pi), 1e-14)); // J(2) = 1 / sqrt(pi)
        const double half = 0.95 / std::sqrt(2.0 * 0.975 * 0.025) * 2.0 / 3.0; // t(0.975, 2) se
        QVERIFY(near(p.differenceInterval.low, 5.0 / 3.0 - half, 1e-10));
        QVERIFY(near(p.differenceInterval.high, 5.0 / 3.0 + half, 1e-10));
        QCOMPARE(p.verdict, Verdict::NoDifferenceShown);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, pairedTest(a, std::vector<double> { 1.0 }));
    }

    void verdicts_data()
    {
        QTest::addColumn<QList<double>>("listA");
        QTest::addColumn<QList<double>>("listB");
        QTest::addColumn<bool>("paired");
        QTest::addColumn<int>("verdict");
        QTest::addColumn<QString>("reason");
        using V = QList<double>;
        // The demo's LoRA forgetting over two seeds against full fine-tuning: far apart, but two runs.
        QTest::addRow("two runs") << V { 0.092, 0.151 } << V { 0.9, 0.95 } << false << int(Verdict::TooFewRuns)
                                  << "2 runs per group, fewer than 3";
        QTest::addRow("two pairs") << V { 1, 2 } << V { 3, 5 } << true << int(Verdict::TooFewRuns)
                                   << "2 pairs, fewer than 3";
        QTest::addRow("no spread") << V { 1, 1, 1 } << V { 1, 1, 1 } << false << int(Verdict::TooFewRuns)
                                   << "no spread";
        QTest::addRow("overlapping") << V { 1, 2, 3 } << V { 1.5, 2.5, 3.5 } << false << int(Verdict::NoDifferenceShown)
                                     << "contains 0";
        QTest::addRow("separate") << V { 1, 1.1, 0.9 } << V { 2, 2.1, 1.9 } << false << int(Verdict::Difference)
                                  << "excludes 0";
        QTest::addRow("paired consistent")
            << V { 1, 2, 3, 4 } << V { 0.5, 1.6, 2.4, 3.5 } << true << int(Verdict::Difference) << "excludes 0";
    }
    void verdicts()
    {
        QFETCH(QList<double>, listA);
        QFETCH(QList<double>, listB);
        const std::vector<double> a(listA.begin(), listA.end());
        const std::vector<double> b(listB.begin(), listB.end());
        QFETCH(bool, paired);
        QFETCH(int, verdict);
        QFETCH(QString, reason);
        const GroupTest test = paired ? pairedTest(a, b) : welchTest(a, b);
        QCOMPARE(int(test.verdict), verdict);
        QVERIFY2(QString::fromStdString(test.reason).contains(reason), test.reason.c_str());
    }

    void seedGroupsPairOnlyOnTheSameSeeds()
    {
        const std::vector<double> a { 1, 2, 4 };
        const std::vector<double> b { 1, 1, 0 }; // by seed: "3" -> 1, "1" -> 1, "2" -> 0
        const std::vector<std::string> seedsA { "1", "2", "3" };
        const std::vector<std::string> seedsB { "3", "1", "2" };
        // Reordered by seed, b is 1, 0, 1: differences 0, 2, 3.
        const GroupTest p = compareSeedGroups(a, seedsA, b, seedsB);
        QCOMPARE(p.kind, TestKind::Paired);
        QVERIFY(near(p.difference, 5.0 / 3.0, 1e-15));
        QVERIFY(near(p.t, pairedTest(a, std::vector<double> { 1, 0, 1 }).t, 1e-15));
        // Another seed, a repeated seed or an unknown one: Welch.
        QCOMPARE(compareSeedGroups(a, seedsA, b, std::vector<std::string> { "3", "1", "4" }).kind, TestKind::Welch);
        QCOMPARE(compareSeedGroups(
                     a, std::vector<std::string> { "1", "1", "2" }, b, std::vector<std::string> { "1", "1", "2" })
                     .kind,
            TestKind::Welch);
        QCOMPARE(compareSeedGroups(
                     a, std::vector<std::string> { "", "2", "3" }, b, std::vector<std::string> { "", "2", "3" })
                     .kind,
            TestKind::Welch);
    }

    void tMeanInterval()
    {
        const std::vector<double> v { 1.0, 2.0, 3.0, 4.0 };
        const Interval i = meanInterval(v, IntervalMethod::StudentT);
        const Summary s = describe(v);
        QCOMPARE(i.method, IntervalMethod::StudentT);
        QVERIFY(near(i.low, s.ci95Low, 1e-15) && near(i.high, s.ci95High, 1e-15));
        QCOMPARE(intervalMethodName(i.method), std::string("t"));
    }

    void bootstrapByHand()
    {
        // Resampled means of {0, 1} with two draws: 0, 1/2, 1 with chances 1/4, 1/2, 1/4,
        // so the 2.5% and 97.5% percentiles of many resamples are 0 and 1.
        const std::vector<double> v { 0.0, 1.0 };
        const Interval i = meanInterval(v, IntervalMethod::Bootstrap, { 4000, 7 });
        QCOMPARE(i.method, IntervalMethod::Bootstrap);
        QCOMPARE(intervalMethodName(i.method), std::string("bootstrap"));
        QCOMPARE(i.low, 0.0);
        QCOMPARE(i.high, 1.0);
        // A 40% interval: percentiles 30% and 70% fall on 1/2.
        const Interval narrow = meanInterval(v, IntervalMethod::Bootstrap, { 4000, 7 }, 0.4);
        QCOMPARE(narrow.low, 0.5);
        QCOMPARE(narrow.high, 0.5);
        QVERIFY(std::isnan(meanInterval(std::vector<double> { 3.0 }, IntervalMethod::Bootstrap).low));
    }

    void bootstrapIsSeededAndSensible()
    {
        std::vector<double> v;
        for (int i = 0; i < 30; ++i)
            v.push_back(std::sin(i * 1.7) + 0.1 * i);
        const Interval a = meanInterval(v, IntervalMethod::Bootstrap, { 2000, 11 });
        const Interval b = meanInterval(v, IntervalMethod::Bootstrap, { 2000, 11 });
        const Interval c = meanInterval(v, IntervalMethod::Bootstrap, { 2000, 12 });
        QCOMPARE(a.low, b.low);
        QCOMPARE(a.high, b.high);
        QVERIFY(a.low != c.low || a.high != c.high);
        // With 30 values the percentile interval is close to the t interval (a bit narrower).
        const Interval t = meanInterval(v, IntervalMethod::StudentT);
        const double width = t.high - t.low;
        QVERIFY(std::abs(a.low - t.low) < 0.2 * width);
        QVERIFY(std::abs(a.high - t.high) < 0.2 * width);
        // The two-group bootstrap names its method in the verdict.
        const GroupTest w = welchTest(std::vector<double> { 1, 1.1, 0.9, 1.05 },
            std::vector<double> { 2, 2.1, 1.9, 2.05 }, IntervalMethod::Bootstrap, { 2000, 3 });
        QCOMPARE(w.differenceInterval.method, IntervalMethod::Bootstrap);
        QVERIFY(w.differenceInterval.high < 0.0);
        QVERIFY2(w.reason.find("bootstrap interval") != std::string::npos, w.reason.c_str());
    }
};

QTEST_GUILESS_MAIN(TestStats)
#include "test_stats.moc"
