// Metrics as CSV and JSON: the rows the store holds, RFC 4180 quoting, numbers
// that read back exactly, and `tunebench-cli metrics` with its errors.

#include "core/report/metrics_export.h"
#include "core/store/artifacts.h"
#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"
#include "support/cli_runner.h"

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <limits>

using namespace tunebench;

class TestMetricsExport : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;
    std::int64_t m_runA = 0;
    std::int64_t m_runB = 0;

private Q_SLOTS:
    void initTestCase()
    {
        m_ws = m_dir.path() + "/ws";
        Workspace ws = Workspace::create(m_ws.toStdString());
        RunStore runs(ws.db());
        NewRun run;
        run.name = "lora, \"quoted\"\nname"; // every character CSV must quote
        m_runA = runs.create(run);
        run.name = "plain";
        m_runB = runs.create(run);
        BatchWriter w(ws.db());
        w.addMetric(m_runA, 1, "loss", 2.5, 1000.0);
        w.addMetric(m_runA, 2, "loss", 0.1, 1001.5);
        w.addMetric(m_runA, 2, "eval_loss", 1.25, 1002.0); // (SQLite keeps no NaN)
        w.addMetric(m_runB, 1, "loss", 1.0 / 3.0, 50.0);
        w.addMetric(m_runB, 1, "lr", 2e-4, 50.0);
        w.flush();
    }

    void csvQuotesWhatNeedsQuoting()
    {
        QCOMPARE(csvField("plain"), std::string("plain"));
        QCOMPARE(csvField("a,b"), std::string("\"a,b\""));
        QCOMPARE(csvField("say \"hi\""), std::string("\"say \"\"hi\"\"\""));
        QCOMPARE(csvField("two\nlines"), std::string("\"two\nlines\""));
        QCOMPARE(csvField("cr\r"), std::string("\"cr\r\""));
    }

    void numbersReadBackExactly()
    {
        for (double v : { 0.1, 1.0 / 3.0, 2e-4, 1e300, -7.25, 123456789.0 })
            QCOMPARE(std::stod(shortestDouble(v)), v);
        QCOMPARE(shortestDouble(0.1), std::string("0.1"));
        QCOMPARE(shortestDouble(std::numeric_limits<double>::quiet_NaN()), std::string("nan"));
        QCOMPARE(shortestDouble(-std::numeric_limits<double>::infinity()), std::string("-inf"));
    }

    void rowsFollowTheStore()
    {
        Workspace ws = Workspace::open(m_ws.toStdString());
        const auto rows = collectMetricRows(ws.db(), { m_runB, m_runA });
        QCOMPARE(rows.size(), 5u);
        QCOMPARE(rows[0].runId, m_runB); // runs in the order asked
        QCOMPARE(rows[0].metric, std::string("loss"));
        QCOMPARE(rows[1].metric, std::string("lr"));
        QCOMPARE(rows[2].metric, std::string("eval_loss")); // then by name
        QCOMPARE(rows[3].step, std::int64_t { 1 });
        QCOMPARE(rows[4].elapsed, 1.5); // since the run's first value
        QCOMPARE(rows[4].time, 1001.5);
        const auto onlyLr = collectMetricRows(ws.db(), { m_runA, m_runB }, { "lr" });
        QCOMPARE(onlyLr.size(), 1u);
        QCOMPARE(onlyLr[0].value, 2e-4);
        try {
            collectMetricRows(ws.db(), { 99 });
            QFAIL("an unknown run was exported");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("no run with id 99"), e.what());
        }
    }

    void csvAndJsonHoldEveryColumn()
    {
        Workspace ws = Workspace::open(m_ws.toStdString());
        const auto rows = collectMetricRows(ws.db(), { m_runA });
        const QString csv = QString::fromStdString(metricsToCsv(rows));
        const QStringList lines = csv.split("\r\n");
        QCOMPARE(lines[0], QString("run,run_name,metric,step,value,time,elapsed_s"));
        QCOMPARE(lines[1], QString("%1,\"lora, \"\"quoted\"\"\nname\",eval_loss,2,1.25,1002,2").arg(m_runA));
        QCOMPARE(lines[2], QString("%1,\"lora, \"\"quoted\"\"\nname\",loss,1,2.5,1000,0").arg(m_runA));
        QCOMPARE(lines[3], QString("%1,\"lora, \"\"quoted\"\"\nname\",loss,2,0.1,1001.5,1.5").arg(m_runA));
        QCOMPARE(lines.size(), 5); // and the final CRLF

        const QJsonArray json = QJsonDocument::fromJson(QByteArray::fromStdString(metricsToJson(rows))).array();
        QCOMPARE(json.size(), 3);
        QCOMPARE(json[0].toObject()["value"].toDouble(), 1.25);
        const QJsonObject loss = json[2].toObject();
        QCOMPARE(loss["run"].toInteger(), m_runA);
        QCOMPARE(loss["run_name"].toString(), QString("lora, \"quoted\"\nname"));
        QCOMPARE(loss["metric"].toString(), QString("loss"));
        QCOMPARE(loss["step"].toInteger(), 2);
        QCOMPARE(loss["value"].toDouble(), 0.1);
        QCOMPARE(loss["time"].toDouble(), 1001.5);
        QCOMPARE(loss["elapsed_s"].toDouble(), 1.5);
    }

    void nonFiniteValuesAreNullInJson()
    {
        const MetricRow nan { 1, "r", "loss", 3, std::numeric_limits<double>::quiet_NaN(), 10, 0 };
        const QJsonArray json = QJsonDocument::fromJson(QByteArray::fromStdString(metricsToJson({ nan }))).array();
        QVERIFY(json[0].toObject()["value"].isNull());
        QCOMPARE(json[0].toObject()["step"].toInteger(), 3);
        QVERIFY(QString::fromStdString(metricsToCsv({ nan })).endsWith("\r\n1,r,loss,3,nan,10,0\r\n"));
    }

    void cliWritesCsvAndJson()
    {
        const QString ids = QString("%1,%2").arg(m_runA).arg(m_runB);
        CliResult r = runCli({ "metrics", "--workspace", m_ws, "--run", ids, "--format", "csv" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.startsWith("run,run_name,metric,step,value,time,elapsed_s\r\n"));
        QCOMPARE(r.out.count("\r\n"), 6);

        const QString out = m_dir.path() + "/metrics.json";
        r = runCli(
            { "metrics", "--workspace", m_ws, "--run", ids, "--format", "json", "--metric", "loss", "--out", out });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject printed = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(printed["rows"].toInt(), 3);
        QFile f(out);
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(QJsonDocument::fromJson(f.readAll()).array().size(), 3);
        f.close();

        // Recorded as an artifact of the workspace (two runs: of none of them).
        {
            Workspace ws = Workspace::open(m_ws.toStdString());
            const auto artifacts = ArtifactStore(ws.db()).list();
            QCOMPARE(artifacts.size(), 1u);
            QCOMPARE(artifacts[0].kind, std::string("metrics"));
            QVERIFY(!artifacts[0].runId);
        }

        // An existing file is kept unless --force.
        QVERIFY(writeTextFile(out, "keep me"));
        r = runCli({ "metrics", "--workspace", m_ws, "--run", ids, "--format", "csv", "--out", out });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains(out + ": exists; use --force"), qPrintable(r.err));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QCOMPARE(f.readAll(), QByteArray("keep me"));
        f.close();
        r = runCli({ "metrics", "--workspace", m_ws, "--run", ids, "--format", "csv", "--out", out, "--force" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(f.open(QIODevice::ReadOnly));
        QVERIFY(f.readAll().startsWith("run,run_name"));
    }

    void cliNamesWhatIsWrong_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<int>("code");
        QTest::addColumn<QString>("message");
        QTest::newRow("format") << QStringList { "--run", "1", "--format", "xlsx" } << 2
                                << "--format: expected csv or json, got 'xlsx'";
        QTest::newRow("run list") << QStringList { "--run", "1,x", "--format", "csv" } << 2
                                  << "--run: expected run ids separated by commas";
        QTest::newRow("unknown run") << QStringList { "--run", "77", "--format", "csv" } << 1 << "no run with id 77";
    }

    void cliNamesWhatIsWrong()
    {
        QFETCH(QStringList, args);
        QFETCH(int, code);
        QFETCH(QString, message);
        const CliResult r = runCli(QStringList { "metrics", "--workspace", m_ws } + args);
        QCOMPARE(r.code, code);
        QVERIFY2(r.err.contains(message), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestMetricsExport)
#include "test_metrics_export.moc"
