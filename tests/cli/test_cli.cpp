// tunebench-cli driven as a person or a script would: exit codes, stdout, stderr.

#include "core/device_memory.h"
#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/schema.h"
#include "core/store/workspace.h"
#include "support/cli_runner.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

static CliResult cli(const QStringList& args)
{
    return runCli(args);
}

static void writeFile(const QString& path, const QByteArray& text)
{
    QVERIFY(writeTextFile(path, text));
}

class TestCli : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void version()
    {
        const auto r = cli({ "--version" });
        QCOMPARE(r.code, 0);
        // The LibTorch line says whether it has CUDA, and with CUDA whether a GPU is visible.
        const QString torchLine = tunebench::builtWithCuda()
            ? QString(R"(LibTorch \d+\.\d+\.\d+\S* with CUDA \d+\.\d+, (a GPU is|no GPU) visible)")
            : QString(R"(LibTorch \d+\.\d+\.\d+\S*, CPU only)");
        QVERIFY2(QRegularExpression(R"(^Tunebench \d+\.\d+\.\d+\n)" + torchLine + R"(\nSQLite 3\.\d+\.\d+\n$)")
                     .match(r.out)
                     .hasMatch(),
            qPrintable(r.out));
    }

    void helpEverywhere_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::newRow("top") << QStringList { "--help" };
        QTest::newRow("workspace init") << QStringList { "workspace", "init", "--help" };
        QTest::newRow("workspace info") << QStringList { "workspace", "info", "--help" };
        QTest::newRow("runs list") << QStringList { "runs", "list", "--help" };
        QTest::newRow("runs show") << QStringList { "runs", "show", "--help" };
        QTest::newRow("runs create") << QStringList { "runs", "create", "--help" };
        QTest::newRow("runs delete") << QStringList { "runs", "delete", "--help" };
    }

    void helpEverywhere()
    {
        QFETCH(QStringList, args);
        const auto r = cli(args);
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.startsWith("Usage: tunebench-cli"), qPrintable(r.out));
        QVERIFY(r.err.isEmpty());
    }

    void usageErrors_data()
    {
        QTest::addColumn<QStringList>("args");
        QTest::addColumn<QString>("message");
        QTest::newRow("no command") << QStringList {} << "Usage:";
        QTest::newRow("unknown command") << QStringList { "frobnicate" } << "unknown command 'frobnicate'";
        QTest::newRow("missing dir") << QStringList { "workspace", "init" } << "missing argument DIR";
        QTest::newRow("missing workspace") << QStringList { "runs", "list" } << "missing option --workspace";
        QTest::newRow("unknown option") << QStringList { "runs", "list", "--workspace", "/x", "--colour" }
                                        << "unknown option '--colour'";
        QTest::newRow("bad id") << QStringList { "runs", "show", "abc", "--workspace", "/x" }
                                << "run ID must be a whole number, got 'abc'";
        QTest::newRow("bad status") << QStringList { "runs", "list", "--workspace", "/x", "--status", "done" }
                                    << "unknown run status 'done'";
    }

    void usageErrors()
    {
        QFETCH(QStringList, args);
        QFETCH(QString, message);
        const auto r = cli(args);
        QCOMPARE(r.code, 2);
        QVERIFY2((r.err + r.out).contains(message), qPrintable(r.err + r.out));
    }

    void workspaceInitListShow()
    {
        QTemporaryDir tmp;
        const QString ws = tmp.path() + "/nested/ws";
        auto r = cli({ "workspace", "init", ws });
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.startsWith("Created workspace"), qPrintable(r.out));
        QVERIFY(QFileInfo::exists(ws + "/tunebench.db"));
        QVERIFY(QFileInfo(ws + "/runs").isDir());

        r = cli({ "workspace", "init", ws }); // again: says so, keeps everything
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.contains("already exists"), qPrintable(r.out));

        r = cli({ "runs", "list", "--workspace", ws });
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out, QString()); // nothing for an empty workspace
        QCOMPARE(r.err, QString());

        writeFile(tmp.path() + "/run.yaml",
            "name: lora-r8\nadapter: lora\nobjective: sft\nmodel: /models/tiny\n"
            "learning_rate: 2e-4\ntarget_modules: [q_proj, v_proj]\n");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/run.yaml" });
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out.trimmed(), QStringLiteral("1"));
        writeFile(tmp.path() + "/second.json", R"({"adapter": "full", "learning_rate": 1e-5})");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/second.json" });
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out.trimmed(), QStringLiteral("2"));

        r = cli({ "runs", "list", "--workspace", ws });
        QCOMPARE(r.code, 0);
        const QStringList lines = r.out.split('\n', Qt::SkipEmptyParts);
        QCOMPARE(lines.size(), 2);
        QVERIFY2(lines[0].startsWith("1\tqueued\tlora-r8\tlora\tsft\t"), qPrintable(lines[0]));
        QVERIFY2(lines[1].startsWith("2\tqueued\tsecond\tfull\t-\t"), qPrintable(lines[1]));

        // Metrics written by a worker show up in 'runs show'.
        {
            auto w = tunebench::Workspace::open(ws.toStdString());
            tunebench::BatchWriter writer(w.db());
            for (int step = 1; step <= 5; ++step)
                writer.addMetric(1, step, "loss", 3.0 - 0.5 * step);
            tunebench::RunStore(w.db()).setStatus(1, tunebench::RunStatus::Finished);
        }
        r = cli({ "runs", "show", "1", "--workspace", ws });
        QCOMPARE(r.code, 0);
        const QJsonObject run = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(run["id"].toInt(), 1);
        QCOMPARE(run["status"].toString(), QStringLiteral("finished"));
        QCOMPARE(run["config"].toObject()["learning_rate"].toDouble(), 2e-4);
        QCOMPARE(run["config"].toObject()["target_modules"].toArray().size(), 2);
        QCOMPARE(run["metrics"].toObject()["loss"].toObject()["count"].toInt(), 5);
        QCOMPARE(run["metrics"].toObject()["loss"].toObject()["last"].toDouble(), 0.5);
        QCOMPARE(run["metrics"].toObject()["loss"].toObject()["min"].toDouble(), 0.5);

        r = cli({ "runs", "list", "--workspace", ws, "--status", "finished", "--json" });
        QCOMPARE(r.code, 0);
        QCOMPARE(r.out.count('\n'), 1);
        QCOMPARE(QJsonDocument::fromJson(r.out.toUtf8()).object()["name"].toString(), QStringLiteral("lora-r8"));

        r = cli({ "workspace", "info", ws });
        QCOMPARE(r.code, 0);
        const QJsonObject info = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(info["runs"].toInt(), 2);
        QCOMPARE(info["metrics"].toInt(), 5);
        QCOMPARE(info["schema_version"].toInt(), tunebench::currentSchemaVersion());

        QDir().mkpath(ws + "/runs/2/checkpoints");
        r = cli({ "runs", "delete", "2", "--workspace", ws });
        QCOMPARE(r.code, 0);
        QVERIFY(!QFileInfo::exists(ws + "/runs/2"));
        r = cli({ "runs", "list", "--workspace", ws });
        QCOMPARE(r.out.count('\n'), 1);
    }

    void runtimeErrorsNameWhatIsWrong()
    {
        QTemporaryDir tmp;
        const QString ws = tmp.path() + "/ws";
        QCOMPARE(cli({ "workspace", "init", ws }).code, 0);

        auto r = cli({ "runs", "list", "--workspace", tmp.path() + "/nope" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("does not exist") && r.err.contains("nope"), qPrintable(r.err));
        QVERIFY(r.out.isEmpty());

        r = cli({ "runs", "show", "7", "--workspace", ws });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no run with id 7"), qPrintable(r.err));

        writeFile(tmp.path() + "/bad.yaml", "name: x\nlearning_rate: [1, 2\n");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/bad.yaml" });
        QCOMPARE(r.code, 1);
        QVERIFY2(QRegularExpression("bad\\.yaml:\\d+:\\d+: ").match(r.err).hasMatch(), qPrintable(r.err));

        writeFile(tmp.path() + "/list.yaml", "- a\n- b\n");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/list.yaml" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("must be a mapping"), qPrintable(r.err));

        writeFile(tmp.path() + "/typed.yaml", "adapter: 3\n");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/typed.yaml" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("field 'adapter' must be a string"), qPrintable(r.err));

        writeFile(tmp.path() + "/ds.yaml", "dataset_id: 12\n");
        r = cli({ "runs", "create", "--workspace", ws, "--config", tmp.path() + "/ds.yaml" });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("no dataset with id 12"), qPrintable(r.err));
        QCOMPARE(cli({ "runs", "list", "--workspace", ws }).out, QString()); // nothing half-created

        // A database from a newer Tunebench is refused, not damaged.
        {
            auto w = tunebench::Workspace::open(ws.toStdString());
            w.db().exec("PRAGMA user_version = 42");
        }
        r = cli({ "runs", "list", "--workspace", ws });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("schema version 42"), qPrintable(r.err));
    }

    void workspaceFromEnvironment()
    {
        QTemporaryDir tmp;
        QCOMPARE(cli({ "workspace", "init", tmp.path() }).code, 0);
        QProcessEnvironment env;
        env.insert("TUNEBENCH_WORKSPACE", tmp.path());
        QCOMPARE(runCli({ "runs", "list" }, env).code, 0);
        QCOMPARE(runCli({ "runs", "list" }).code, 2); // without it, --workspace is missing
    }
};

QTEST_GUILESS_MAIN(TestCli)
#include "test_cli.moc"
