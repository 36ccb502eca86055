// Every adapter plugin through its own conformance rows (core/conformance/adapter_conformance.h: the checks;
// plugins/<name>/conformance.yaml: the rows, the trainable counts its formula gives and the refusals), exactly
// as `tunebench-cli plugins check NAME` runs them for an out-of-tree plugin. Plugins on TUNEBENCH_PLUGIN_PATH
// are checked too. A loaded adapter without a conformance file fails. The checks themselves are checked: a
// file that states a wrong count, or a refusal that does not happen, fails; a malformed file is refused naming
// the field.

#include "core/conformance/adapter_conformance.h"
#include "core/method/plugin_registry.h"
#include "core/util/error.h"
#include "support/test_plugins.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

Q_DECLARE_METATYPE(std::string)

class TestAdapterConformance : public QObject {
    Q_OBJECT

    PluginRegistry m_plugins;
    std::map<std::string, ConformanceSpec> m_specs;
    QTemporaryDir m_dir;

    fs::path writeFile(const std::string& name, const std::string& text)
    {
        const fs::path path = fs::path(m_dir.path().toStdString()) / name;
        std::ofstream(path) << text;
        return path;
    }

    static QString failures(const ConformanceResult& r)
    {
        QString out;
        for (const std::string& f : r.failures)
            out += "\n  " + QString::fromStdString(f);
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load(test_plugins::folders());
        QVERIFY(m_plugins.broken().empty());
        for (const PluginInfo& p : m_plugins.plugins()) {
            if (p.kind == PluginKind::Adapter)
                m_specs.emplace(p.name, readConformanceSpec(p.conformanceFile()));
        }
        QVERIFY(m_specs.size() >= 13);
    }

    void everyAdapterCarriesItsRows()
    {
        for (const auto& [name, spec] : m_specs) {
            QCOMPARE(spec.adapter, name);
            QVERIFY2(!spec.rows.empty(), name.c_str());
        }
    }

    void rows_data()
    {
        QTest::addColumn<std::string>("adapter");
        QTest::addColumn<int>("row");
        QTest::addColumn<std::string>("architecture");
        for (const auto& [name, spec] : m_specs) {
            for (std::size_t i = 0; i < spec.rows.size(); ++i) {
                for (const auto& [arch, params] : spec.rows[i].params)
                    QTest::addRow("%s %s %s", name.c_str(), spec.rows[i].name.c_str(), arch.c_str())
                        << name << int(i) << arch;
            }
        }
    }

    void rows()
    {
        QFETCH(std::string, adapter);
        QFETCH(int, row);
        QFETCH(std::string, architecture);
        const ConformanceSpec& spec = m_specs.at(adapter);
        const ConformanceResult r = checkConformanceRow(spec, spec.rows.at(row), architecture, m_plugins);
        QVERIFY2(r.passed(), qPrintable(failures(r)));
        QCOMPARE(r.trainable, spec.rows.at(row).trainable.at(architecture));
        QVERIFY(r.lossAfter < r.lossBefore);
        // Every plugin with a PEFT form was read back through it.
        QCOMPARE(r.peftType.empty(), m_plugins.require(PluginKind::Adapter, adapter).peftType.empty());
        if (!r.peftType.empty())
            QVERIFY(r.peftDifference >= 0 && r.peftDifference < 1e-5);
    }

    void refusals_data()
    {
        QTest::addColumn<std::string>("adapter");
        QTest::addColumn<int>("index");
        for (const auto& [name, spec] : m_specs) {
            for (std::size_t i = 0; i < spec.refusals.size(); ++i)
                QTest::addRow("%s %d", name.c_str(), int(i + 1)) << name << int(i);
        }
    }

    void refusals()
    {
        QFETCH(std::string, adapter);
        QFETCH(int, index);
        const ConformanceResult r = checkConformanceRefusal(m_specs.at(adapter), index, m_plugins);
        QVERIFY2(r.passed(), qPrintable(failures(r)));
    }

    // The checks can fail: a stated count that is off by one, a refusal that does not happen, a message that
    // differs, a plugin whose outputs move at initialisation although the row promises they do not.
    void wrongPromisesFail()
    {
        ConformanceSpec spec = m_specs.at("lora");
        ConformanceRow row = spec.rows.front();
        row.trainable["llama"] += 1;
        ConformanceResult r = checkConformanceRow(spec, row, "llama", m_plugins);
        QVERIFY(!r.passed());
        QVERIFY2(QString::fromStdString(r.failures.front()).contains("trainable values, the row states"),
            qPrintable(failures(r)));

        spec.refusals = { { "llama", { { "target_modules", { "q_proj" } } }, "anything" },
            { "llama", { { "target_modules", { "c_attn" } } }, "no such text" } };
        r = checkConformanceRefusal(spec, 0, m_plugins);
        QVERIFY(!r.passed() && QString::fromStdString(r.failures.front()).contains("were not refused"));
        r = checkConformanceRefusal(spec, 1, m_plugins);
        QVERIFY(!r.passed() && QString::fromStdString(r.failures.front()).contains("does not contain"));

        ConformanceSpec prompt = m_specs.at("prompt_tuning");
        ConformanceRow promised = prompt.rows.front();
        promised.identityAtInit = true;
        r = checkConformanceRow(prompt, promised, "gpt2", m_plugins);
        QVERIFY2(!r.passed() && QString::fromStdString(r.failures.front()).contains("changed at initialisation"),
            qPrintable(failures(r)));

        ConformanceSpec freeze = m_specs.at("freeze");
        ConformanceRow scaled = freeze.rows.at(1);
        scaled.lrScales["llama"]["model.layers.0.self_attn.q_proj.weight"] = 0.25;
        r = checkConformanceRow(freeze, scaled, "llama", m_plugins);
        QVERIFY2(!r.passed() && QString::fromStdString(r.failures.front()).contains("learning-rate scale 0.5"),
            qPrintable(failures(r)));
    }

    void malformedFilesNameTheField_data()
    {
        QTest::addColumn<QString>("yaml");
        QTest::addColumn<QString>("message");
        QTest::newRow("no rows") << "adapter: lora\nrun: {}\n"
                                 << "rows: expected a list of at least one row";
        QTest::newRow("count") << "adapter: lora\nrows:\n  - name: a\n    trainable: {llama: 5, gpt2: x}\nrun: {}\n"
                               << "rows[0].trainable.gpt2: expected the number of trainable values";
        QTest::newRow("missing count") << "adapter: lora\nrows:\n  - name: a\n    trainable: {llama: 5}\nrun: {}\n"
                                       << "rows[0].trainable.gpt2";
        QTest::newRow("architecture")
            << "adapter: lora\nrows:\n  - name: a\n    architectures: [mamba]\n    trainable: {}\nrun: {}\n"
            << "rows[0].architectures[0]: expected llama or gpt2";
        QTest::newRow("unknown key") << "adapter: lora\nrows:\n  - name: a\n    trainables: {}\nrun: {}\n"
                                     << "rows[0].trainables: unknown key";
        QTest::newRow("refusal") << "adapter: lora\nrows:\n  - name: a\n    trainable: {llama: 1, gpt2: 1}\n"
                                    "refusals:\n  - architecture: llama\n    params: {}\nrun: {}\n"
                                 << "refusals[0].message: expected the text";
        QTest::newRow("run type") << "adapter: lora\nrows:\n  - name: a\n    trainable: {llama: 1, gpt2: 1}\n"
                                     "run: {type: lora}\n"
                                  << "run.type: expected no type";
    }

    void malformedFilesNameTheField()
    {
        QFETCH(QString, yaml);
        QFETCH(QString, message);
        const fs::path file = writeFile(QTest::currentDataTag() + std::string(".yaml"), yaml.toStdString());
        try {
            readConformanceSpec(file);
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith(QString::fromStdString(file.string())), e.what());
            QVERIFY2(QString(e.what()).contains(message), e.what());
        }
        try {
            readConformanceSpec(writeFile("absent/none.yaml", ""));
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("conformance.yaml"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestAdapterConformance)
#include "test_adapter_conformance.moc"
