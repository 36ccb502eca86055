// YAML run configs read as JSON: scalar types, errors with line and column, round trip.

#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <nlohmann/json.hpp>

#include <QtTest>

using namespace tunebench;
using nlohmann::json;

class TestYamlJson : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void scalars_data()
    {
        QTest::addColumn<QString>("yaml");
        QTest::addColumn<QString>("json");
        QTest::newRow("int") << "x: 42"
                             << R"({"x":42})";
        QTest::newRow("negative int") << "x: -3"
                                      << R"({"x":-3})";
        QTest::newRow("float") << "x: 0.0002"
                               << R"({"x":0.0002})";
        QTest::newRow("exponent") << "x: 2e-4"
                                  << R"({"x":0.0002})";
        QTest::newRow("true") << "x: true"
                              << R"({"x":true})";
        QTest::newRow("False") << "x: False"
                               << R"({"x":false})";
        QTest::newRow("null word") << "x: null"
                                   << R"({"x":null})";
        QTest::newRow("tilde") << "x: ~"
                               << R"({"x":null})";
        QTest::newRow("empty") << "x:"
                               << R"({"x":null})";
        QTest::newRow("quoted number stays string") << "x: \"42\""
                                                    << R"({"x":"42"})";
        QTest::newRow("single quoted true stays string") << "x: 'true'"
                                                         << R"({"x":"true"})";
        QTest::newRow("plain string") << "x: cosine"
                                      << R"({"x":"cosine"})";
        QTest::newRow("version-like string") << "x: 1.2.3"
                                             << R"({"x":"1.2.3"})";
        QTest::newRow("yes is a string in YAML 1.2") << "x: yes"
                                                     << R"({"x":"yes"})";
        QTest::newRow("flow list") << "target_modules: [q_proj, v_proj]"
                                   << R"({"target_modules":["q_proj","v_proj"]})";
        QTest::newRow("nested") << "lora:\n  r: 8\n  alpha: 16.5\n"
                                << R"({"lora":{"alpha":16.5,"r":8}})";
    }

    void scalars()
    {
        QFETCH(QString, yaml);
        QFETCH(QString, json);
        QCOMPARE(QString::fromStdString(yamlToJson(yaml.toStdString(), "t.yaml").dump()), json);
    }

    void errorsNameFileLineAndColumn()
    {
        try {
            yamlToJson("a: 1\nb: [1, 2\nc: 3\n", "run.yaml");
            QFAIL("bad YAML accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("run.yaml:"), e.what());
            QVERIFY2(QRegularExpression("^run\\.yaml:\\d+:\\d+: ").match(e.what()).hasMatch(), e.what());
        }
        try {
            yamlToJson("a: 1\nlearning_rate: 1\nlearning_rate: 2\n", "dup.yaml");
            QFAIL("duplicate key accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).startsWith("dup.yaml:3:1: duplicate key 'learning_rate'"), e.what());
        }
    }

    void jsonIsYaml()
    {
        const auto j = yamlToJson(R"({"a": [1, 2.5, "x"], "b": {"c": null}})", "t.json");
        QCOMPARE(QString::fromStdString(j.dump()), QStringLiteral(R"({"a":[1,2.5,"x"],"b":{"c":null}})"));
    }

    void roundTrip()
    {
        // Built in code rather than from a multi-line raw string, which moc cannot tokenise.
        json value = json::object();
        value["name"] = "lora r8";
        value["learning_rate"] = 0.0002;
        value["epochs"] = 3;
        value["warmup_ratio"] = 0.0;
        value["bf16"] = false;
        value["seed"] = nullptr;
        value["lr_scheduler_type"] = "cosine";
        value["tricky"] = { "true", "42", "", "a: b", "- x", "#hash", " lead", "trail ", "1e5", "~", "[x]", "{y}" };
        value["nested"] = { { "target_modules", { "q_proj", "v_proj" } }, { "empty_list", json::array() },
            { "empty_map", json::object() } };
        value["list_of_maps"] = json::array({ json { { "a", 1 } }, json { { "b", { 2, 3 } } } });
        value["unicode"] = "na\u00efve \u2013 \u65e5\u672c\u8a9e";
        const std::string yaml = jsonToYaml(value);
        QCOMPARE(QString::fromStdString(yamlToJson(yaml, "rt.yaml").dump()), QString::fromStdString(value.dump()));
    }
};

QTEST_GUILESS_MAIN(TestYamlJson)
#include "test_yaml_json.moc"
