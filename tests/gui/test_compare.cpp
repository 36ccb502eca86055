// The Compare page over a real workspace with hand-made metrics: the config
// diff highlights what differs, curves overlay per run on each x axis, the
// summary's mean and spread across seeds match numbers worked out by hand, and
// the learning-versus-forgetting scatter places one point per run.

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
};

void TestCompare::summaryMath()
{
    const MeanStd m = meanStd({ 1.0, 1.1 });
    QCOMPARE(m.n, 2);
    QVERIFY(near(m.mean, 1.05));
    QVERIFY(near(m.std, std::sqrt(0.005))); // sample std: sqrt(((-0.05)^2 + 0.05^2) / 1)
    QCOMPARE(meanStd({ 3.0 }).std, 0.0);
    QCOMPARE(meanStd({}).n, 0);

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
        { ComparePage::SummaryTab, "compare_summary" }, { ComparePage::ScatterTab, "compare_scatter" } };
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
    QCOMPARE(lossB->finalValue.std, 0.0);
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
        if (table->item(row, 1)->text() == QLatin1String("loss") && table->item(row, 2)->text() == QLatin1String("2")) {
            QCOMPARE(table->item(row, 3)->text(), QStringLiteral("1.05 \u00b1 0.070711"));
            QCOMPARE(table->item(row, 5)->text(), QStringLiteral("lowest"));
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
    QCOMPARE(labels, QStringList({ QStringLiteral("#%1").arg(fx.a), QStringLiteral("#%1").arg(fx.b) }));
    // x: eval loss drop (A 1.8 -> 1.3, B 1.9 -> 1.85), y: final forgetting delta loss.
    std::vector<std::pair<double, double>> points;
    for (auto it = scatter->series(0)->data()->constBegin(); it != scatter->series(0)->data()->constEnd(); ++it)
        points.emplace_back(it->key, it->value);
    std::sort(points.begin(), points.end());
    QVERIFY(near(points[0].first, 0.05) && near(points[0].second, 0.05));
    QVERIFY(near(points[1].first, 0.5) && near(points[1].second, 0.30));
    QVERIFY(scatter->xAxis->label().contains(QStringLiteral("eval loss drop")));
    QVERIFY(scatter->yAxis->label().contains(QStringLiteral("forgetting")));

    // C has no forgetting measure: not placed, and named as such.
    QVERIFY(page.setRunChecked(fx.c, true));
    QCOMPARE(scatter->pointCount(0), 2);
    QVERIFY2(
        page.scatterNote()->text().contains(QStringLiteral("#%1").arg(fx.c)), qPrintable(page.scatterNote()->text()));
}

QTEST_MAIN(TestCompare)
#include "test_compare.moc"
