// The Compare page over a real workspace with hand-made metrics: the config
// diff highlights what differs, curves overlay per run on each x axis, the
// summary's mean, spread and interval across seeds and the test between two
// groups match numbers worked out by hand, the learning-versus-forgetting
// scatter places the task metric against forgetting per run (named, coloured by
// method, merged runs included, seed groups with error bars), and the Pareto and
// parallel-coordinates views hold the groups' means.

#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/models/config_diff_model.h"
#include "ui/models/run_summary.h"
#include "ui/pages/compare_page.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QLabel>
#include <QPushButton>
#include <QSignalSpy>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>
#include <cmath>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

std::filesystem::path fsPath(const QString& path)
{
    return std::filesystem::path(path.toStdString());
}

int diffRowOf(const ConfigDiffModel* model, const QString& key)
{
    for (int row = 0; row < model->rowCount(); ++row) {
        if (model->keyAt(row) == key)
            return row;
    }
    return -1;
}

const SummaryRow* rowFor(const std::vector<SummaryRow>& rows, qint64 run, const QString& metric)
{
    for (const SummaryRow& r : rows) {
        if (r.runs.contains(run) && r.metric == metric)
            return &r;
    }
    return nullptr;
}

bool near(double a, double b)
{
    return std::abs(a - b) < 1e-9 * std::max(1.0, std::abs(b));
}

// Three runs: A and C share a config but the seed (one group), B has another
// learning rate. Loss over 4 steps, eval_loss, tokens_per_s at a fixed rate
// and the forgetting measure for A and B only.
struct Fixture {
    QTemporaryDir dir;
    std::int64_t a = 0;
    std::int64_t b = 0;
    std::int64_t c = 0;

    Fixture()
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        RunStore runs(ws.db());
        NewRun run;
        run.adapter = "lora";
        run.objective = "sft";
        run.name = "seed-1";
        run.configJson = R"({"adapter": {"type": "lora", "r": 8}, "training": {"learning_rate": 0.0002, "seed": 1}})";
        a = runs.create(run);
        run.name = "other-lr";
        run.configJson = R"({"adapter": {"type": "lora", "r": 8}, "training": {"learning_rate": 0.001, "seed": 1}})";
        b = runs.create(run);
        run.name = "seed-2";
        run.configJson = R"({"adapter": {"type": "lora", "r": 8}, "training": {"learning_rate": 0.0002, "seed": 2}})";
        c = runs.create(run);

        BatchWriter writer(ws.db());
        // Losses (steps 1..4): A 2.0 1.5 1.2 1.0, C 2.0 1.4 0.9 1.1, B 2.0 1.8 1.7 1.6.
        const double lossA[] = { 2.0, 1.5, 1.2, 1.0 };
        const double lossB[] = { 2.0, 1.8, 1.7, 1.6 };
        const double lossC[] = { 2.0, 1.4, 0.9, 1.1 };
        for (int i = 0; i < 4; ++i) {
            const double t = 1000.0 + 10.0 * (i + 1); // ten seconds a step
            writer.addMetric(a, i + 1, "loss", lossA[i], t);
            writer.addMetric(b, i + 1, "loss", lossB[i], t);
            writer.addMetric(c, i + 1, "loss", lossC[i], t);
            writer.addMetric(a, i + 1, "tokens_per_s", 100.0, t);
        }
        writer.addMetric(a, 2, "eval_loss", 1.8, 1020);
        writer.addMetric(a, 4, "eval_loss", 1.3, 1040);
        writer.addMetric(b, 2, "eval_loss", 1.9, 1020);
        writer.addMetric(b, 4, "eval_loss", 1.85, 1040);
        writer.addMetric(c, 4, "eval_loss", 1.2, 1040);
        writer.addMetric(a, 0, "forgetting/delta_loss", 0.0, 1000);
        writer.addMetric(a, 4, "forgetting/delta_loss", 0.30, 1040);
        writer.addMetric(b, 4, "forgetting/delta_loss", 0.05, 1040);
        writer.flush();
    }
    QString path() const { return dir.path(); }
};

} // namespace

class TestCompare : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void summaryMath();
    void tokensAndTimeAxes();
    void diffHighlightsDifferingKeys();
    void overlayOnePerRun();
    void summaryAcrossSeeds();
    void scatterOnePointPerRun();
    void groupTestPairedAndWelch();
    void demoTargetsAndMergedRuns();
    void paretoAndParallel();
};

namespace {

// Two configurations (lora r 8 and r 16) over seeds 1, 2, 3, and a merged run of
// the demo: final demo/target_accuracy and forgetting/delta_loss by hand.
struct SeedFixture {
    QTemporaryDir dir;
    std::vector<std::int64_t> r8;
    std::vector<std::int64_t> r16;
    std::int64_t merged = 0;
    std::int64_t plain = 0; // no demo measure: eval loss only

    SeedFixture()
    {
        Workspace ws = Workspace::create(fsPath(dir.path()));
        RunStore runs(ws.db());
        BatchWriter writer(ws.db());
        const double acc8[] = { 0.50, 0.55, 0.60 };
        const double acc16[] = { 0.70, 0.72, 0.77 };
        const double fg8[] = { 0.10, 0.12, 0.14 };
        const double fg16[] = { 0.20, 0.26, 0.23 };
        for (int seed = 1; seed <= 3; ++seed) {
            for (int r : { 8, 16 }) {
                NewRun run;
                run.adapter = "lora";
                run.objective = "sft";
                run.name = QStringLiteral("lora-r%1-s%2").arg(r).arg(seed).toStdString();
                run.configJson = QStringLiteral(R"({"name": "%1", "adapter": {"type": "lora", "r": %2},
                    "training": {"learning_rate": 0.0002, "seed": %3}})")
                                     .arg(QString::fromStdString(run.name))
                                     .arg(r)
                                     .arg(seed)
                                     .toStdString();
                const std::int64_t id = runs.create(run);
                (r == 8 ? r8 : r16).push_back(id);
                const double acc = r == 8 ? acc8[seed - 1] : acc16[seed - 1];
                const double fg = r == 8 ? fg8[seed - 1] : fg16[seed - 1];
                writer.addMetric(id, 10, "demo/target_accuracy", acc, 1000.0 + 10 * r);
                writer.addMetric(id, 10, "forgetting/delta_loss", fg, 1000.0 + 10 * r);
                writer.addMetric(id, 1, "loss", 3.0, 1000.0);
                writer.addMetric(id, 10, "loss", 1.0, 1000.0 + 10 * r); // r 8: 80 s, r 16: 160 s
            }
        }
        NewRun merge;
        merge.name = "merge-ties-1-2";
        merge.adapter = "full";
        merge.objective = "sft";
        merge.configJson = R"({"name": "merge-ties-1-2", "adapter": "full", "merge": {"method": "ties"}})";
        merge.lineageJson = R"({"operation": "merge", "method": "ties", "parents": [1, 2]})";
        merged = runs.create(merge);
        writer.addMetric(merged, 0, "demo/target_accuracy", 0.80, 2000);
        writer.addMetric(merged, 0, "forgetting/delta_loss", 0.05, 2000);
        NewRun other;
        other.name = "plain";
        other.adapter = "full";
        other.objective = "sft";
        other.configJson = R"({"adapter": "full", "training": {"learning_rate": 0.0001}})";
        plain = runs.create(other);
        writer.addMetric(plain, 1, "eval_loss", 2.0, 3000);
        writer.addMetric(plain, 5, "eval_loss", 1.5, 3010);
        writer.addMetric(plain, 5, "forgetting/delta_loss", 0.4, 3010);
        writer.flush();
    }
    QString path() const { return dir.path(); }
};

double sampleStd(std::initializer_list<double> v)
{
    double m = 0;
    for (double x : v)
        m += x;
    m /= static_cast<double>(v.size());
    double s = 0;
    for (double x : v)
        s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}

} // namespace

void TestCompare::summaryMath()
{
    const MeanStd m = meanStd({ 1.0, 1.1 });
    QCOMPARE(m.n, 2);
    QVERIFY(near(m.mean, 1.05));
    QVERIFY(near(m.std, std::sqrt(0.005))); // sample std: sqrt(((-0.05)^2 + 0.05^2) / 1)
    // The 95% t interval: 1.05 +- t(0.975, 1) * sd / sqrt(2), t(0.975, 1) = tan(0.475 pi) = 12.7062...
    QVERIFY(near(m.ciHigh - m.mean, std::tan(0.475 * M_PI) * std::sqrt(0.005) / std::sqrt(2.0)));
    QCOMPARE(m.ciMethod, stats::IntervalMethod::StudentT);
    QCOMPARE(intervalText(m), QStringLiteral("[0.4147, 1.685] (t)"));
    // One value: no spread, no interval (not a spread of 0).
    QVERIFY(std::isnan(meanStd({ 3.0 }).std));
    QVERIFY(intervalText(meanStd({ 3.0 })).isEmpty());
    QCOMPARE(meanStd({}).n, 0);
    const MeanStd boot = meanStd({ 1.0, 1.1, 1.3 }, stats::IntervalMethod::Bootstrap);
    QCOMPARE(boot.ciMethod, stats::IntervalMethod::Bootstrap);
    QVERIFY(boot.ciLow >= 1.0 && boot.ciHigh <= 1.3 && boot.ciLow < boot.ciHigh);
    QVERIFY(intervalText(boot).endsWith(QStringLiteral("(bootstrap)")));

    QCOMPARE(
        seedGroupKey(R"({"training": {"seed": 1, "lr": 2}})"), seedGroupKey(R"({"training": {"lr": 2, "seed": 9}})"));
    QVERIFY(
        seedGroupKey(R"({"training": {"seed": 1, "lr": 2}})") != seedGroupKey(R"({"training": {"seed": 1, "lr": 3}})"));
    // Only a key named exactly "seed" is ignored.
    QVERIFY(seedGroupKey(R"({"seeds": 1})") != seedGroupKey(R"({"seeds": 2})"));

    QVERIFY(!higherIsBetter(QStringLiteral("loss")));
    QVERIFY(!higherIsBetter(QStringLiteral("eval_loss")));
    QVERIFY(!higherIsBetter(QStringLiteral("forgetting/delta_loss")));
    QVERIFY(!higherIsBetter(QStringLiteral("forgetting/kl")));
    QVERIFY(!higherIsBetter(QStringLiteral("diversity/self_bleu")));
    QVERIFY(higherIsBetter(QStringLiteral("reward_accuracy")));
    QVERIFY(higherIsBetter(QStringLiteral("forgetting/probe_accuracy_delta")));
    QVERIFY(higherIsBetter(QStringLiteral("diversity/distinct_2")));
    QVERIFY(higherIsBetter(QStringLiteral("tokens_per_s")));
    QVERIFY(higherIsBetter(QStringLiteral("samples_per_s")));
    QVERIFY(higherIsBetter(QStringLiteral("mfu")));
}

void TestCompare::tokensAndTimeAxes()
{
    RunMetrics run;
    run.startedAt = 990.0;
    // 100 tokens/s logged at steps 2 and 4, 10 s apart; the run started 10 s before step 2.
    run.series["tokens_per_s"] = { { 2, 100.0, 1000.0 }, { 4, 100.0, 1010.0 } };
    const std::vector<MetricPoint> loss
        = { { 1, 3.0, 995.0 }, { 2, 2.0, 1000.0 }, { 3, 1.5, 1005.0 }, { 4, 1.0, 1010.0 }, { 6, 0.5, 1020.0 } };
    const auto tokens = xValues(run, loss, XAxis::Tokens);
    QVERIFY(tokens);
    const std::vector<double> expectedTokens = { 500.0, 1000.0, 1500.0, 2000.0, 3000.0 };
    for (std::size_t i = 0; i < loss.size(); ++i)
        QVERIFY2(near((*tokens)[i], expectedTokens[i]), qPrintable(QString::number((*tokens)[i])));
    const auto time = xValues(run, loss, XAxis::Time);
    QCOMPARE((*time)[0], 5.0);
    QCOMPARE((*time)[4], 30.0);
    QCOMPARE((*xValues(run, loss, XAxis::Step))[4], 6.0);
    RunMetrics none;
    QVERIFY(!xValues(none, loss, XAxis::Tokens)); // no throughput recorded: no token axis
}

void TestCompare::diffHighlightsDifferingKeys()
{
    Fixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    QVERIFY(page.setRunChecked(fx.a, true));
    QVERIFY(page.setRunChecked(fx.b, true));
    ConfigDiffModel* diff = page.diffModel();
    QCOMPARE(diff->configCount(), 2);
    QCOMPARE(diff->differenceCount(), 1);
    const int lr = diffRowOf(diff, QStringLiteral("training.learning_rate"));
    QVERIFY(lr >= 0);
    QVERIFY(diff->index(lr, 0).data(ConfigDiffModel::kDiffersRole).toBool());
    QVERIFY(diff->index(lr, 0).data(Qt::BackgroundRole).isValid());
    QVERIFY(diff->index(lr, 1).data(Qt::FontRole).value<QFont>().bold());
    // The value that differs from the first run's is the one marked in its row.
    QVERIFY(!diff->index(lr, 1).data(ConfigDiffModel::kCellDiffersRole).toBool());
    QVERIFY(diff->index(lr, 2).data(ConfigDiffModel::kCellDiffersRole).toBool());
    QVERIFY(diff->index(lr, 2).data(Qt::BackgroundRole).value<QColor>().alpha()
        > diff->index(lr, 1).data(Qt::BackgroundRole).value<QColor>().alpha());
    const int r = diffRowOf(diff, QStringLiteral("adapter.r"));
    QVERIFY(r >= 0);
    QVERIFY(!diff->index(r, 0).data(ConfigDiffModel::kDiffersRole).toBool());
    QVERIFY(!diff->index(r, 1).data(Qt::BackgroundRole).isValid());
    const QString summary = page.findChild<QLabel*>(QStringLiteral("compareSummary"))->text();
    QVERIFY2(summary.contains(QStringLiteral("1 of 4 keys differ")), qPrintable(summary));

    // "Write report..." hands the checked runs on (the main window opens the report dialog with them).
    QSignalSpy report(&page, &ComparePage::reportRequested);
    auto* button = page.findChild<QPushButton*>(QStringLiteral("compareReport"));
    QVERIFY(button);
    button->click();
    QCOMPARE(report.count(), 1);
    QCOMPARE(report.at(0).at(0).value<QList<qint64>>(), (QList<qint64> { fx.a, fx.b }));
}

void TestCompare::overlayOnePerRun()
{
    Fixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    page.resize(1100, 700);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    QVERIFY(page.setRunChecked(fx.a, true));
    QVERIFY(page.setRunChecked(fx.b, true));
    QCOMPARE(page.metric(), QStringLiteral("loss"));
    SeriesPlot* overlay = page.overlayPlot();
    QCOMPARE(overlay->seriesCount(), 2);
    QCOMPARE(overlay->pointCount(0), 4);
    QCOMPARE(overlay->pointCount(1), 4);
    QVERIFY(overlay->series(0)->name().contains(QStringLiteral("seed-1")));
    QVERIFY(overlay->series(0)->pen().color() != overlay->series(1)->pen().color());

    QVERIFY(page.setMetric(QStringLiteral("eval_loss")));
    QCOMPARE(overlay->seriesCount(), 2);
    QCOMPARE(overlay->pointCount(0), 2);
    QVERIFY(!page.setMetric(QStringLiteral("no_such_metric")));

    // By time: seconds since the run's first point (neither run has a start stamp; A's first point is
    // its forgetting measure at step 0, ten seconds before its first loss).
    QVERIFY(page.setMetric(QStringLiteral("loss")));
    page.setXAxis(XAxis::Time);
    QCOMPARE(overlay->series(0)->data()->at(0)->key, 10.0);
    QCOMPARE(overlay->series(0)->data()->at(3)->key, 40.0);
    QCOMPARE(overlay->series(1)->data()->at(0)->key, 0.0);
    QVERIFY(overlay->xAxis->label().contains(QStringLiteral("seconds")));
    // By tokens: only A recorded its throughput; B is named as left out.
    page.setXAxis(XAxis::Tokens);
    QCOMPARE(overlay->seriesCount(), 1);
    QCOMPARE(overlay->series(0)->data()->at(3)->key, 3000.0); // 100 tokens/s over 30 s after the first point
    const QString note = page.findChild<QLabel*>(QStringLiteral("compareOverlayNote"))->text();
    QVERIFY2(note.contains(QStringLiteral("other-lr")), qPrintable(note));

    page.setXAxis(XAxis::Step);
    QVERIFY(page.setRunChecked(fx.c, true));
    QCOMPARE(overlay->seriesCount(), 3);

    // A new point from another connection reaches the overlay.
    {
        Workspace ws = Workspace::open(fsPath(fx.path()));
        BatchWriter writer(ws.db());
        writer.addMetric(fx.b, 5, "loss", 1.55, 1050);
        writer.flush();
    }
    session.notifyChanged();
    QCOMPARE(overlay->pointCount(1), 5);

    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    const struct {
        ComparePage::Tab tab;
        const char* name;
    } tabs[] = { { ComparePage::CurvesTab, "compare_curves" }, { ComparePage::ConfigTab, "compare_config" },
        { ComparePage::SummaryTab, "compare_summary" }, { ComparePage::ScatterTab, "compare_scatter" },
        { ComparePage::ParetoTab, "compare_pareto_two" }, { ComparePage::ParallelTab, "compare_parallel_two" } };
    for (const auto& t : tabs) {
        page.showTab(t.tab);
        QTest::qWait(50); // the plots' queued replots draw
        const QString file = folder + QString::fromLatin1(t.name) + QStringLiteral(".png");
        QFile::remove(file);
        QVERIFY(page.grab().save(file));
        QVERIFY(QFileInfo(file).size() > 1000);
    }
}

void TestCompare::summaryAcrossSeeds()
{
    Fixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    QVERIFY(page.setRunChecked(fx.a, true));
    QVERIFY(page.setRunChecked(fx.b, true));
    QVERIFY(page.setRunChecked(fx.c, true));
    const std::vector<SummaryRow>& rows = page.summaryRows();

    // A and C differ only in training.seed: one group of two.
    const SummaryRow* loss = rowFor(rows, fx.a, QStringLiteral("loss"));
    QVERIFY(loss);
    QCOMPARE(loss->runs, QList<qint64>({ fx.a, fx.c }));
    QCOMPARE(loss->finalValue.n, 2);
    QVERIFY(near(loss->finalValue.mean, 1.05)); // finals 1.0 and 1.1
    QVERIFY(near(loss->finalValue.std, std::sqrt(0.005)));
    QVERIFY(near(loss->bestValue.mean, 0.95)); // bests (lowest) 1.0 and 0.9
    QVERIFY(near(loss->bestValue.std, std::sqrt(0.005)));
    const SummaryRow* eval = rowFor(rows, fx.a, QStringLiteral("eval_loss"));
    QVERIFY(eval);
    QVERIFY(near(eval->finalValue.mean, 1.25)); // 1.3 and 1.2
    // B is a group of its own: its numbers, no spread.
    const SummaryRow* lossB = rowFor(rows, fx.b, QStringLiteral("loss"));
    QVERIFY(lossB);
    QCOMPARE(lossB->runs, QList<qint64>({ fx.b }));
    QCOMPARE(lossB->finalValue.n, 1);
    QVERIFY(near(lossB->finalValue.mean, 1.6));
    QVERIFY(std::isnan(lossB->finalValue.std));
    // A metric only one run of a group has is summarised over that run.
    const SummaryRow* forgetting = rowFor(rows, fx.a, QStringLiteral("forgetting/delta_loss"));
    QVERIFY(forgetting);
    QCOMPARE(forgetting->finalValue.n, 1);
    QVERIFY(near(forgetting->bestValue.mean, 0.0));

    // The table shows the same numbers.
    QTableWidget* table = page.summaryTable();
    QCOMPARE(table->rowCount(), static_cast<int>(rows.size()));
    bool found = false;
    for (int row = 0; row < table->rowCount(); ++row) {
        if (table->item(row, 2)->text() == QLatin1String("loss") && table->item(row, 3)->text() == QLatin1String("2")) {
            QCOMPARE(table->item(row, 1)->text(), QStringLiteral("lora / sft"));
            QCOMPARE(table->item(row, 4)->text(), QStringLiteral("1.05 \u00b1 0.07071"));
            QCOMPARE(table->item(row, 5)->text(), QStringLiteral("[0.4147, 1.685] (t)"));
            QCOMPARE(table->item(row, 7)->text(), QStringLiteral("lowest"));
            found = true;
        }
    }
    QVERIFY(found);
}

void TestCompare::scatterOnePointPerRun()
{
    Fixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    QVERIFY(page.setRunChecked(fx.a, true));
    QVERIFY(page.setRunChecked(fx.b, true));
    SeriesPlot* scatter = page.scatterPlot();
    QCOMPARE(scatter->pointCount(0), 2);
    QStringList labels = page.scatterLabels(); // a label per point
    labels.sort();
    QCOMPARE(labels, QStringList({ QStringLiteral("other-lr"), QStringLiteral("seed-1") })); // run names
    // x: eval loss drop (A 1.8 -> 1.3, B 1.9 -> 1.85), y: final forgetting delta loss.
    std::vector<std::pair<double, double>> points;
    for (auto it = scatter->series(0)->data()->constBegin(); it != scatter->series(0)->data()->constEnd(); ++it)
        points.emplace_back(it->key, it->value);
    std::sort(points.begin(), points.end());
    QVERIFY(near(points[0].first, 0.05) && near(points[0].second, 0.05));
    QVERIFY(near(points[1].first, 0.5) && near(points[1].second, 0.30));
    // No demo measure: the target is the eval-loss improvement, never the train-loss drop.
    QCOMPARE(page.learningForgetting().learningMetric, QStringLiteral("eval_loss"));
    QVERIFY(scatter->xAxis->label().contains(QStringLiteral("eval loss improvement")));
    QVERIFY(scatter->yAxis->label().contains(QStringLiteral("forgetting")));

    // C has no forgetting measure: not placed, and named as such.
    QVERIFY(page.setRunChecked(fx.c, true));
    QCOMPARE(scatter->pointCount(0), 2);
    QVERIFY2(page.scatterNote()->text().contains(QStringLiteral("seed-2")), qPrintable(page.scatterNote()->text()));
}

void TestCompare::groupTestPairedAndWelch()
{
    SeedFixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    for (std::int64_t id : fx.r8)
        QVERIFY(page.setRunChecked(id, true));
    for (std::int64_t id : fx.r16)
        QVERIFY(page.setRunChecked(id, true));
    // The runs' names differ but not their settings: two groups of three seeds.
    const SummaryRow* acc8 = rowFor(page.summaryRows(), fx.r8[0], QStringLiteral("demo/target_accuracy"));
    QVERIFY(acc8);
    QCOMPARE(acc8->runs.size(), 3);
    QCOMPARE(acc8->seeds, QStringList({ "1", "2", "3" }));
    QVERIFY(near(acc8->finalValue.mean, 0.55));
    QVERIFY(near(acc8->finalValue.std, 0.05));
    QVERIFY(near(acc8->finalValue.ciLow, 0.55 - 4.302652729749464 * 0.05 / std::sqrt(3.0)));

    // Same seeds in both groups: paired by seed. Differences r16 - r8: 0.20, 0.17, 0.17.
    QVERIFY(page.setTestGroups(fx.r16[0], fx.r8[0], QStringLiteral("demo/target_accuracy")));
    QVERIFY(page.groupTest().has_value());
    const stats::GroupTest& paired = *page.groupTest();
    QCOMPARE(paired.kind, stats::TestKind::Paired);
    QCOMPARE(paired.nA, std::size_t(3));
    const double sd = sampleStd({ 0.20, 0.17, 0.17 });
    QVERIFY(near(paired.difference, 0.18));
    QVERIFY(near(paired.t, 0.18 / (sd / std::sqrt(3.0))));
    QCOMPARE(paired.df, 2.0);
    // df = 2: p = 1 - t / sqrt(2 + t^2).
    QVERIFY(near(paired.p, 1.0 - paired.t / std::sqrt(2.0 + paired.t * paired.t)));
    QVERIFY(near(paired.effectSize, 0.18 / sd));
    QCOMPARE(paired.verdict, stats::Verdict::Difference);
    const QString text = page.groupTestLabel()->text();
    QVERIFY2(text.contains(QStringLiteral("paired t test (3 pairs by seed)")) && text.contains(QStringLiteral("p = "))
            && text.contains(QStringLiteral("d_z = ")) && text.contains(QStringLiteral("(t)")),
        qPrintable(text));

    // Bootstrap intervals say so.
    page.setIntervalMethod(stats::IntervalMethod::Bootstrap);
    QCOMPARE(page.groupTest()->differenceInterval.method, stats::IntervalMethod::Bootstrap);
    QVERIFY(page.groupTestLabel()->text().contains(QStringLiteral("(bootstrap)")));
    QVERIFY(rowFor(page.summaryRows(), fx.r8[0], QStringLiteral("demo/target_accuracy"))->finalValue.ciMethod
        == stats::IntervalMethod::Bootstrap);
    page.setIntervalMethod(stats::IntervalMethod::StudentT);

    // Seed 3 of r 16 unchecked: seeds differ (1, 2 against 1, 2, 3), so Welch, with n = 2: flagged.
    QVERIFY(page.setRunChecked(fx.r16[2], false));
    QVERIFY(page.setTestGroups(fx.r16[0], fx.r8[0], QStringLiteral("forgetting/delta_loss")));
    const stats::GroupTest& welch = *page.groupTest();
    QCOMPARE(welch.kind, stats::TestKind::Welch);
    QCOMPARE(welch.nA, std::size_t(2));
    QCOMPARE(welch.verdict, stats::Verdict::TooFewRuns);
    QVERIFY(near(welch.difference, 0.23 - 0.12));
    const QString flagged = page.groupTestLabel()->text();
    QVERIFY2(flagged.startsWith(QStringLiteral("\u26a0")) && flagged.contains(QStringLiteral("Too few runs")),
        qPrintable(flagged));
}

void TestCompare::demoTargetsAndMergedRuns()
{
    SeedFixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    page.resize(1100, 700);
    for (std::int64_t id : fx.r8)
        QVERIFY(page.setRunChecked(id, true));
    QVERIFY(page.setRunChecked(fx.r16[0], true));
    QVERIFY(page.setRunChecked(fx.merged, true));
    QVERIFY(page.setRunChecked(fx.plain, true));
    const LearningForgetting& lf = page.learningForgetting();
    // The demo measured the target: that is the x axis, merged run included.
    QCOMPARE(lf.learningMetric, QStringLiteral("demo/target_accuracy"));
    QCOMPARE(lf.points.size(), std::size_t(5));
    QCOMPARE(lf.missing, QList<qint64>({ fx.plain })); // no demo measure: named, not placed
    auto point = [&](qint64 id) {
        return *std::find_if(lf.points.begin(), lf.points.end(), [&](const auto& p) { return p.runId == id; });
    };
    QCOMPARE(point(fx.merged).name, QStringLiteral("merge-ties-1-2"));
    QCOMPARE(point(fx.merged).method, QStringLiteral("merge: ties"));
    QVERIFY(near(point(fx.merged).learning, 0.80));
    QVERIFY(near(point(fx.merged).forgetting, 0.05));
    QCOMPARE(point(fx.r8[1]).method, QStringLiteral("lora / sft"));
    // Seed groups: r 8 over three seeds (mean 0.55 +- 0.05, forgetting 0.12 +- 0.02), r 16 and the merge alone.
    QCOMPARE(lf.groups.size(), std::size_t(3));
    const PointGroup& g8 = lf.groups[0];
    QCOMPARE(g8.runs.size(), 3);
    QCOMPARE(g8.label, QStringLiteral("lora-r8-s1, lora-r8-s2, lora-r8-s3"));
    QVERIFY(near(g8.x.mean, 0.55) && near(g8.x.std, 0.05));
    QVERIFY(near(g8.y.mean, 0.12) && near(g8.y.std, 0.02));
    // The plot: one series per method (runs), plus the r 8 group's mean with error bars.
    SeriesPlot* scatter = page.scatterPlot();
    QStringList names;
    for (int i = 0; i < scatter->seriesCount(); ++i)
        names.append(scatter->series(i)->name());
    QCOMPARE(names, QStringList({ "lora / sft", "lora / sft (seed mean)", "merge: ties" }));
    QVERIFY(scatter->series(0)->pen().color() != scatter->series(2)->pen().color());
    QCOMPARE(scatter->pointCount(0), 4);
    QCOMPARE(scatter->pointCount(1), 1);
    int bars = 0;
    for (int i = 0; i < scatter->plottableCount(); ++i) {
        if (auto* b = qobject_cast<QCPErrorBars*>(scatter->plottable(i))) {
            ++bars;
            QVERIFY(near(b->data()->at(0).errorPlus, b->errorType() == QCPErrorBars::etKeyError ? 0.05 : 0.02));
        }
    }
    QCOMPARE(bars, 2);
    QStringList labels = page.scatterLabels();
    QVERIFY(labels.contains(QStringLiteral("merge-ties-1-2")) && labels.contains(QStringLiteral("lora-r16-s1")));
    QVERIFY(scatter->xAxis->label().contains(QStringLiteral("demo/target_accuracy")));
    // Configurable: the eval-loss improvement places only the run that has it.
    QVERIFY(page.setTargetMetric(QStringLiteral("eval_loss")));
    QCOMPARE(page.learningForgetting().points.size(), std::size_t(1));
    QVERIFY(near(page.learningForgetting().points[0].learning, 0.5));
}

void TestCompare::paretoAndParallel()
{
    SeedFixture fx;
    WorkspaceSession session;
    QVERIFY(session.open(fx.path()));
    ComparePage page(&session);
    page.resize(1100, 700);
    page.show();
    QVERIFY(QTest::qWaitForWindowExposed(&page));
    for (std::int64_t id : fx.r8)
        QVERIFY(page.setRunChecked(id, true));
    for (std::int64_t id : fx.r16)
        QVERIFY(page.setRunChecked(id, true));
    QVERIFY(page.setRunChecked(fx.merged, true));
    // Against forgetting: r 8 (0.55, 0.12), r 16 (0.73, 0.23), merge (0.80, 0.05): the merge dominates both.
    QVERIFY(page.setParetoCost(QStringLiteral("forgetting/delta_loss")));
    const ParetoView& pareto = page.pareto();
    QCOMPARE(pareto.groups.size(), std::size_t(3));
    QVERIFY(near(pareto.groups[1].y.mean, 0.73) && near(pareto.groups[1].x.mean, 0.23));
    QCOMPARE(pareto.onFront, std::vector<bool>({ false, false, true }));
    // Against time (80 s and 160 s from the first to the last record; the merge recorded at one instant):
    // the merge still dominates.
    QVERIFY(page.setParetoCost(kTimeCost));
    QVERIFY(near(page.pareto().groups[0].x.mean, 80.0));
    QVERIFY(near(page.pareto().groups[1].x.mean, 160.0));
    QCOMPARE(page.pareto().onFront, std::vector<bool>({ false, false, true }));
    // Without the merge r 8 and r 16 trade off: both on the front.
    QVERIFY(page.setRunChecked(fx.merged, false));
    QCOMPARE(page.pareto().onFront, std::vector<bool>({ true, true }));
    QVERIFY(paretoFront({ 1, 2, 3 }, { 1, 1, 2 }, true) == std::vector<bool>({ true, false, true }));
    QVERIFY(paretoFront({ 1, 2 }, { 1, 2 }, false) == std::vector<bool>({ true, false }));
    QVERIFY(page.setRunChecked(fx.merged, true));
    QVERIFY(page.setParetoCost(QStringLiteral("forgetting/delta_loss")));

    // Parallel coordinates: adapter.r differs (the merge lacks it); the learning rate, the same wherever
    // set, is no axis; then the results.
    const ParallelCoordinates& pc = page.parallel();
    QStringList axes;
    for (const ParallelAxis& a : pc.axes)
        axes.append(a.name);
    QCOMPARE(axes, QStringList({ "adapter.r", "demo/target_accuracy", "forgetting/delta_loss", "loss" }));
    QVERIFY(pc.axes[0].isConfig && !pc.axes[1].isConfig);
    QCOMPARE(pc.lines.size(), std::size_t(3));
    QVERIFY(std::isnan(pc.lines[2].values[0])); // the merge has no adapter.r
    QCOMPARE(pc.lines[0].values[0], 8.0);
    QCOMPARE(pc.lines[1].values[0], 16.0);
    QVERIFY(near(pc.lines[1].values[1], 0.73));
    QCOMPARE(pc.scaled(0, 0), 0.0);
    QCOMPARE(pc.scaled(1, 0), 1.0);
    QVERIFY(near(pc.scaled(2, 1), 1.0)); // the merge's accuracy is the highest
    QVERIFY(near(pc.scaled(0, 1), 0.0));
    QVERIFY(std::isnan(pc.scaled(2, 3))); // nor any train loss
    QCOMPARE(pc.lines[2].method, QStringLiteral("merge: ties"));
    QCOMPARE(page.parallelPlot()->seriesCount(), 3);
    QCOMPARE(page.paretoPlot()->series(page.paretoPlot()->seriesCount() - 1)->name(), QStringLiteral("Pareto front"));

    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QVERIFY(QDir().mkpath(folder));
    const struct {
        ComparePage::Tab tab;
        const char* name;
    } tabs[]
        = { { ComparePage::SummaryTab, "compare_seed_summary" }, { ComparePage::ScatterTab, "compare_seed_scatter" },
              { ComparePage::ParetoTab, "compare_pareto" }, { ComparePage::ParallelTab, "compare_parallel" } };
    QVERIFY(page.setTestGroups(fx.r16[0], fx.r8[0], QStringLiteral("demo/target_accuracy")));
    for (const auto& t : tabs) {
        page.showTab(t.tab);
        QTest::qWait(50);
        const QString file = folder + QString::fromLatin1(t.name) + QStringLiteral(".png");
        QFile::remove(file);
        QVERIFY(page.grab().save(file));
        QVERIFY(QFileInfo(file).size() > 1000);
    }
}

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
