// Reports on one run and on comparisons: the HTML is one file whose plots decode
// as PNG images, the PDF has pages (pdfinfo), the Markdown's images exist, the
// keys that differ are marked, lineage/environment/metrics/samples are there,
// nothing is overwritten without --force, and `tunebench-cli report` renders
// runs trained by `tunebench-cli train` through the renderer module it loads.

#include "core/report/report_data.h"
#include "core/store/artifacts.h"
#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"
#include "core/version.h"
#include "report/tiny_run.h"
#include "ui/report/report_writer.h"

#include <QApplication>
#include <QFile>
#include <QFileInfo>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QRegularExpression>
#include <QTemporaryDir>
#include <QTextDocument>
#include <QtTest>

#include <nlohmann/json.hpp>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

QByteArray readAll(const QString& path)
{
    QFile f(path);
    return f.open(QIODevice::ReadOnly) ? f.readAll() : QByteArray();
}

// Pages of a PDF as poppler's pdfinfo reads them; -1 when it cannot.
int pdfPages(const QString& path, QString* info)
{
    QProcess p;
    p.start(QStringLiteral("pdfinfo"), { path });
    if (!p.waitForFinished(60000) || p.exitCode() != 0) {
        *info = QString::fromUtf8(p.readAllStandardError()) + p.errorString();
        return -1;
    }
    *info = QString::fromUtf8(p.readAllStandardOutput());
    const auto m = QRegularExpression(QStringLiteral("Pages:\\s+(\\d+)")).match(*info);
    return m.hasMatch() ? m.captured(1).toInt() : -1;
}

// The <tr> that holds key's cell in the configuration table.
QString configRow(const QString& html, const QString& key)
{
    const QRegularExpression re(QStringLiteral("<tr[^>]*>(<td[^>]*>(<b>)?%1(</b>)?</td>.*)</tr>")
                                    .arg(QRegularExpression::escape(key.toHtmlEscaped())));
    const auto m = re.match(html);
    return m.hasMatch() ? m.captured(0) : QString();
}

} // namespace

class TestReport : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;
    std::int64_t m_runA = 0;
    std::int64_t m_runB = 0;

    ReportData data(const std::vector<std::int64_t>& ids)
    {
        Workspace ws = Workspace::open(m_ws.toStdString());
        return collectReportData(ws, ids);
    }

private Q_SLOTS:
    void initTestCase()
    {
        // Two runs that differ in learning_rate only, on a dataset derived from an import.
        m_ws = m_dir.path() + "/ws";
        Workspace ws = Workspace::create(m_ws.toStdString());
        DatasetStore datasets(ws.db());
        DatasetRecord d;
        d.name = "alpaca-mini";
        d.format = "instruction";
        d.sourcePath = "/data/alpaca_mini.jsonl";
        d.records = 52;
        d.contentHash = "9f2c1e0d8b7a";
        const std::int64_t parent = datasets.add(d);
        d.name = "alpaca-mini-dedup";
        d.records = 50;
        d.parentId = parent;
        d.operation = "dedup";
        d.paramsJson = R"({"threshold":0.8})";
        const std::int64_t derived = datasets.add(d);

        RunStore runs(ws.db());
        NewRun run;
        run.name = "lora-fast";
        run.adapter = "lora";
        run.objective = "sft";
        run.modelPath = "/models/tiny";
        run.datasetId = derived;
        run.configJson = R"({"adapter": {"type": "lora", "r": 8}, "training": {"learning_rate": 0.0002, "seed": 1}})";
        m_runA = runs.create(run);
        run.name = "lora-slow";
        run.configJson = R"({"adapter": {"type": "lora", "r": 8}, "training": {"learning_rate": 0.0001, "seed": 1}})";
        m_runB = runs.create(run);
        runs.setStatus(m_runA, RunStatus::Running, {}, 1);
        runs.setStatus(m_runA, RunStatus::Finished);
        runs.addEvent(m_runA, "start",
            R"({"event":"start","trainable_parameters":1024,"total_parameters":65536,"train_examples":40,"eval_examples":10})");
        runs.addEvent(m_runA, "finished", R"({"event":"finished","steps":5,"best_eval_loss":1.25})");

        BatchWriter w(ws.db());
        for (int step = 1; step <= 5; ++step) {
            w.addMetric(m_runA, step, "loss", 2.0 - 0.25 * step);
            w.addMetric(m_runB, step, "loss", 2.0 - 0.1 * step);
            w.addMetric(m_runA, step, "lr", 1e-4 * step);
        }
        w.addMetric(m_runA, 2, "eval_loss", 1.25);
        w.addMetric(m_runA, 4, "eval_loss", 1.5);
        w.addSample(m_runA, 0, 0, 0, "Once upon", "a time <b>there</b>", 7);
        w.addSample(m_runA, 5, 0, 0, "Once upon", "a hill | far away", 7);
        w.flush();
    }

    void dataSummarisesRunsAndDifferences()
    {
        const ReportData d = data({ m_runA, m_runB });
        QCOMPARE(d.runs.size(), 2u);
        QCOMPARE(d.differenceCount(), 1u);
        for (const ConfigRow& row : d.config)
            QCOMPARE(row.differs, row.key == "training.learning_rate");
        const ReportRun& a = d.runs[0];
        QCOMPARE(a.lineage.size(), 2u); // the derived dataset, then its parent
        QCOMPARE(a.lineage[0].operation, std::string("dedup"));
        QCOMPARE(a.lineage[1].operation, std::string("import"));
        QCOMPARE(a.samples.size(), 2u); // first and last sampled step
        QCOMPARE(a.startEvent["trainable_parameters"].get<int>(), 1024);
        for (const ReportMetric& m : a.metrics) {
            if (m.name == "eval_loss") {
                QCOMPARE(m.final, 1.5);
                QCOMPARE(m.finalStep, std::int64_t { 4 });
                QCOMPARE(*m.best, 1.25); // lower is better
                QCOMPARE(m.bestStep, std::int64_t { 2 });
            } else if (m.name == "lr") {
                QVERIFY(!m.best); // no direction, no best
            }
        }
        QVERIFY(metricDirection("rewards/accuracies") == MetricDirection::Higher);
        QVERIFY(metricDirection("frac_reward_zero_std") == MetricDirection::Lower); // GRPO groups without signal
        QVERIFY(metricDirection("mfu") == MetricDirection::Higher);
        QVERIFY(metricDirection("forgetting/delta_loss") == MetricDirection::Lower);
        QVERIFY(metricDirection("grad_norm") == MetricDirection::None);
        bool hasTorch = false;
        for (const auto& [label, value] : d.environment)
            hasTorch = hasTorch || (label == "LibTorch" && value == torchVersion());
        QVERIFY(hasTorch);

        Workspace ws = Workspace::open(m_ws.toStdString());
        QVERIFY_THROWS_EXCEPTION(InputError, collectReportData(ws, { m_runA, m_runA }));
        QVERIFY_THROWS_EXCEPTION(InputError, collectReportData(ws, { 404 }));
        QVERIFY_THROWS_EXCEPTION(InputError, parseRunIds("1,,2", "--runs"));
        QCOMPARE(parseRunIds("3,12", "--runs"), (std::vector<std::int64_t> { 3, 12 }));
    }

    void htmlIsOneFileWithPlotsAndTables()
    {
        const QString out = m_dir.path() + "/compare.html";
        const WrittenReport w = writeReport(data({ m_runA, m_runB }), out, false);
        QCOMPARE(w.files, QStringList { QFileInfo(out).absoluteFilePath() });
        QCOMPARE(w.plots, 3); // loss, eval_loss, lr
        const QString html = QString::fromUtf8(readAll(out));
        QVERIFY(!html.contains("<link") && !html.contains("src=\"http")); // nothing outside the file

        const QRegularExpression image(QStringLiteral("src=\"data:image/png;base64,([A-Za-z0-9+/=]+)\""));
        int images = 0;
        for (auto it = image.globalMatch(html); it.hasNext(); ++images) {
            const QImage png = QImage::fromData(QByteArray::fromBase64(it.next().captured(1).toLatin1()), "PNG");
            QVERIFY(!png.isNull());
            QCOMPARE(png.size(), QSize(760, 340));
            // A drawn plot, not a blank canvas: many distinct colours (curves, text, antialiasing).
            QSet<QRgb> colours;
            for (int y = 0; y < png.height(); y += 3)
                for (int x = 0; x < png.width(); x += 3)
                    colours.insert(png.pixel(x, y));
            QVERIFY2(colours.size() > 20, qPrintable(QString::number(colours.size())));
        }
        QCOMPARE(images, 3);

        const QString lr = configRow(html, "training.learning_rate");
        QVERIFY2(
            lr.startsWith("<tr class=\"differs\">") && lr.contains("0.0002") && lr.contains("0.0001"), qPrintable(lr));
        QVERIFY(configRow(html, "adapter.r").startsWith("<tr>"));
        QVERIFY(html.contains("1 of 4 keys differ"));
        // The differing keys first, on their own, then every key.
        const QString differing = html.section("<h3>Keys that differ</h3>", 1).section("<h3>All keys</h3>", 0, 0);
        QVERIFY2(differing.contains("training.learning_rate"), qPrintable(differing.left(400)));
        QVERIFY(!differing.contains("adapter.r") && !differing.contains("training.seed"));
        QVERIFY(html.contains("#1 lora-fast") && html.contains("#2 lora-slow"));
        // Lineage, environment, metric table, samples (escaped).
        QVERIFY(html.contains("9f2c1e0d8b7a") && html.contains("/data/alpaca_mini.jsonl"));
        QVERIFY(html.contains("dedup of #1") && html.contains("{&quot;threshold&quot;:0.8}"));
        QVERIFY(html.contains(QString::fromStdString(torchVersion())));
        QVERIFY(html.contains("1024 of 65536"));
        QVERIFY(html.contains(
            "<td>eval_loss</td><td>#1 lora-fast</td><td>2</td><td>1.5 (step 4)</td><td>1.25 (min, step 2)</td>"));
        QVERIFY(html.contains("a time &lt;b&gt;there&lt;/b&gt;"));
    }

    void pdfHasPages()
    {
        const QString out = m_dir.path() + "/run.pdf";
        writeReport(data({ m_runA }), out, false);
        QVERIFY(readAll(out).startsWith("%PDF-"));
        QString info;
        const int pages = pdfPages(out, &info);
        // Runs and configuration, lineage and environment, metrics, plots (three), samples: each from a new page.
        QVERIFY2(pages >= 5, qPrintable(info));
        QVERIFY2(info.contains("Tunebench report: Run #1 lora-fast"), qPrintable(info));
        // poppler draws the pages.
        QProcess p;
        p.start("pdftoppm", { "-r", "20", "-png", "-f", "1", "-l", "1", out, m_dir.path() + "/page" });
        QVERIFY(p.waitForFinished(60000));
        QCOMPARE(p.exitCode(), 0);
        QVERIFY(!QDir(m_dir.path()).entryList({ "page*.png" }).isEmpty());
    }

    void markdownReferencesImagesBesideIt()
    {
        const QString out = m_dir.path() + "/md/report.md";
        const WrittenReport w = writeReport(data({ m_runA, m_runB }), out, false);
        QCOMPARE(w.files.size(), 4); // the report and three plots
        const QString md = QString::fromUtf8(readAll(out));
        const QRegularExpression image(QStringLiteral("!\\[([^\\]]*)\\]\\(([^)]+)\\)"));
        QStringList names;
        for (auto it = image.globalMatch(md); it.hasNext();) {
            const auto m = it.next();
            names << m.captured(1);
            const QString file
                = QFileInfo(out).absoluteDir().filePath(QUrl::fromPercentEncoding(m.captured(2).toUtf8()));
            QVERIFY2(m.captured(2).startsWith("report_files/"), qPrintable(m.captured(2)));
            QVERIFY2(!QImage(file, "PNG").isNull(), qPrintable(file));
        }
        QCOMPARE(names, (QStringList { "loss", "eval_loss", "lr" })); // the leading metrics first
        QVERIFY(md.contains("| \u2260 **training.learning_rate** | **0.0002** | **0.0001** |"));
        QVERIFY(md.contains("| adapter.r | 8 | 8 |"));
        QVERIFY(md.contains("```text\na hill | far away\n```"));
    }

    // Names, fields, samples and errors holding markup, a Markdown link and terminal escapes are shown as
    // typed: the HTML holds them escaped and no live tag, the Markdown backslash-escapes them (Qt's own
    // Markdown reader shows them literally), control characters and the RTL override are visible escapes.
    void hostileTextIsShownLiterally()
    {
        const std::string hostile = "<b>x</b><img src=x onerror=alert(1)>[link](javascript:alert(1))*em* _u_ "
                                    "`code` ~~s~~ &amp; | \x1b[31mred\x1b]0;title\x07\rCR\u202Eevil";
        const QString literal = "<b>x</b><img src=x onerror=alert(1)>[link](javascript:alert(1))*em* _u_ `code` "
                                "~~s~~ &amp; | \\x1b[31mred\\x1b]0;title\\x07\\x0dCR\\u202eevil";
        const QString wsPath = m_dir.path() + "/hostile-ws";
        std::int64_t runId = 0;
        {
            Workspace ws = Workspace::create(wsPath.toStdString());
            DatasetRecord d;
            d.name = hostile;
            d.format = "instruction";
            d.sourcePath = "/data/" + hostile;
            d.records = 1;
            const std::int64_t dataset = DatasetStore(ws.db()).add(d);
            RunStore runs(ws.db());
            NewRun run;
            run.name = hostile;
            run.adapter = "lora";
            run.objective = "sft";
            run.modelPath = "/models/" + hostile;
            run.datasetId = dataset;
            run.configJson = nlohmann::json({ { "note", hostile }, { hostile, 1 } }).dump();
            runId = runs.create(run);
            runs.setStatus(runId, RunStatus::Running, {}, 1);
            runs.setStatus(runId, RunStatus::Failed, "failed on " + hostile);
            BatchWriter w(ws.db());
            w.addMetric(runId, 1, "loss", 1.0);
            w.addSample(runId, 1, 0, 0, hostile, hostile, 7);
            w.flush();
        }
        Workspace ws = Workspace::open(wsPath.toStdString());
        const ReportData d = collectReportData(ws, { runId });

        const QString htmlFile = m_dir.path() + "/hostile.html";
        writeReport(d, htmlFile, true);
        const QString html = QString::fromUtf8(readAll(htmlFile));
        QVERIFY(!html.contains("<img src=x"));
        QVERIFY(!html.contains("<b>x</b>"));
        QVERIFY(!html.contains(QChar(0x1b)));
        QVERIFY(!html.contains(QChar(0x202E)));
        QVERIFY(!html.contains(QChar('\r')));
        QVERIFY(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        QTextDocument htmlDoc;
        htmlDoc.setHtml(html);
        const QString htmlText = htmlDoc.toPlainText();
        // The run's name, dataset, model path, error, configuration key and value, two sample texts.
        QVERIFY2(htmlText.count(literal) >= 8, qPrintable(QString::number(htmlText.count(literal))));

        const QString mdFile = m_dir.path() + "/hostile.md";
        writeReport(d, mdFile, true);
        const QString md = QString::fromUtf8(readAll(mdFile));
        QVERIFY(!md.contains(QChar(0x1b)));
        QVERIFY(!md.contains(QChar(0x202E)));
        QVERIFY(!md.contains(QChar('\r')));
        // Outside the fenced sample blocks, every < and [ of the text is escaped.
        const QString outsideFences = md.section("## Samples", 0, 0);
        QVERIFY(!outsideFences.contains(QRegularExpression("[^\\\\]<img")));
        QVERIFY(!outsideFences.contains(QRegularExpression("[^\\\\]\\[link")));
        QVERIFY(outsideFences.contains("\\<img src=x onerror=alert(1)\\>\\[link\\](javascript:alert(1))"));
        QTextDocument mdDoc;
        mdDoc.setMarkdown(md);
        const QString mdText = mdDoc.toPlainText();
        QVERIFY2(mdText.count(literal) >= 8, qPrintable(mdText));
        QVERIFY(!mdDoc.toHtml().contains("<img src=\"x\""));
        QVERIFY(!mdDoc.toHtml().contains("href=\"javascript"));
    }

    void seedGroupsWithIntervalsAndTests()
    {
        // Two configurations over seeds 1, 2, 3: final losses by hand.
        const QString wsPath = m_dir.path() + "/seeds-ws";
        std::vector<std::int64_t> ids;
        {
            Workspace ws = Workspace::create(wsPath.toStdString());
            RunStore runs(ws.db());
            BatchWriter w(ws.db());
            const double finals[2][3] = { { 1.0, 1.2, 1.1 }, { 0.8, 0.9, 0.85 } };
            for (int config = 0; config < 2; ++config) {
                for (int seed = 1; seed <= 3; ++seed) {
                    NewRun run;
                    // Built as a QString: GCC 12 at -O3 warns falsely (stringop-overflow) on std::string sums here.
                    run.name = QStringLiteral("r%1-s%2").arg(config).arg(seed).toStdString();
                    run.adapter = "lora";
                    run.objective = "sft";
                    // The first configuration keeps its seed as a run file does (training.seed), the second
                    // flat, as `runs create` and the demo record runs: both pair by seed.
                    nlohmann::json c = { { "name", run.name }, { "adapter", { { "r", 8 * (config + 1) } } } };
                    if (config == 0)
                        c["training"] = { { "seed", seed } };
                    else
                        c["seed"] = seed;
                    run.configJson = c.dump();
                    const std::int64_t id = runs.create(run);
                    ids.push_back(id);
                    w.addMetric(id, 1, "loss", 2.0);
                    w.addMetric(id, 2, "loss", finals[config][seed - 1]);
                }
            }
            w.flush();
        }
        Workspace ws = Workspace::open(wsPath.toStdString());
        const ReportData d = collectReportData(ws, ids);
        QCOMPARE(d.groups.size(), std::size_t(2));
        QCOMPARE(d.groups[0].runIds, (std::vector<std::int64_t> { ids[0], ids[1], ids[2] }));
        QCOMPARE(d.groups[0].method, std::string("lora / sft"));
        QCOMPARE(d.groups[0].metrics.size(), std::size_t(1));
        const stats::Summary& s = d.groups[0].metrics[0].summary;
        QCOMPARE(s.n, std::size_t(3));
        QVERIFY(std::abs(s.mean - 1.1) < 1e-12);
        QVERIFY(std::abs(s.std - 0.1) < 1e-12);
        QVERIFY(std::abs(s.ci95High - (1.1 + 4.302652729749464 * 0.1 / std::sqrt(3.0))) < 1e-9);
        // The second configuration against the first, paired by seed: differences -0.2, -0.3, -0.25.
        QCOMPARE(d.groupTests.size(), std::size_t(1));
        const stats::GroupTest& t = d.groupTests[0].test;
        QCOMPARE(t.kind, stats::TestKind::Paired);
        QVERIFY(std::abs(t.difference + 0.25) < 1e-12);
        QVERIFY(std::abs(t.t - (-0.25 / (0.05 / std::sqrt(3.0)))) < 1e-9);

        const QString htmlFile = m_dir.path() + "/seeds.html";
        writeReport(d, htmlFile, true);
        const QString html = QString::fromUtf8(readAll(htmlFile));
        QVERIFY(html.contains("<h3>Across seeds</h3>"));
        QVERIFY2(html.contains(QStringLiteral("<td>1.1 \u00b1 0.1</td>")), qPrintable(html.section("Across seeds", 1)));
        QVERIFY(html.contains(QStringLiteral("paired t test (3 pairs by seed)")));
        QVERIFY(html.contains(QStringLiteral("d_z = ")));
        const QString mdFile = m_dir.path() + "/seeds.md";
        writeReport(d, mdFile, true);
        const QString md = QString::fromUtf8(readAll(mdFile));
        QVERIFY(md.contains("### Across seeds"));
        QVERIFY(
            md.contains(QStringLiteral("| 1\\.1 \u00b1 0\\.1 |")) || md.contains(QStringLiteral("| 1.1 \u00b1 0.1 |")));
        QVERIFY(md.contains("### Group tests"));
        // One run per group: no interval, and the test is flagged.
        const ReportData two = collectReportData(ws, { ids[0], ids[3] });
        QCOMPARE(two.groupTests.size(), std::size_t(1));
        QCOMPARE(two.groupTests[0].test.verdict, stats::Verdict::TooFewRuns);
        writeReport(two, htmlFile, true);
        QVERIFY(QString::fromUtf8(readAll(htmlFile)).contains("Too few runs to conclude"));
    }

    void refusesToOverwrite()
    {
        const QString out = m_dir.path() + "/keep.html";
        QVERIFY(writeTextFile(out, "mine"));
        try {
            writeReport(data({ m_runA }), out, false);
            QFAIL("overwrote a file");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains(out + ": exists; use --force"), e.what());
        }
        QCOMPARE(readAll(out), QByteArray("mine"));
        writeReport(data({ m_runA }), out, true);
        QVERIFY(readAll(out).startsWith("<!DOCTYPE html>"));

        // Markdown: its image folder counts too.
        const QString md = m_dir.path() + "/again.md";
        QVERIFY(QDir().mkpath(m_dir.path() + "/again_files"));
        QVERIFY_THROWS_EXCEPTION(InputError, writeReport(data({ m_runA }), md, false));
        QVERIFY(!QFileInfo::exists(md));
        QVERIFY_THROWS_EXCEPTION(InputError, writeReport(data({ m_runA }), m_dir.path() + "/report.docx", false));
    }

    void cliReportsTrainedRuns()
    {
        const report_test::TinyWorkspace t = report_test::makeTinyWorkspace(m_dir.path() + "/trained");
        QVERIFY2(t.error.isEmpty(), qPrintable(t.error));
        QString error;
        const qint64 a = report_test::trainTinyRun(t, "fast", "1.0e-2", &error);
        QVERIFY2(a > 0, qPrintable(error));
        const qint64 b = report_test::trainTinyRun(t, "slow", "5.0e-3", &error);
        QVERIFY2(b > 0, qPrintable(error));
        const QString ids = QString("%1,%2").arg(a).arg(b);

        const QString html = m_dir.path() + "/trained/report.html";
        CliResult r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", html });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        const QJsonObject printed = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(printed["format"].toString(), QString("html"));
        QVERIFY(printed["plots"].toInt() >= 4); // loss, eval_loss, lr, grad_norm, tokens_per_s ...
        const QString text = QString::fromUtf8(readAll(html));
        // The stored configuration is flat (TrainConfig::toJson).
        QVERIFY(configRow(text, "learning_rate").startsWith("<tr class=\"differs\">"));
        QVERIFY(configRow(text, "name").startsWith("<tr class=\"differs\">"));
        QVERIFY(configRow(text, "r").startsWith("<tr>"));
        QVERIFY(configRow(text, "seed").startsWith("<tr>"));
        QVERIFY(text.contains("random of #1")); // the run's dataset came from a selection
        QVERIFY(text.contains("<h2>Samples</h2>") && text.contains("say something"));
        QVERIFY(text.count("data:image/png;base64,") == printed["plots"].toInt());

        const QString pdf = m_dir.path() + "/trained/fast.pdf";
        r = runCli({ "report", "--workspace", t.workspace, "--runs", QString::number(a), "--out", pdf });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        // Kept beside the screenshots for a person to look at.
        const QString examples = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
        QVERIFY(QDir().mkpath(examples));
        for (const QString& file : { html, pdf }) {
            QFile::remove(examples + "report_example." + QFileInfo(file).suffix());
            QVERIFY(QFile::copy(file, examples + "report_example." + QFileInfo(file).suffix()));
        }
        QString info;
        QVERIFY2(pdfPages(pdf, &info) >= 4, qPrintable(info));

        const QString md = m_dir.path() + "/trained/both.md";
        r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", md });
        QVERIFY2(r.code == 0, qPrintable(r.err + r.out));
        const QJsonArray files = QJsonDocument::fromJson(r.out.toUtf8()).object()["files"].toArray();
        QCOMPARE(files.size(), printed["plots"].toInt() + 1);
        for (const auto& f : files)
            QVERIFY2(QFileInfo(f.toString()).size() > 0, qPrintable(f.toString()));

        // Recorded in the store: the comparisons for no run, the single-run report for its run.
        {
            Workspace ws = Workspace::open(t.workspace.toStdString());
            const auto artifacts = ArtifactStore(ws.db()).list();
            QCOMPARE(artifacts.size(), 3u);
            QCOMPARE(artifacts[0].kind, std::string("report"));
            QVERIFY(!artifacts[0].runId);
            QCOMPARE(*artifacts[1].runId, a);
            QCOMPARE(artifacts[1].path, std::string(QFileInfo(pdf).absoluteFilePath().toStdString()));
            QVERIFY(!artifacts[2].runId);
        }

        // Not again without --force; the renderer's messages and exit codes come through.
        r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", html });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(html + ": exists; use --force"), qPrintable(r.err));
        r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", html, "--force" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        r = runCli({ "report", "--workspace", t.workspace, "--runs", "99", "--out", m_dir.path() + "/x.md" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no run with id 99"), qPrintable(r.err));
        r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", m_dir.path() + "/x.docx" });
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("--out: expected a file ending in .html, .pdf or .md"), qPrintable(r.err));

        // Without the renderer module it says what is missing, and where it looked.
        QProcessEnvironment env;
        env.insert("TUNEBENCH_REPORT_RENDERER", m_dir.path() + "/no-such-renderer.so");
        r = runCli({ "report", "--workspace", t.workspace, "--runs", ids, "--out", m_dir.path() + "/y.html" }, env);
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("reports are rendered by the desktop build's report renderer (tunebench_report.so)")
                && r.err.contains("no-such-renderer.so"),
            qPrintable(r.err));
    }
};

QTEST_MAIN(TestReport)
#include "test_report.moc"
