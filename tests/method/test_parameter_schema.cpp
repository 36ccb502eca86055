// Method parameter schemas: declaration checks, resolution of configs with
// aliases, defaults, types and ranges, and messages that name the field.

#include "core/method/parameter_schema.h"
#include "core/util/error.h"

#include <QtTest>

using namespace tunebench;
using nlohmann::json;

namespace {

const char* kLoraSchema = R"([
 {"name": "r", "aliases": ["lora_r"], "type": "integer", "default": 8, "minimum": 1, "maximum": 1024, "help": "rank"},
 {"name": "lora_alpha", "type": "number", "default": 16, "minimum": 0, "help": "scale numerator"},
 {"name": "lora_dropout", "type": "number", "default": 0.0, "minimum": 0, "maximum": 1, "help": "dropout on x"},
 {"name": "target_modules", "aliases": ["lora_target"], "type": "string_list", "default": ["q_proj", "v_proj"]},
 {"name": "use_rslora", "type": "boolean", "default": false},
 {"name": "init", "type": "choice", "choices": ["kaiming", "gaussian", "pissa"], "default": "kaiming"},
 {"name": "base_model", "type": "string", "help": "required"}
])";

ParameterSchema lora()
{
    return ParameterSchema::fromJson(json::parse(kLoraSchema), "lora");
}

QString messageOf(const std::function<void()>& f)
{
    try {
        f();
    } catch (const InputError& e) {
        return e.what();
    }
    return {};
}

} // namespace

class TestParameterSchema : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void defaultsAndAliases()
    {
        json config
            = json::parse(R"({"lora_r": 16, "base_model": "m", "learning_rate": 0.001, "lora_target": "q_proj"})");
        const json out = lora().resolve(config, "run.yaml");
        QCOMPARE(out["r"].get<int>(), 16);
        QCOMPARE(out["lora_alpha"].get<double>(), 16.0);
        QCOMPARE(out["target_modules"], json::array({ "q_proj" })); // a single string becomes a list
        QCOMPARE(out["use_rslora"].get<bool>(), false);
        QCOMPARE(out["init"].get<std::string>(), std::string("kaiming"));
        // Only the keys this schema owns were taken.
        QCOMPARE(QString::fromStdString(config.dump()), QStringLiteral("{\"learning_rate\":0.001}"));
    }

    void integersAcceptedForNumbersAndWholeFloatsForIntegers()
    {
        json config = { { "r", 4.0 }, { "lora_alpha", 32 }, { "base_model", "m" } };
        const json out = lora().resolve(config, "c");
        QVERIFY(out["r"].is_number_integer());
        QCOMPARE(out["r"].get<int>(), 4);
        QVERIFY(out["lora_alpha"].is_number_float());
    }

    void errorsNameTheField_data()
    {
        QTest::addColumn<QString>("config");
        QTest::addColumn<QString>("message");
        QTest::newRow("wrong type") << R"({"r": "eight", "base_model": "m"})"
                                    << "run.yaml: field 'r': expected a whole number, got string \"eight\"";
        QTest::newRow("fraction for integer") << R"({"r": 2.5, "base_model": "m"})"
                                              << "field 'r': expected a whole number";
        QTest::newRow("below minimum") << R"({"lora_r": 0, "base_model": "m"})"
                                       << "field 'lora_r': expected a value between 1 and 1024, got 0";
        QTest::newRow("above maximum") << R"({"lora_dropout": 1.5, "base_model": "m"})"
                                       << "field 'lora_dropout': expected a value between 0 and 1";
        QTest::newRow("number as string") << R"({"lora_alpha": "16", "base_model": "m"})"
                                          << "field 'lora_alpha': expected a number";
        QTest::newRow("bad choice") << R"({"init": "xavier", "base_model": "m"})"
                                    << "field 'init': expected one of kaiming, gaussian, pissa";
        QTest::newRow("bad list") << R"({"target_modules": [1], "base_model": "m"})"
                                  << "field 'target_modules': expected a list of strings";
        QTest::newRow("boolean") << R"({"use_rslora": "yes", "base_model": "m"})"
                                 << "field 'use_rslora': expected true or false";
        QTest::newRow("required") << R"({})"
                                  << "field 'base_model' is required";
        QTest::newRow("alias clash") << R"({"r": 4, "lora_r": 8, "base_model": "m"})"
                                     << "'r' and 'lora_r' both set parameter 'r'";
    }

    void errorsNameTheField()
    {
        QFETCH(QString, config);
        QFETCH(QString, message);
        json c = json::parse(config.toStdString());
        const QString got = messageOf([&] { lora().resolve(c, "run.yaml"); });
        QVERIFY2(got.contains(message), qPrintable(got));
    }

    void badDeclarations_data()
    {
        QTest::addColumn<QString>("schema");
        QTest::addColumn<QString>("message");
        QTest::newRow("not an array") << R"({"name": "r"})"
                                      << "must be a JSON array";
        QTest::newRow("no name") << R"([{"type": "integer"}])"
                                 << "parameter 0: expected an object";
        QTest::newRow("bad type") << R"([{"name": "r", "type": "int"}])"
                                  << "parameter 'r': 'type' must be";
        QTest::newRow("choice without choices") << R"([{"name": "c", "type": "choice"}])"
                                                << "needs 'choices'";
        QTest::newRow("default of wrong type") << R"([{"name": "r", "type": "integer", "default": "x"}])"
                                               << "parameter 'r': 'default': expected a whole number";
        QTest::newRow("default out of range") << R"([{"name": "r", "type": "integer", "default": 0, "minimum": 1}])"
                                              << "'default': expected a value";
        QTest::newRow("duplicate key")
            << R"([{"name": "r", "type": "integer"}, {"name": "s", "aliases": ["r"], "type": "integer"}])"
            << "the key 'r' is already used by parameter 'r'";
    }

    void badDeclarations()
    {
        QFETCH(QString, schema);
        QFETCH(QString, message);
        const QString got
            = messageOf([&] { ParameterSchema::fromJson(json::parse(schema.toStdString()), "myplugin"); });
        QVERIFY2(got.startsWith("myplugin") && got.contains(message), qPrintable(got));
    }

    void integerLists()
    {
        const ParameterSchema s = ParameterSchema::fromJson(json::parse(R"([
          {"name": "ids", "type": "integer_list", "default": [], "minimum": 0, "maximum": 9, "help": "token ids"}
        ])"),
            "prompt");
        json config = json::parse(R"({"ids": [3, 4.0, 9]})");
        QCOMPARE(s.resolve(config, "c")["ids"], json::array({ 3, 4, 9 }));
        config = json::parse(R"({"ids": 5})"); // a single number becomes a list
        QCOMPARE(s.resolve(config, "c")["ids"], json::array({ 5 }));
        config = json::object();
        QCOMPARE(s.resolve(config, "c")["ids"], json::array());
        config = json::parse(R"({"ids": [1, 10]})");
        QString got = messageOf([&] { s.resolve(config, "c"); });
        QVERIFY2(got.contains("c: field 'ids': expected items between 0 and 9, got 10"), qPrintable(got));
        config = json::parse(R"({"ids": [1, "2"]})");
        got = messageOf([&] { s.resolve(config, "c"); });
        QVERIFY2(got.contains("field 'ids': expected a list of whole numbers"), qPrintable(got));
        QCOMPARE(QString::fromStdString(s.toJson()[0]["type"].get<std::string>()), QStringLiteral("integer_list"));
    }

    void jsonRoundTrip()
    {
        const ParameterSchema s = lora();
        const ParameterSchema again = ParameterSchema::fromJson(s.toJson(), "lora");
        QCOMPARE(QString::fromStdString(again.toJson().dump()), QString::fromStdString(s.toJson().dump()));
        QVERIFY(again.find("lora_r") == &again.specs()[0]);
        QVERIFY(again.find("nope") == nullptr);
    }
};

QTEST_GUILESS_MAIN(TestParameterSchema)
#include "test_parameter_schema.moc"
