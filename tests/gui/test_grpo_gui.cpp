// Issue 19's GUI on real plugins and a real run: Run Setup's Rewards group reads and writes a configuration's
// `rewards:` list as the CLI reads it (round trip, a schema form edit, the configuration check's message naming the
// entry and key); the Monitor draws a tiny GRPO run's reward (total and per function), KL, completion length and
// diversity while it trains, with the completions of the shown step and their rewards in a table; Compare offers
// and overlays those metrics.

#include "core/method/plugin_registry.h"
#include "core/reward/reward_set.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/train_config.h"
#include "core/train/trainer.h"
#include "core/util/yaml_json.h"
#include "ui/pages/compare_page.h"
#include "ui/pages/monitor/completions_panel.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/run_setup/rewards_panel.h"
#include "ui/pages/run_setup_page.h"
#include "ui/run_queue.h"
#include "ui/widgets/schema_form.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include "../model/model_test_support.h"
#include "run_test_support.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QGroupBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QtTest>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <thread>

using namespace tunebench;
using namespace tunebench::ui;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Object names of the Run Setup page's widgets, found as a user would reach them.
template <typename T> T* child(QWidget& page, const QString& name)
{
    return page.findChild<T*>(name);
}

QStringList seriesNames(SeriesPlot* plot)
{
    QStringList names;
    for (int i = 0; i < plot->seriesCount(); ++i)
        names << plot->series(i)->name();
    names.sort();
    return names;
}

} // namespace

class TestGrpoGui : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase()
    {
        gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchGrpoGuiTest"));
        for (const char* type : { "numeric", "regex", "length", "exact_match" })
            QVERIFY2(defaultPluginRegistry().find(PluginKind::Reward, type), type);
    }

    void rewardsRoundTrip_data()
    {
        QTest::addColumn<QString>("rewards"); // the YAML list, as a user writes it
        QTest::addColumn<QStringList>("types");
        QTest::addColumn<QString>("written"); // what the form writes back, as JSON
        QTest::newRow("numeric and regex") << QStringLiteral(
            "[{type: numeric, tolerance: 0.5, weight: 1.0}, {type: regex, pattern: '^[0-9]+$', "
            "weight: 0.2}]") << QStringList { "numeric", "regex" }
                                           << QStringLiteral(R"([{"type": "numeric", "tolerance": 0.5, "weight": 1.0},
                                  {"type": "regex", "pattern": "^[0-9]+$", "weight": 0.2}])");
        // Two of one type take the names the parser numbers them by, which are left unwritten again; a name given
        // is kept.
        QTest::newRow("two of a kind and a name")
            << QStringLiteral("[{type: length, target: 20, unit: words, weight: -0.5}, {type: length, weight: 2}, "
                              "{type: exact_match, name: answer_ok, weight: 1}]")
            << QStringList { "length", "length", "exact_match" }
            << QStringLiteral(R"([{"type": "length", "target": 20, "unit": "words", "weight": -0.5},
                                  {"type": "length", "weight": 2.0},
                                  {"type": "exact_match", "name": "answer_ok", "weight": 1.0}])");
    }

    void rewardsRoundTrip()
    {
        QFETCH(QString, rewards);
        QFETCH(QStringList, types);
        QFETCH(QString, written);
        WorkspaceSession session;
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        RewardsPanel* panel = page.rewardsPanel();
        auto* group = child<QGroupBox>(page, QStringLiteral("rewardsGroup"));
        QVERIFY(group);
        QVERIFY(group->isHidden()); // sft needs no rewards

        page.setYamlText(QStringLiteral("objective: grpo\nrewards: %1\n").arg(rewards));
        QVERIFY2(page.applyYaml(), qPrintable(page.yamlError()));
        QVERIFY(!group->isHidden());
        QCOMPARE(panel->count(), int(types.size()));
        for (int i = 0; i < panel->count(); ++i)
            QCOMPARE(panel->typeCombo(i)->currentData().toString(), types[i]);
        QVERIFY2(panel->problem().isEmpty(), qPrintable(panel->problem()));

        const json config = page.configFromForm();
        QCOMPARE(QString::fromStdString(config.at("rewards").dump()),
            QString::fromStdString(json::parse(written.toStdString()).dump()));
        // The CLI reads what the form wrote as it read the YAML.
        const json yaml = yamlToJson(("rewards: " + rewards).toStdString(), "test");
        const json a = rewardsToJson(parseRewards(yaml.at("rewards"), defaultPluginRegistry(), "yaml"));
        const json b = rewardsToJson(parseRewards(config.at("rewards"), defaultPluginRegistry(), "form"));
        QCOMPARE(QString::fromStdString(b.dump()), QString::fromStdString(a.dump()));
        // And the YAML view shows the list the form writes.
        QVERIFY(page.yamlText().contains(QStringLiteral("rewards:")));
    }

    // Adding a reward, picking its type and editing its generated form reach the configuration; removing one does.
    void rewardsFormEdit()
    {
        WorkspaceSession session;
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        QVERIFY(page.selectObjective(QStringLiteral("grpo")));
        RewardsPanel* panel = page.rewardsPanel();
        QVERIFY(!child<QGroupBox>(page, QStringLiteral("rewardsGroup"))->isHidden());
        QCOMPARE(panel->count(), 0);
        QVERIFY(!page.configFromForm().contains("rewards"));

        QTest::mouseClick(panel->addButton(), Qt::LeftButton);
        QTest::mouseClick(panel->addButton(), Qt::LeftButton);
        QCOMPARE(panel->count(), 2);
        panel->typeCombo(0)->setCurrentIndex(panel->typeCombo(0)->findData(QStringLiteral("numeric")));
        panel->typeCombo(1)->setCurrentIndex(panel->typeCombo(1)->findData(QStringLiteral("regex")));
        // The regex's pattern is required: the check says so, naming the entry and key.
        QVERIFY2(panel->problem().contains(QLatin1String("rewards[1]: field 'pattern' is required")),
            qPrintable(panel->problem()));
        QVERIFY(!panel->messageLabel()->isHidden());

        QVERIFY(panel->form(1)->fieldNames().contains(QStringLiteral("pattern")));
        auto* pattern = qobject_cast<QLineEdit*>(panel->form(1)->editor(QStringLiteral("pattern")));
        QVERIFY(pattern);
        pattern->setFocus();
        QTest::keyClicks(pattern, QStringLiteral("<answer>"));
        auto* tolerance = qobject_cast<QDoubleSpinBox*>(panel->form(0)->editor(QStringLiteral("tolerance")));
        QVERIFY(tolerance);
        tolerance->setValue(0.25);
        panel->weightSpin(1)->setValue(0.2);
        QVERIFY2(panel->problem().isEmpty(), qPrintable(panel->problem()));
        QVERIFY(panel->messageLabel()->isHidden());

        const json rewards = page.configFromForm().at("rewards");
        const json expected = json::parse(R"([{"type": "numeric", "tolerance": 0.25, "weight": 1.0},
                                              {"type": "regex", "pattern": "<answer>", "weight": 0.2}])");
        QCOMPARE(QString::fromStdString(rewards.dump()), QString::fromStdString(expected.dump()));
        QVERIFY(page.yamlText().contains(QStringLiteral("<answer>")));

        QTest::mouseClick(panel->removeButton(0), Qt::LeftButton);
        QCOMPARE(panel->count(), 1);
        QCOMPARE(QString::fromStdString(page.configFromForm().at("rewards").dump()),
            QString::fromStdString(json::array({ expected[1] }).dump()));
    }

    // What the configuration check refuses shows under the rewards with the key at fault, as the CLI says it.
    void invalidRewardNamesKey_data()
    {
        QTest::addColumn<QString>("type");
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("key");
        QTest::newRow("invalid regex") << "regex"
                                       << "pattern"
                                       << "([a-z"
                                       << "rewards[0].pattern";
        QTest::newRow("unbalanced group") << "regex"
                                          << "pattern"
                                          << "(<answer>"
                                          << "rewards[0].pattern";
        QTest::newRow("no pattern") << "regex"
                                    << "pattern"
                                    << ""
                                    << "rewards[0]: field 'pattern'";
    }

    void invalidRewardNamesKey()
    {
        QFETCH(QString, type);
        QFETCH(QString, field);
        QFETCH(QString, text);
        QFETCH(QString, key);
        RewardsPanel panel;
        panel.addReward(type);
        auto* edit = qobject_cast<QLineEdit*>(panel.form(0)->editor(field));
        QVERIFY(edit);
        edit->selectAll();
        edit->del();
        QTest::keyClicks(edit, text);
        QVERIFY2(panel.problem().contains(key), qPrintable(panel.problem()));
        // The same words as the check of the written configuration.
        QString cli;
        try {
            parseRewards(panel.rewards(), defaultPluginRegistry(), "configuration");
        } catch (const std::exception& e) {
            cli = QString::fromUtf8(e.what());
        }
        QVERIFY(!cli.isEmpty());
        QCOMPARE(panel.problem(), cli);
        QVERIFY(panel.messageLabel()->text().contains(key));
    }

    // A tiny GRPO run trains on another thread (as its worker would, writing the workspace's store); the Monitor
    // follows it: its plots, and the completions table at the newest step, first after step 1, then at the end.
    void monitorsGrpoRun()
    {
        QTemporaryDir dir;
        const fs::path root(dir.path().toStdString());
        const fs::path model = root / "model";
        model_test::writeTinyModelFolder(model, 3);
        const fs::path data = root / "prompts.jsonl";
        {
            std::ofstream out(data);
            const char* prompts[] = { "the cat sat", "one and two", "a bird sang", "the sun rose" };
            for (int i = 0; i < 8; ++i)
                out << json({ { "prompt", prompts[i % 4] }, { "answer", std::to_string(i % 3) } }).dump() << "\n";
        }
        const std::set<std::string> prompts = { "the cat sat", "one and two", "a bird sang", "the sun rose" };
        Workspace::create(root / "ws");
        const json config = { { "name", "grpo-gui" }, { "model", model.string() }, { "dataset", data.string() },
            { "adapter", "lora" }, { "objective", "grpo" }, { "learning_rate", 1e-2 },
            { "per_device_train_batch_size", 2 }, { "max_steps", 3 }, { "save_steps", 1 }, { "seed", 5 },
            { "threads", 1 }, { "num_generations", 4 }, { "max_completion_length", 4 }, { "beta", 0.04 },
            { "rewards", json::parse(R"([{"type": "regex", "pattern": "^[a-z]", "weight": 1.0},
                                         {"type": "numeric", "weight": 0.5}])") } };
        const TrainConfig parsed = TrainConfig::fromJson(config, defaultPluginRegistry(), "test");
        std::int64_t runId = 0;
        {
            Workspace ws = Workspace::open(root / "ws");
            NewRun run;
            run.name = parsed.name;
            run.configJson = parsed.toJson().dump();
            run.adapter = parsed.adapter;
            run.objective = parsed.objective;
            run.modelPath = parsed.model;
            runId = RunStore(ws.db()).create(run);
        }

        WorkspaceSession session;
        session.setPollInterval(20);
        QVERIFY(session.open(QString::fromStdString((root / "ws").string())));
        MonitorPage page(&session);
        page.setRefreshInterval(50);
        page.resize(1400, 900);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.showRun(runId);
        QCOMPARE(page.currentRun(), runId);
        CompletionsPanel* completions = page.completionsPanel();
        QVERIFY(completions->isHidden());

        // The worker stops after step 1's checkpoint (its rows committed) until the Monitor has shown them.
        std::mutex mutex;
        std::condition_variable wake;
        bool goOn = false;
        std::atomic<bool> done { false };
        QString trainError;
        std::thread worker([&] {
            try {
                Workspace ws = Workspace::open(root / "ws");
                TrainerOptions o;
                o.workspace = &ws;
                o.runId = runId;
                o.runDir = ws.runDir(runId);
                o.events = [&](const json& e) {
                    if (e.value("event", "") == "checkpoint" && e.value("step", 0) == 1) {
                        std::unique_lock lock(mutex);
                        wake.wait_for(lock, std::chrono::seconds(120), [&] { return goOn; });
                    }
                };
                runTraining(parsed, defaultPluginRegistry(), o);
            } catch (const std::exception& e) {
                trainError = QString::fromUtf8(e.what());
            }
            done = true;
        });
        const auto release = [&] {
            {
                const std::lock_guard lock(mutex);
                goOn = true;
            }
            wake.notify_all();
        };
        struct Joiner {
            std::thread& t;
            std::function<void()> release;
            ~Joiner()
            {
                release();
                if (t.joinable())
                    t.join();
            }
        } joiner { worker, release };

        QTRY_VERIFY_WITH_TIMEOUT(completions->hasCompletions() && !completions->isHidden(), 120000);
        QCOMPARE(completions->stepPicker()->count(), 1);
        QCOMPARE(completions->shownStep(), std::int64_t(1));
        QCOMPARE(completions->table()->rowCount(), 8); // 2 prompts x 4 completions
        release();
        QTRY_VERIFY_WITH_TIMEOUT(done.load(), 300000);
        QVERIFY2(trainError.isEmpty(), qPrintable(trainError));
        session.notifyChanged();
        QTRY_COMPARE_WITH_TIMEOUT(completions->stepPicker()->count(), 3, 30000);
        QCOMPARE(completions->shownStep(), std::int64_t(3)); // the newest step stays shown as more arrive
        page.flushReplots();

        // The plots, with a series per metric the run recorded of each family.
        Workspace ws = Workspace::open(root / "ws");
        const MetricQuery query(ws.db());
        std::set<std::string> names;
        for (const std::string& n : query.names(runId))
            names.insert(n);
        for (const char* n : { "reward_mean", "rewards/regex", "rewards/numeric", "kl", "completion_length",
                 "completion_length/min", "completion_length/max", "distinct_1", "distinct_2" })
            QVERIFY2(names.count(n), n);
        const QStringList shown = page.shownPlotKeys();
        for (const char* key : { MonitorPage::kGrpoReward, MonitorPage::kGrpoKl, MonitorPage::kCompletionLength,
                 MonitorPage::kGrpoDiversity })
            QVERIFY2(shown.contains(QString::fromLatin1(key)), key);
        QCOMPARE(seriesNames(page.plot(QString::fromLatin1(MonitorPage::kGrpoReward))),
            QStringList({ "numeric", "regex", "total" }));
        QCOMPARE(seriesNames(page.plot(QString::fromLatin1(MonitorPage::kGrpoKl))), QStringList({ "KL" }));
        QCOMPARE(seriesNames(page.plot(QString::fromLatin1(MonitorPage::kCompletionLength))),
            QStringList({ "max", "mean", "min" }));
        QStringList diversity; // whatever diversity measures this build's grpo records, distinct-n at least
        for (const std::string& n : names) {
            const auto route = MonitorPage::routeMetric(QString::fromStdString(n));
            if (route && route->plot == QLatin1String(MonitorPage::kGrpoDiversity))
                diversity << QString::fromStdString(n);
        }
        diversity.sort();
        QVERIFY(diversity.contains(QStringLiteral("distinct_1")) && diversity.contains(QStringLiteral("distinct_2")));
        QCOMPARE(seriesNames(page.plot(QString::fromLatin1(MonitorPage::kGrpoDiversity))), diversity);
        SeriesPlot* reward = page.plot(QString::fromLatin1(MonitorPage::kGrpoReward));
        for (int i = 0; i < reward->seriesCount(); ++i)
            QCOMPARE(reward->pointCount(i), 3);

        // The table of the shown step: the dataset's prompts, each reward's score as the reward scores the text,
        // and the weighted total; the regex column's mean is the step's rewards/regex metric.
        QTableWidget* table = completions->table();
        QCOMPARE(table->columnCount(), 5);
        QStringList headers;
        for (int c = 0; c < table->columnCount(); ++c)
            headers << table->horizontalHeaderItem(c)->text();
        QCOMPARE(headers, QStringList({ "Prompt", "Completion", "regex", "numeric", "Total" }));
        QCOMPARE(table->rowCount(), 8);
        const std::regex lower("^[a-z]");
        double regexSum = 0;
        for (int r = 0; r < table->rowCount(); ++r) {
            const std::string prompt = table->item(r, 0)->text().toStdString();
            QVERIFY2(prompts.count(prompt), prompt.c_str());
            const std::string text = table->item(r, 1)->text().toStdString();
            const double regexScore = table->item(r, 2)->data(Qt::DisplayRole).toDouble();
            const double numericScore = table->item(r, 3)->data(Qt::DisplayRole).toDouble();
            const double total = table->item(r, 4)->data(Qt::DisplayRole).toDouble();
            QCOMPARE(regexScore, std::regex_search(text, lower) ? 1.0 : 0.0);
            QCOMPARE(total, 1.0 * regexScore + 0.5 * numericScore);
            regexSum += regexScore;
        }
        const std::vector<MetricPoint> regexMetric = query.series(runId, "rewards/regex");
        QCOMPARE(regexMetric.back().step, std::int64_t(3));
        QCOMPARE(regexSum / 8.0, regexMetric.back().value);
        // Another step on request.
        QVERIFY(completions->showStep(1));
        QCOMPARE(completions->shownStep(), std::int64_t(1));
        QCOMPARE(table->rowCount(), 8);

        // Compare offers the run's GRPO metrics and overlays them.
        ComparePage compare(&session);
        QVERIFY(compare.setRunChecked(runId, true));
        for (const char* metric : { "reward_mean", "rewards/regex", "kl", "completion_length", "distinct_2" }) {
            QVERIFY2(compare.setMetric(QString::fromLatin1(metric)), metric);
            QCOMPARE(compare.overlayPlot()->seriesCount(), 1);
            QCOMPARE(compare.overlayPlot()->pointCount(0), 3);
        }
        QSet<QString> summarised;
        for (const SummaryRow& row : compare.summaryRows())
            summarised.insert(row.metric);
        for (const char* metric : { "reward_mean", "rewards/numeric", "kl", "completion_length/max", "distinct_1" })
            QVERIFY2(summarised.contains(QString::fromLatin1(metric)), metric);
    }
};

QTEST_MAIN(TestGrpoGui)
#include "test_grpo_gui.moc"
