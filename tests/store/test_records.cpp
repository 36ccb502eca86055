// Runs, events, metrics queries, datasets, artifacts and samples in the store.

#include "core/store/artifacts.h"
#include "core/store/batch_writer.h"
#include "core/store/datasets.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;

static QString name(RunStatus s)
{
    return QString::fromUtf8(toString(s).data(), static_cast<qsizetype>(toString(s).size()));
}

class TestRecords : public QObject {
    Q_OBJECT

    QTemporaryDir m_tmp;
    std::optional<Workspace> m_ws;

private Q_SLOTS:
    void init() { m_ws.emplace(Workspace::create(m_tmp.path().toStdString() + "/" + QTest::currentTestFunction())); }
    void cleanup() { m_ws.reset(); }

    void runLifecycle()
    {
        RunStore runs(m_ws->db());
        QVERIFY(runs.list().empty());
        NewRun n;
        n.name = "lora-r8";
        n.configJson = R"({"learning_rate":0.0002,"r":8})";
        n.adapter = "lora";
        n.objective = "sft";
        n.modelPath = "/models/tiny";
        const auto id = runs.create(n);
        auto r = runs.find(id);
        QVERIFY(r);
        QCOMPARE(name(r->status), QStringLiteral("queued"));
        QCOMPARE(QString::fromStdString(r->configJson), QString::fromStdString(n.configJson));
        QCOMPARE(QString::fromStdString(r->adapter), QStringLiteral("lora"));
        QVERIFY(r->createdAt > 1.7e9);
        QVERIFY(!r->startedAt);

        runs.setStatus(id, RunStatus::Running, {}, 4242);
        r = runs.find(id);
        QCOMPARE(name(r->status), QStringLiteral("running"));
        QVERIFY(r->startedAt);
        QCOMPARE(r->workerPid.value_or(0), 4242);
        QVERIFY(!r->finishedAt);

        runs.setStatus(id, RunStatus::Failed, "loss became NaN at step 12");
        r = runs.find(id);
        QCOMPARE(name(r->status), QStringLiteral("failed"));
        QVERIFY(r->finishedAt && *r->finishedAt >= *r->startedAt);
        QCOMPARE(QString::fromStdString(r->error), QStringLiteral("loss became NaN at step 12"));

        QVERIFY_THROWS_EXCEPTION(InputError, runs.setStatus(id + 100, RunStatus::Finished));
        QVERIFY(!runs.find(id + 100));
    }

    void lineageBetweenRuns()
    {
        RunStore runs(m_ws->db());
        const auto parent = runs.create({ .name = "full" });
        NewRun child;
        child.name = "full-lines";
        child.parentRunId = parent;
        child.lineageJson = R"({"operation":"lines","alpha":0.5})";
        const auto id = runs.create(child);
        QCOMPARE(runs.find(id)->parentRunId.value_or(-1), parent);
        // Deleting the parent keeps the child and clears the link.
        QVERIFY(runs.remove(parent));
        QVERIFY(!runs.find(id)->parentRunId);
        QVERIFY(!runs.remove(parent));
    }

    void statusNames()
    {
        for (auto s :
            { RunStatus::Queued, RunStatus::Running, RunStatus::Finished, RunStatus::Failed, RunStatus::Cancelled })
            QVERIFY(runStatusFromString(toString(s)) == s);
        try {
            runStatusFromString("done");
            QFAIL("accepted an unknown status");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("'done'") && QString(e.what()).contains("finished"), e.what());
        }
    }

    void eventsFollowIncrementally()
    {
        RunStore runs(m_ws->db());
        const auto id = runs.create({ .name = "r" });
        const auto first = runs.addEvent(id, "start", R"({"event":"start"})");
        runs.addEvent(id, "step", R"({"step":1})");
        QCOMPARE(runs.events(id).size(), 2u);
        auto newer = runs.events(id, first);
        QCOMPARE(newer.size(), 1u);
        QCOMPARE(QString::fromStdString(newer[0].kind), QStringLiteral("step"));
    }

    void metricQueries()
    {
        RunStore runs(m_ws->db());
        const auto a = runs.create({ .name = "a" });
        const auto b = runs.create({ .name = "b" });
        {
            BatchWriter w(m_ws->db());
            for (int step = 1; step <= 10; ++step) {
                w.addMetric(a, step, "loss", 10.0 / step);
                w.addMetric(a, step, "lr", 1e-3);
                w.addMetric(b, step, "loss", 5.0);
            }
        }
        MetricQuery q(m_ws->db());
        const auto loss = q.series(a, "loss");
        QCOMPARE(loss.size(), 10u);
        QCOMPARE(loss.front().step, 1);
        QCOMPARE(loss.back().value, 1.0);
        QCOMPARE(q.series(a, "loss", 8).size(), 2u);
        QVERIFY(q.series(a, "missing").empty());
        QCOMPARE(q.names(a), (std::vector<std::string> { "loss", "lr" }));
        QCOMPARE(q.count(a), 20);
        QCOMPARE(q.count(b), 10);
        const auto summary = q.summary(a);
        QCOMPARE(summary.size(), 2u);
        QCOMPARE(QString::fromStdString(summary[0].name), QStringLiteral("loss"));
        QCOMPARE(summary[0].count, 10);
        QCOMPARE(summary[0].last, 1.0);
        QCOMPARE(summary[0].lastStep, 10);
        QCOMPARE(summary[0].min, 1.0);
        QCOMPARE(summary[0].max, 10.0);

        // Deleting a run takes its metrics, events and samples with it.
        runs.addEvent(a, "step", "{}");
        QVERIFY(runs.remove(a));
        QCOMPARE(q.count(a), 0);
        QVERIFY(runs.events(a).empty());
        QCOMPARE(q.count(b), 10);
    }

    void datasetsWithLineage()
    {
        DatasetStore ds(m_ws->db());
        DatasetRecord d;
        d.name = "alpaca-mini";
        d.format = "instruction";
        d.sourcePath = "/data/alpaca.jsonl";
        d.records = 1000;
        d.contentHash = "sha256:abc";
        const auto parent = ds.add(d);
        DatasetRecord child = d;
        child.name = "alpaca-mini-random-100";
        child.records = 100;
        child.parentId = parent;
        child.operation = "random_sample";
        child.paramsJson = R"({"n":100,"seed":1})";
        const auto id = ds.add(child);
        const auto all = ds.list();
        QCOMPARE(all.size(), 2u);
        const auto found = ds.find(id);
        QVERIFY(found);
        QCOMPARE(found->parentId.value_or(-1), parent);
        QCOMPARE(QString::fromStdString(found->operation), QStringLiteral("random_sample"));
        QCOMPARE(found->records, 100);
        QVERIFY(!ds.find(id + 1));

        // A run may name a dataset; a missing one is refused by the foreign key.
        RunStore runs(m_ws->db());
        QVERIFY(runs.create({ .name = "r", .datasetId = id }) > 0);
        QVERIFY_THROWS_EXCEPTION(StoreError, runs.create({ .name = "r", .datasetId = id + 50 }));
    }

    void artifactsAndSamples()
    {
        RunStore runs(m_ws->db());
        const auto id = runs.create({ .name = "r" });
        ArtifactStore arts(m_ws->db());
        arts.add({ .runId = id, .kind = "adapter", .path = "runs/1/adapter", .metaJson = R"({"format":"peft"})" });
        arts.add({ .runId = std::nullopt, .kind = "report", .path = "exports/compare.html" });
        QCOMPARE(arts.list().size(), 2u);
        QCOMPARE(arts.list(id).size(), 1u);
        QCOMPARE(QString::fromStdString(arts.list(id)[0].kind), QStringLiteral("adapter"));
        {
            BatchWriter w(m_ws->db());
            w.addSample(id, 0, 0, 0, "Once upon", "a time", 7);
            w.addSample(id, 0, 0, 1, "Once upon", "a hill", 8);
            w.addSample(id, 10, 0, 0, "Once upon", "a cat", 7);
        }
        QCOMPARE(arts.samples(id).size(), 3u);
        const auto atStep10 = arts.samples(id, 10);
        QCOMPARE(atStep10.size(), 1u);
        QCOMPARE(QString::fromStdString(atStep10[0].text), QStringLiteral("a cat"));
        QCOMPARE(atStep10[0].seed.value_or(-1), 7);
        // A view following the run reads only what came after the last it showed.
        const auto all = arts.samples(id);
        QCOMPARE(arts.samplesAfter(id, 0).size(), 3u);
        const auto after = arts.samplesAfter(id, all[0].id);
        QCOMPARE(after.size(), 2u);
        QCOMPARE(QString::fromStdString(after[0].text), QStringLiteral("a hill"));
        QVERIFY(arts.samplesAfter(id, after[1].id).empty());
        QVERIFY(arts.samplesAfter(id + 1, 0).empty());
        runs.remove(id);
        QCOMPARE(arts.list().size(), 1u); // the run's artifact rows went with it
        QVERIFY(arts.samples(id).empty());
    }
};

QTEST_GUILESS_MAIN(TestRecords)
#include "test_records.moc"
