// `tunebench-cli estimate CONFIG`, the dry run, as a user runs it: the JSON it prints is core's estimate of the
// same configuration, and wrong input fails naming the file, field or folder.

#include "core/method/plugin_registry.h"
#include "core/train/run_estimate.h"
#include "core/train/train_config.h"
#include "core/util/yaml_json.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestEstimateCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_model;

    // A run configuration as a user writes it, with the model and a dataset file filled in.
    QString writeConfig(const QString& name, QString yaml) const
    {
        const QString file = m_dir.filePath(name);
        yaml.replace("MODEL", m_model).replace("DATA", m_dir.filePath("data.jsonl"));
        if (!writeTextFile(file, yaml.toUtf8()))
            qWarning("cannot write %s", qPrintable(file));
        return file;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = m_dir.filePath("model");
        model_test::writeTinyModelFolder(m_model.toStdString(), 3);
        QVERIFY(writeTextFile(m_dir.filePath("data.jsonl"),
            R"({"text": "the cat sat"})"
            "\n"));
    }

    void help()
    {
        const auto r = runCli({ "estimate", "--help" });
        QCOMPARE(r.code, 0);
        QVERIFY2(r.out.startsWith("Usage: tunebench-cli estimate CONFIG"), qPrintable(r.out));
        QVERIFY(r.out.contains("--load-limit GIB"));
        QVERIFY(runCli({ "--help" }).out.contains("  estimate "));
    }

    void printsCoresEstimate()
    {
        const QString file = writeConfig("lora.yaml",
            "model: MODEL\ndataset: DATA\nadapter:\n  type: lora\n  r: 6\n  target_modules: [q_proj, v_proj, o_proj]\n"
            "training:\n  per_device_train_batch_size: 4\n  cutoff_len: 64\n  seed: 11\n");
        const auto r = runCli({ "estimate", file });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json out = json::parse(r.out.toStdString());
        // LoRA r 6 on q, v, o of the tiny model: (6x32 + 32x6) + (6x32 + 16x6) + (6x32 + 32x6) per layer, 2 layers.
        QCOMPARE(out["parameters"]["trainable"].get<std::int64_t>(), std::int64_t(2112));
        QCOMPARE(out["model"]["architecture"].get<std::string>(), std::string("LlamaForCausalLM"));
        QCOMPARE(out["model"]["dtype"].get<std::string>(), std::string("float32"));
        QCOMPARE(out["model"]["vocab_size"].get<std::int64_t>(), std::int64_t(264));
        QCOMPARE(out["model"]["layers"].get<std::int64_t>(), std::int64_t(2));
        QCOMPARE(out["model"]["chat_template"].get<bool>(), false);
        QCOMPARE(out["config"].get<std::string>(), file.toStdString());
        const json& memory = out["memory"];
        QCOMPARE(memory["gradients"].get<std::int64_t>(), std::int64_t(2112 * 4));
        QCOMPARE(memory["optimizer"].get<std::int64_t>(), std::int64_t(2112 * 8));
        QCOMPARE(memory["reference"].get<std::int64_t>(), std::int64_t(0));
        QCOMPARE(memory["weights"].get<std::int64_t>(), out["parameters"]["total"].get<std::int64_t>() * 4);
        QCOMPARE(memory["total"].get<std::int64_t>(),
            memory["weights"].get<std::int64_t>() + memory["gradients"].get<std::int64_t>()
                + memory["optimizer"].get<std::int64_t>() + memory["activations"].get<std::int64_t>());
        QCOMPARE(out["memory_settings"]["per_device_train_batch_size"].get<std::int64_t>(), std::int64_t(4));
        QCOMPARE(out["memory_settings"]["cutoff_len"].get<std::int64_t>(), std::int64_t(64));

        // The same configuration through core in this process gives the same object.
        const PluginRegistry& plugins = defaultPluginRegistry();
        const TrainConfig config = TrainConfig::fromJson(readYamlOrJsonFile(file.toStdString()), plugins, "c");
        json expected = toJson(estimateRun(config, plugins));
        expected["config"] = file.toStdString();
        QVERIFY2(out == expected, (out.dump(1) + "\n!=\n" + expected.dump(1)).c_str());
    }

    void fullFromTheHeadersBeyondTheLoadLimit()
    {
        const QString file = writeConfig("full.yaml", "model: MODEL\ndataset: DATA\nadapter: full\n");
        const auto r = runCli({ "estimate", file, "--load-limit", "0" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const json out = json::parse(r.out.toStdString());
        QCOMPARE(out["model"]["loaded"].get<bool>(), false);
        QCOMPARE(out["parameters"]["trainable"], out["parameters"]["total"]);
        QCOMPARE(out["parameters"]["total"], out["model"]["parameters"]);
    }

    void errorsNameWhatIsWrong_data()
    {
        QTest::addColumn<QString>("yaml"); // empty: the file is not there
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("code");
        QTest::addColumn<QStringList>("messages"); // FILE stands for the configuration's path
        QTest::newRow("no file") << QString() << QStringList() << 1 << QStringList { "FILE" };
        QTest::newRow("training field") << "model: MODEL\ndataset: DATA\ntraining:\n  learning_rate: 20\n"
                                        << QStringList() << 1 << QStringList { "FILE", "learning_rate" };
        QTest::newRow("adapter field") << "model: MODEL\ndataset: DATA\nadapter:\n  type: lora\n  r: 0\n"
                                       << QStringList() << 1 << QStringList { "FILE", "field 'r'" };
        QTest::newRow("model folder") << "model: /no/such/model\ndataset: DATA\n"
                                      << QStringList() << 1 << QStringList { "/no/such/model: not a folder" };
        QTest::newRow("lora beyond the load limit")
            << "model: MODEL\ndataset: DATA\nadapter: lora\n"
            << QStringList { "--load-limit", "0" } << 1 << QStringList { "adapter 'lora'" };
        QTest::newRow("load limit not a number")
            << "model: MODEL\ndataset: DATA\n"
            << QStringList { "--load-limit", "two" } << 2 << QStringList { "--load-limit must be a whole number" };
    }

    void errorsNameWhatIsWrong()
    {
        QFETCH(QString, yaml);
        QFETCH(QStringList, extra);
        QFETCH(int, code);
        QFETCH(QStringList, messages);
        const QString file = yaml.isEmpty() ? m_dir.filePath("missing.yaml")
                                            : writeConfig(QTest::currentDataTag() + QString(".yaml"), yaml);
        const auto r = runCli(QStringList { "estimate", file } + extra);
        QCOMPARE(r.code, code);
        QVERIFY(r.out.isEmpty());
        for (QString m : messages) {
            m.replace("FILE", file);
            QVERIFY2(r.err.contains(m), qPrintable(r.err + " does not contain " + m));
        }
    }

    void missingConfigIsAUsageError()
    {
        const auto r = runCli({ "estimate" });
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("missing argument CONFIG"), qPrintable(r.err));
    }
};

QTEST_MAIN(TestEstimateCli)
#include "test_estimate_cli.moc"
