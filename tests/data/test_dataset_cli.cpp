// `tunebench-cli dataset import|list` as a user or script runs them.

#include "support/cli_runner.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

class TestDatasetCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;

private Q_SLOTS:
    void initTestCase()
    {
        m_ws = m_dir.path() + "/ws";
        QCOMPARE(runCli({ "workspace", "init", m_ws }).code, 0);
    }

    void importGoodFile()
    {
        const QString file = m_dir.path() + "/pairs.jsonl";
        QVERIFY(writeTextFile(file,
            "{\"prompt\": \"2+2?\", \"chosen\": \"4\", \"rejected\": \"5\"}\n"
            "{\"prompt\": \"Capital of France?\", \"chosen\": \"Paris\", \"rejected\": \"Rome\"}\n"));
        const CliResult r = runCli({ "dataset", "import", file, "--workspace", m_ws });
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["id"].toInt(), 1);
        QCOMPARE(o["format"].toString(), QStringLiteral("preference"));
        QCOMPARE(o["records"].toInt(), 2);
        QCOMPARE(o["errors"].toArray().size(), 0);
        QVERIFY(o["content_hash"].toString().startsWith("sha256:"));

        const CliResult list = runCli({ "dataset", "list", "--workspace", m_ws });
        QCOMPARE(list.code, 0);
        QVERIFY2(list.out.startsWith("1\tpreference\t2\tpairs\t-\timport\n"), qPrintable(list.out));
    }

    void badRecordsAreRefusedWithLines()
    {
        const QString file = m_dir.path() + "/alpaca.csv";
        QVERIFY(writeTextFile(file, "instruction,input,output\nAdd,2+2,4\n,x,y\nSay hi,,hi\nBye,,\n"));
        CliResult r = runCli({ "dataset", "import", file, "--workspace", m_ws });
        QCOMPARE(r.code, 1);
        QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QVERIFY(o["id"].isNull());
        QCOMPARE(o["records"].toInt(), 2);
        const QJsonArray errors = o["errors"].toArray();
        QCOMPARE(errors.size(), 2);
        QCOMPARE(errors[0].toObject()["line"].toInt(), 3);
        QCOMPARE(errors[0].toObject()["field"].toString(), QStringLiteral("instruction"));
        QCOMPARE(errors[1].toObject()["line"].toInt(), 5);
        QCOMPARE(errors[1].toObject()["field"].toString(), QStringLiteral("output"));
        QVERIFY2(r.err.contains("alpaca.csv") && r.err.contains("line 3") && r.err.contains("--skip-invalid"),
            qPrintable(r.err));
        QCOMPARE(runCli({ "dataset", "list", "--workspace", m_ws }).out.count('\n'), 1); // nothing imported

        r = runCli({ "dataset", "import", file, "--workspace", m_ws, "--skip-invalid", "--name", "alpaca-clean" });
        QCOMPARE(r.code, 0);
        o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["records"].toInt(), 2);
        QCOMPARE(o["skipped"].toInt(), 2);
        QCOMPARE(o["errors"].toArray().size(), 2);
        QVERIFY(runCli({ "dataset", "list", "--workspace", m_ws }).out.contains("\tinstruction\t2\talpaca-clean\t"));
    }

    void formatAndMapping()
    {
        const QString file = m_dir.path() + "/kto.jsonl";
        QVERIFY(writeTextFile(file, "{\"q\": \"Q\", \"a\": \"A\", \"ok\": 1}\n"));
        CliResult r = runCli({ "dataset", "import", file, "--workspace", m_ws });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("cannot tell the dataset format") && r.err.contains("(a, ok, q)"), qPrintable(r.err));
        r = runCli({ "dataset", "import", file, "--workspace", m_ws, "--format", "kto", "--map",
            "prompt=q,completion=a,label=ok" });
        QCOMPARE(r.code, 0);
        QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["format"].toString(),
            QStringLiteral("unpaired_preference"));
        r = runCli({ "dataset", "import", file, "--workspace", m_ws, "--map", "prompt" });
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("FIELD=COLUMN"));
        r = runCli({ "dataset", "import", file, "--workspace", m_ws, "--format", "parquet" });
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown dataset format 'parquet'"));
        r = runCli({ "dataset", "import", m_dir.path() + "/missing.jsonl", "--workspace", m_ws });
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("missing.jsonl: no such file"));
    }
};

QTEST_GUILESS_MAIN(TestDatasetCli)
#include "test_dataset_cli.moc"
