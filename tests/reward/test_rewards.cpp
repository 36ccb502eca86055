// The built-in reward plugins on their edge cases (no number, several numbers, digits of other scripts,
// thousands separators, an invalid pattern refused when the configuration is read, naming the key), and the
// `rewards` list of a run configuration as TrainConfig checks it.

#include "core/method/plugin_registry.h"
#include "core/method/reward.h"
#include "core/reward/reward_set.h"
#include "core/reward/reward_text.h"
#include "core/train/train_config.h"
#include "core/util/error.h"
#include "support/test_plugins.h"

#include <QtTest>

using namespace tunebench;

class TestRewards : public QObject {
    Q_OBJECT

private:
    PluginRegistry m_plugins;

    double scoreOf(const nlohmann::json& entry, const std::string& completion, const nlohmann::json& fields)
    {
        RewardSet set(parseRewards(nlohmann::json::array({ entry }), m_plugins, "test"), m_plugins, RewardContext {});
        return set.score("prompt", completion, fields).at(0);
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_plugins.load(test_plugins::folders());
        for (const char* name : { "exact_match", "numeric", "regex", "length", "json_valid" })
            QVERIFY2(m_plugins.find(PluginKind::Reward, name), name);
    }

    void lastNumber_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<bool>("found");
        QTest::addColumn<double>("value");
        QTest::newRow("none") << "no digits here." << false << 0.0;
        QTest::newRow("several: the last") << "3 apples and 4 pears make 7." << true << 7.0;
        QTest::newRow("negative") << "it is -12" << true << -12.0;
        QTest::newRow("hyphenated is not a sign") << "pages 10-12" << true << -12.0;
        QTest::newRow("decimal") << "pi is about 3.14." << true << 3.14;
        QTest::newRow("thousands") << "total 1,234,567 items" << true << 1234567.0;
        QTest::newRow("list commas are not thousands") << "1,2" << true << 2.0;
        QTest::newRow("thousands and decimal") << "1,234.5" << true << 1234.5;
        QTest::newRow("arabic-indic") << QString::fromUtf8("الجواب ٤٢") << true << 42.0;
        QTest::newRow("extended arabic-indic") << QString::fromUtf8("۱۲۳") << true << 123.0;
        QTest::newRow("devanagari") << QString::fromUtf8("उत्तर ९") << true << 9.0;
        QTest::newRow("full-width with point") << QString::fromUtf8("答え：３．５") << true << 3.5;
        QTest::newRow("unicode minus") << QString::fromUtf8("\u22125") << true << -5.0;
        QTest::newRow("gsm8k answer") << "She pays 2 * 3 = 6.\n#### 6" << true << 6.0;
    }

    void lastNumber()
    {
        QFETCH(QString, text);
        QFETCH(bool, found);
        QFETCH(double, value);
        const auto n = tunebench::lastNumber(text.toStdString());
        QCOMPARE(n.has_value(), found);
        if (found)
            QCOMPARE(*n, value);
    }

    void scores_data()
    {
        QTest::addColumn<QString>("entry"); // one rewards entry as JSON
        QTest::addColumn<QString>("completion");
        QTest::addColumn<QString>("fields");
        QTest::addColumn<double>("expected");
        const QString answer42 = R"({"answer": "42"})";
        QTest::newRow("numeric: right") << R"({"type": "numeric"})"
                                        << "The answer is 42." << answer42 << 1.0;
        QTest::newRow("numeric: no number") << R"({"type": "numeric"})"
                                            << "I do not know" << answer42 << 0.0;
        QTest::newRow("numeric: last of several") << R"({"type": "numeric"})"
                                                  << "42 or 41" << answer42 << 0.0;
        QTest::newRow("numeric: arabic-indic")
            << R"({"type": "numeric"})" << QString::fromUtf8("٤٢") << answer42 << 1.0;
        QTest::newRow("numeric: full-width")
            << R"({"type": "numeric"})" << QString::fromUtf8("４２") << answer42 << 1.0;
        QTest::newRow("numeric: number answer field") << R"({"type": "numeric"})"
                                                      << "42.0"
                                                      << R"({"answer": 42})" << 1.0;
        QTest::newRow("numeric: within tolerance") << R"({"type": "numeric", "tolerance": 0.5})"
                                                   << "42.4" << answer42 << 1.0;
        QTest::newRow("numeric: outside tolerance") << R"({"type": "numeric", "tolerance": 0.1})"
                                                    << "42.4" << answer42 << 0.0;
        QTest::newRow("numeric: no answer") << R"({"type": "numeric"})"
                                            << "42"
                                            << R"({})" << 0.0;
        QTest::newRow("numeric: other field") << R"({"type": "numeric", "answer_field": "target"})"
                                              << "7"
                                              << R"({"target": "7"})" << 1.0;
        QTest::newRow("exact_match: trimmed") << R"({"type": "exact_match"})"
                                              << "  42\n"
                                              << R"({"answer": " 42 "})" << 1.0;
        QTest::newRow("exact_match: more text") << R"({"type": "exact_match"})"
                                                << "42." << answer42 << 0.0;
        QTest::newRow("regex: search") << R"({"type": "regex", "pattern": "<answer>\\d+</answer>"})"
                                       << "so <answer>12</answer>"
                                       << "{}" << 1.0;
        QTest::newRow("regex: no match") << R"({"type": "regex", "pattern": "<answer>\\d+</answer>"})"
                                         << "so <answer>x</answer>"
                                         << "{}" << 0.0;
        QTest::newRow("regex: full match") << R"({"type": "regex", "pattern": "\\d+", "full_match": true})"
                                           << "12 apples"
                                           << "{}" << 0.0;
        QTest::newRow("length: at target") << R"({"type": "length", "target": 4})"
                                           << "abcd"
                                           << "{}" << 1.0;
        QTest::newRow("length: half off") << R"({"type": "length", "target": 4})"
                                          << "ab"
                                          << "{}" << 0.5;
        QTest::newRow("length: code points")
            << R"({"type": "length", "target": 2})" << QString::fromUtf8("éé") << "{}" << 1.0;
        QTest::newRow("length: words, floor 0") << R"({"type": "length", "target": 1, "unit": "words", "penalty": 2})"
                                                << "one two three"
                                                << "{}" << 0.0;
        QTest::newRow("json_valid: object") << R"({"type": "json_valid"})"
                                            << R"( {"a": [1, 2]} )"
                                            << "{}" << 1.0;
        QTest::newRow("json_valid: fenced") << R"({"type": "json_valid"})"
                                            << "```json\n{\"a\": 1}\n```"
                                            << "{}" << 1.0;
        QTest::newRow("json_valid: broken") << R"({"type": "json_valid"})"
                                            << R"({"a": )"
                                            << "{}" << 0.0;
        QTest::newRow("json_valid: trailing text") << R"({"type": "json_valid"})"
                                                   << R"({"a": 1} done)"
                                                   << "{}" << 0.0;
        QTest::newRow("json_valid: object required") << R"({"type": "json_valid", "require_object": true})"
                                                     << "[1]"
                                                     << "{}" << 0.0;
    }

    void scores()
    {
        QFETCH(QString, entry);
        QFETCH(QString, completion);
        QFETCH(QString, fields);
        QFETCH(double, expected);
        QCOMPARE(scoreOf(nlohmann::json::parse(entry.toStdString()), completion.toStdString(),
                     nlohmann::json::parse(fields.toStdString())),
            expected);
    }

    void weightedSumAndNames()
    {
        const nlohmann::json list = { { { "type", "numeric" }, { "weight", 1.0 } },
            { { "type", "regex" }, { "pattern", "^\\d" }, { "weight", 0.2 } },
            { { "type", "regex" }, { "pattern", "x" }, { "weight", -1 } } };
        const auto specs = parseRewards(list, m_plugins, "test");
        RewardSet set(specs, m_plugins, RewardContext {});
        QCOMPARE(set.size(), std::size_t(3));
        QCOMPARE(set.name(0), std::string("numeric"));
        QCOMPARE(set.name(1), std::string("regex_1")); // a type listed twice is numbered
        QCOMPARE(set.name(2), std::string("regex_2"));
        const auto scores = set.score("p", "42", { { "answer", "42" } });
        QCOMPARE(scores, (std::vector<double> { 1.0, 1.0, 0.0 }));
        QCOMPARE(set.total(scores), 1.2);
        // A batch gives each completion its own scores.
        const nlohmann::json answer = { { "answer", "42" } };
        const auto batch = set.scoreBatch({ "p", "p" }, { "42", "x 7" }, { &answer, &answer });
        QCOMPARE(batch.size(), std::size_t(2));
        QCOMPARE(batch[0], scores);
        QCOMPARE(batch[1], (std::vector<double> { 0.0, 0.0, 1.0 }));
        // The stored form reads back to the same list.
        const auto again = parseRewards(rewardsToJson(specs), m_plugins, "stored");
        QCOMPARE(again.size(), specs.size());
        QCOMPARE(again[2].name, std::string("regex_2"));
        QCOMPARE(again[1].params, specs[1].params);
    }

    void refusedAtConfiguration_data()
    {
        QTest::addColumn<QString>("rewards");
        QTest::addColumn<QString>("message");
        QTest::newRow("invalid regex") << R"([{"type": "numeric"}, {"type": "regex", "pattern": "*ab"}])"
                                       << "run.yaml: rewards[1].pattern: '*ab' is not a valid regular expression";
        QTest::newRow("missing pattern") << R"([{"type": "regex"}])"
                                         << "rewards[0]: field 'pattern'";
        QTest::newRow("unknown type") << R"([{"type": "numerc"}])"
                                      << "rewards[0].type: no reward named 'numerc'";
        QTest::newRow("no type") << R"([{"weight": 1}])"
                                 << "rewards[0].type: required";
        QTest::newRow("bad weight") << R"([{"type": "numeric", "weight": "high"}])"
                                    << "rewards[0].weight";
        QTest::newRow("unknown key") << R"([{"type": "numeric", "tolerence": 1}])"
                                     << "rewards[0]: unknown key 'tolerence'";
        QTest::newRow("bad range") << R"([{"type": "numeric", "tolerance": -1}])"
                                   << "rewards[0]: field 'tolerance'";
        QTest::newRow("duplicate name") << R"([{"type": "numeric", "name": "a"}, {"type": "regex", "name": "a"}])"
                                        << "rewards[1].name: 'a'";
        QTest::newRow("not a list") << R"({"type": "numeric"})"
                                    << "rewards: expected a list";
    }

    void refusedAtConfiguration()
    {
        QFETCH(QString, rewards);
        QFETCH(QString, message);
        nlohmann::json config
            = { { "model", "m" }, { "dataset", "d.jsonl" }, { "objective", "sft" }, { "adapter", "full" } };
        config["rewards"] = nlohmann::json::parse(rewards.toStdString());
        try {
            TrainConfig::fromJson(config, m_plugins, "run.yaml");
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString::fromStdString(e.what()).contains(message), e.what());
        }
    }

    void configRoundTrip()
    {
        nlohmann::json config
            = { { "model", "m" }, { "dataset", "d.jsonl" }, { "objective", "sft" }, { "adapter", "full" } };
        config["rewards"] = nlohmann::json::parse(R"([{"type": "numeric", "weight": 2}])");
        const TrainConfig c = TrainConfig::fromJson(config, m_plugins, "run.yaml");
        QCOMPARE(c.rewards.size(), std::size_t(1));
        QCOMPARE(c.rewards[0].weight, 2.0);
        const TrainConfig again = TrainConfig::fromJson(c.toJson(), m_plugins, "stored");
        QCOMPARE(again.toJson(), c.toJson());
    }
};

QTEST_GUILESS_MAIN(TestRewards)
#include "test_rewards.moc"
