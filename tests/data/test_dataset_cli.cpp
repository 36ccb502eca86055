// `tunebench-cli dataset import|list` as a user or script runs them.

#include "support/cli_runner.h"

#include "../model/model_test_support.h"

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

    // stats, select with every method, split and list, as a user chains them.
    void deriveStatsAndSplit()
    {
        const QString ws = m_dir.path() + "/ws-derive";
        QCOMPARE(runCli({ "workspace", "init", ws }).code, 0);
        const std::filesystem::path model = m_dir.path().toStdString() + "/model";
        model_test::writeTinyTokenizer(model);
        tunebench::RandomModelSpec spec;
        spec.architecture = tunebench::Architecture::Llama;
        spec.vocabSize = model_test::kTinyTokenizerVocab;
        spec.hiddenSize = 16;
        spec.numLayers = 1;
        spec.numHeads = 2;
        spec.numKvHeads = 1;
        spec.intermediateSize = 32;
        tunebench::saveModelFolder(*tunebench::createRandomCausalLM(tunebench::randomModelConfig(spec), 1), model);
        const QString modelDir = QString::fromStdString(model.string());

        QByteArray lines;
        for (int i = 0; i < 30; ++i) {
            lines += QByteArray("{\"instruction\": \"Tell me about item ") + QByteArray::number(i % 24)
                + "\", \"output\": \"Item " + QByteArray::number(i % 24) + " is a fine thing to talk about.\"}\n";
        }
        const QString file = m_dir.path() + "/items.jsonl";
        QVERIFY(writeTextFile(file, lines));
        QCOMPARE(runCli({ "dataset", "import", file, "--workspace", ws }).code, 0);

        CliResult r = runCli({ "dataset", "stats", "1", "--workspace", ws, "--tokenizer", modelDir, "--cutoff-len",
            "20", "--bins", "5" });
        QCOMPARE(r.code, 0);
        QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["records"].toInt(), 30);
        QCOMPARE(o["duplicates"].toInt(), 6);
        QCOMPARE(o["prompt_tokens"].toObject()["histogram"].toObject()["counts"].toArray().size(), 5);
        QVERIFY(o["truncated_share"].toDouble() > 0.0);

        auto select = [&](const QStringList& extra) {
            CliResult s = runCli(QStringList { "dataset", "select", "1", "--workspace", ws } + extra);
            if (s.code != 0)
                qWarning("%s", qPrintable(s.err));
            return std::make_pair(s.code, QJsonDocument::fromJson(s.out.toUtf8()).object());
        };
        auto [code, d] = select({ "--method", "random", "--count", "10", "--seed", "3" });
        QCOMPARE(code, 0);
        QCOMPARE(d["records"].toInt(), 10);
        QCOMPARE(d["parent"].toInt(), 1);
        QCOMPARE(d["operation"].toString(), QStringLiteral("random"));
        QCOMPARE(d["params"].toObject()["seed"].toInt(), 3);
        std::tie(code, d) = select({ "--method", "dedup" });
        QCOMPARE(d["records"].toInt(), 24);
        std::tie(code, d) = select({ "--method", "minhash", "--threshold", "0.9" });
        QCOMPARE(code, 0);
        QCOMPARE(d["records"].toInt(), 24);
        QCOMPARE(d["params"].toObject()["bands"].toInt(), 32);
        std::tie(code, d) = select({ "--method", "length", "--min", "0", "--max", "15" });
        QCOMPARE(code, 0);
        QCOMPARE(d["params"].toObject()["unit"].toString(), QStringLiteral("words"));
        QCOMPARE(d["records"].toInt(), 30); // 5 + 9 words each
        std::tie(code, d)
            = select({ "--method", "kmeans", "--model", modelDir, "--clusters", "3", "--fraction", "0.5" });
        QCOMPARE(code, 0);
        QCOMPARE(d["records"].toInt(), 15);
        QCOMPARE(d["params"].toObject()["cluster_sizes"].toArray().size(), 3);
        std::tie(code, d) = select({ "--method", "learnability", "--model", modelDir, "--count", "5", "--steps", "2" });
        QCOMPARE(code, 0);
        QCOMPARE(d["records"].toInt(), 5);
        QVERIFY(d["params"].toObject().contains("mean_loss_after"));

        r = runCli({ "dataset", "select", "1", "--workspace", ws, "--method", "magic" });
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown method 'magic'"));
        r = runCli({ "dataset", "select", "1", "--workspace", ws, "--method", "random" });
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("count or a fraction"));
        r = runCli({ "dataset", "select", "99", "--workspace", ws, "--method", "dedup" });
        QCOMPARE(r.code, 1);
        QVERIFY(r.err.contains("no dataset with id 99"));

        r = runCli({ "dataset", "split", "1", "--workspace", ws, "--ratio", "0.1", "--seed", "4" });
        QCOMPARE(r.code, 0);
        o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QCOMPARE(o["train"].toObject()["records"].toInt(), 27);
        QCOMPARE(o["eval"].toObject()["records"].toInt(), 3);
        QCOMPARE(o["eval"].toObject()["params"].toObject()["part"].toString(), QStringLiteral("eval"));
        r = runCli({ "dataset", "split", "1", "--workspace", ws, "--ratio", "1.5" });
        QCOMPARE(r.code, 1);

        const CliResult list = runCli({ "dataset", "list", "--workspace", ws });
        QCOMPARE(list.out.count('\n'), 9); // the import, six selections, two split parts
        QVERIFY2(list.out.contains("\titems-learnability\t1\tlearnability\n"), qPrintable(list.out));
        QVERIFY(list.out.contains("\titems-eval\t1\tsplit\n"));
    }
};

QTEST_GUILESS_MAIN(TestDatasetCli)
#include "test_dataset_cli.moc"
