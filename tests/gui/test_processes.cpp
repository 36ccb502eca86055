// Data-parallel runs in the GUI: Run Setup's Processes group writes and reads the configuration's
// `distributed:` section and refuses settings that cannot start; the Monitor draws the per-rank throughput and
// communication time that a distributed run's step events carry, and nothing of the kind for a plain run.

#include "core/distributed/distributed_config.h"
#include "core/store/batch_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/yaml_json.h"
#include "gui/run_test_support.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/run_setup/processes_panel.h"
#include "ui/pages/run_setup_page.h"
#include "ui/run_queue.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QSpinBox>
#include <QTemporaryDir>
#include <QTest>

#include <filesystem>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

std::filesystem::path fsPath(const QString& path)
{
    return std::filesystem::path(path.toStdString());
}

// The YAML a user would write around a `distributed:` section (model and dataset need not exist to be checked).
QString yamlWith(const QString& distributed)
{
    return QStringLiteral("name: ddp\nmodel: /models/tiny\ndataset: data.jsonl\nadapter:\n  type: lora\n"
                          "objective:\n  type: sft\ntraining:\n  max_steps: 4\n")
        + distributed;
}

} // namespace

class TestProcesses : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchProcessesTest")); }

    void sectionRoundTrips_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<int>("processes");
        QTest::addColumn<int>("hosts");
        QTest::addColumn<int>("hostRank");
        QTest::addColumn<QString>("backend");
        QTest::addColumn<double>("timeout");
        QTest::newRow("one host, two processes")
            << QStringLiteral("distributed:\n  nproc_per_node: 2\n") << 2 << 1 << 0 << "gloo" << 300.0;
        QTest::newRow("second of two hosts, nccl")
            << QStringLiteral("distributed:\n  nproc_per_node: 4\n  nnodes: 2\n  node_rank: 1\n"
                              "  master_addr: 10.0.0.7\n  master_port: 29611\n  backend: nccl\n  timeout_s: 90\n")
            << 4 << 2 << 1 << "nccl" << 90.0;
    }

    void sectionRoundTrips()
    {
        QFETCH(QString, section);
        QFETCH(int, processes);
        QFETCH(int, hosts);
        QFETCH(int, hostRank);
        QFETCH(QString, backend);
        QFETCH(double, timeout);
        QTemporaryDir dir;
        Workspace::create(fsPath(dir.path()));
        WorkspaceSession session;
        QVERIFY(session.open(dir.path()));
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        ProcessesPanel* panel = page.processesPanel();
        QVERIFY(!page.configFromForm().contains("distributed")); // a single process writes none

        page.setYamlText(yamlWith(section));
        QVERIFY2(page.applyYaml(), qPrintable(page.yamlError()));
        QCOMPARE(panel->processesSpin()->value(), processes);
        QCOMPARE(panel->hostsSpin()->value(), hosts);
        QCOMPARE(panel->hostRankSpin()->value(), hostRank);
        QCOMPARE(panel->backendCombo()->currentData().toString(), backend);
        QCOMPARE(panel->timeoutSpin()->value(), timeout);
        QVERIFY(panel->problem().isEmpty());

        // What the form writes back is the section it read (compared as the trainer reads both).
        const nlohmann::json written = page.configFromForm();
        QVERIFY(written.contains("distributed"));
        const nlohmann::json read = yamlToJson(yamlWith(section).toStdString(), "yaml");
        QCOMPARE(DistributedConfig::fromJson(written["distributed"], "form"),
            DistributedConfig::fromJson(read["distributed"], "yaml"));
        QVERIFY2(
            page.yamlText().contains(QStringLiteral("nproc_per_node: %1").arg(processes)), qPrintable(page.yamlText()));

        // Back to one process on one host: the section goes.
        panel->hostsSpin()->setValue(1);
        panel->processesSpin()->setValue(1);
        QVERIFY(!page.configFromForm().contains("distributed"));
        QTRY_VERIFY(!page.yamlText().contains(QStringLiteral("distributed")));
    }

    void badValuesAreRefused_data()
    {
        QTest::addColumn<QString>("section");
        QTest::addColumn<QString>("message");
        QTest::newRow("rank past the hosts")
            << QStringLiteral("distributed:\n  nproc_per_node: 2\n  nnodes: 2\n  node_rank: 2\n")
            << QStringLiteral("distributed.node_rank");
        QTest::newRow("unknown backend") << QStringLiteral("distributed:\n  nproc_per_node: 2\n  backend: mpi\n")
                                         << QStringLiteral("distributed.backend");
        QTest::newRow("no processes") << QStringLiteral("distributed:\n  nproc_per_node: 0\n")
                                      << QStringLiteral("distributed.nproc_per_node");
        QTest::newRow("port out of range")
            << QStringLiteral("distributed:\n  nproc_per_node: 2\n  master_port: 70000\n")
            << QStringLiteral("distributed.master_port");
        QTest::newRow("unknown key") << QStringLiteral("distributed:\n  nproc_per_node: 2\n  hosts: [a, b]\n")
                                     << QStringLiteral("distributed.hosts");
    }

    void badValuesAreRefused()
    {
        QFETCH(QString, section);
        QFETCH(QString, message);
        QTemporaryDir dir;
        Workspace::create(fsPath(dir.path()));
        WorkspaceSession session;
        QVERIFY(session.open(dir.path()));
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        page.setYamlText(yamlWith(QStringLiteral("distributed:\n  nproc_per_node: 3\n")));
        QVERIFY2(page.applyYaml(), qPrintable(page.yamlError()));
        page.setYamlText(yamlWith(section));
        QVERIFY(!page.applyYaml());
        QVERIFY2(page.yamlError().contains(message), qPrintable(page.yamlError()));
        QCOMPARE(page.processesPanel()->processesSpin()->value(), 3); // the form keeps the last valid settings
    }

    void formRefusesWhatCannotStart()
    {
        QTemporaryDir dir;
        Workspace::create(fsPath(dir.path()));
        WorkspaceSession session;
        QVERIFY(session.open(dir.path()));
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        page.setModelPath(QStringLiteral("/models/tiny"));
        ProcessesPanel* panel = page.processesPanel();
        auto* message = panel->findChild<QLabel*>(QStringLiteral("processesMessage"));
        QVERIFY(panel->problem().isEmpty());
        QVERIFY(!panel->hostRankSpin()->isEnabled()); // one host: no rank to choose

        panel->processesSpin()->setValue(2);
        panel->hostsSpin()->setValue(2);
        panel->hostRankSpin()->setValue(2);
        QVERIFY2(panel->problem().contains(QStringLiteral("rank (2)")), qPrintable(panel->problem()));
        QCOMPARE(message->text(), panel->problem());
        QString error;
        QVERIFY(!page.start(&error));
        QCOMPARE(error, panel->problem());

        panel->hostRankSpin()->setValue(1);
        panel->masterAddressEdit()->clear();
        QVERIFY2(panel->problem().contains(QStringLiteral("master address")), qPrintable(panel->problem()));
        QVERIFY(!page.start(&error));
        QCOMPARE(error, panel->problem());

        // Loopback with several hosts starts, but says the other hosts will not reach it.
        panel->masterAddressEdit()->setText(QStringLiteral("127.0.0.1"));
        QVERIFY(panel->problem().isEmpty());
        QVERIFY2(panel->warning().contains(QStringLiteral("loopback")), qPrintable(panel->warning()));
        QCOMPARE(message->text(), panel->warning());
        panel->masterAddressEdit()->setText(QStringLiteral("node0.example"));
        QVERIFY(panel->warning().isEmpty());
        QVERIFY(message->isHidden());
    }

    void monitorShowsPerRankPlots_data()
    {
        QTest::addColumn<int>("ranks");
        QTest::addColumn<bool>("perRank");
        QTest::newRow("plain run") << 1 << false;
        QTest::newRow("two ranks") << 2 << true;
        QTest::newRow("three ranks") << 3 << true;
    }

    void monitorShowsPerRankPlots()
    {
        QFETCH(int, ranks);
        QFETCH(bool, perRank);
        QTemporaryDir dir;
        std::int64_t run = 0;
        QString log;
        {
            Workspace ws = Workspace::create(fsPath(dir.path()));
            NewRun r;
            r.name = "ddp";
            r.objective = "sft";
            run = RunStore(ws.db()).create(r);
            RunStore(ws.db()).setStatus(run, RunStatus::Finished);
            BatchWriter writer(ws.db());
            std::filesystem::create_directories(ws.runDir(run));
            log = QString::fromStdString((ws.runDir(run) / "worker.log").string());
            QFile file(log);
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write("--- 2026-12-07T23:00:00: tunebench-cli train --run 1\n");
            for (int step = 1; step <= 4; ++step) {
                writer.addMetric(run, step, "loss", 1.0 / step);
                writer.addMetric(run, step, "tokens_per_s", 100.0 * step);
                nlohmann::json event = { { "event", "step" }, { "step", step }, { "loss", 1.0 / step },
                    { "tokens_per_s", 100.0 * step } };
                if (perRank) {
                    nlohmann::json tokens = nlohmann::json::array();
                    nlohmann::json comm = nlohmann::json::array();
                    for (int k = 0; k < ranks; ++k) {
                        tokens.push_back(10.0 * step + k);
                        comm.push_back(0.001 * (k + 1));
                    }
                    event["world_size"] = ranks;
                    event["rank_tokens_per_s"] = tokens;
                    event["rank_comm_seconds"] = comm;
                }
                file.write(QByteArray::fromStdString(event.dump()) + '\n');
            }
            // A resumed attempt repeats step 4: its values stand. Unfinished last line: not read yet.
            if (perRank) {
                nlohmann::json again = { { "event", "step" }, { "step", 4 },
                    { "rank_tokens_per_s", std::vector<double>(std::size_t(ranks), 7.0) },
                    { "rank_comm_seconds", std::vector<double>(std::size_t(ranks), 0.5) } };
                file.write(QByteArray::fromStdString(again.dump()) + '\n');
                file.write(R"({"event":"step","step":5,"rank_tokens_per_s":[1)");
            }
            writer.flush();
        }
        WorkspaceSession session;
        QVERIFY(session.open(dir.path()));
        MonitorPage page(&session);
        page.resize(1200, 800);
        page.show();
        QVERIFY(QTest::qWaitForWindowExposed(&page));
        page.showRun(run);
        const QString throughput = QString::fromLatin1(MonitorPage::kRankThroughput);
        const QString comm = QString::fromLatin1(MonitorPage::kRankComm);
        QCOMPARE(page.shownPlotKeys().contains(throughput), perRank);
        QCOMPARE(page.shownPlotKeys().contains(comm), perRank);
        QCOMPARE(page.plot(throughput)->isVisible(), perRank);
        QCOMPARE(page.plot(comm)->isVisible(), perRank);
        QVERIFY(page.shownPlotKeys().contains(QStringLiteral("tokens_per_s")));
        if (!perRank) {
            QCOMPARE(page.plot(throughput)->seriesCount(), 0);
            return;
        }
        SeriesPlot* t = page.plot(throughput);
        SeriesPlot* c = page.plot(comm);
        QCOMPARE(t->seriesCount(), ranks);
        QCOMPARE(c->seriesCount(), ranks);
        for (int k = 0; k < ranks; ++k) {
            const int ti = t->seriesIndex(QStringLiteral("rank %1").arg(k));
            const int ci = c->seriesIndex(QStringLiteral("rank %1").arg(k));
            QVERIFY(ti >= 0 && ci >= 0);
            QCOMPARE(t->seriesKeys(ti), (std::vector<double> { 1, 2, 3, 4 }));
            QCOMPARE(t->seriesValues(ti), (std::vector<double> { 10.0 + k, 20.0 + k, 30.0 + k, 7.0 }));
            QCOMPARE(c->seriesValues(ci).front(), 0.001 * (k + 1));
            QCOMPARE(c->seriesValues(ci).back(), 0.5);
        }

        // The worker finishes the line and goes on: the next look at the store reads the rest.
        {
            QFile file(log);
            QVERIFY(file.open(QIODevice::Append));
            nlohmann::json rest = nlohmann::json::array();
            for (int k = 1; k < ranks; ++k)
                rest.push_back(2.0);
            std::string tail = rest.dump(); // "[2.0,...]": drop the bracket, the first value was written
            tail = ranks > 1 ? "," + tail.substr(1) : "]";
            file.write(QByteArray::fromStdString(tail + R"(,"rank_comm_seconds":[)"));
            for (int k = 0; k < ranks; ++k)
                file.write(k ? ",0.25" : "0.25");
            file.write("]}\n");
        }
        {
            Workspace worker = Workspace::open(fsPath(dir.path()));
            BatchWriter writer(worker.db());
            writer.addMetric(run, 5, "loss", 0.1);
            writer.flush();
        }
        session.notifyChanged();
        QCOMPARE(t->seriesKeys(t->seriesIndex(QStringLiteral("rank 0"))).back(), 5.0);
        QCOMPARE(t->seriesValues(t->seriesIndex(QStringLiteral("rank 0"))).back(), 1.0);
        QCOMPARE(c->seriesValues(c->seriesIndex(QStringLiteral("rank 1"))).back(), 0.25);
    }
};

QTEST_MAIN(TestProcesses)
#include "test_processes.moc"
