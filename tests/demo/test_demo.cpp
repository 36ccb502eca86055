// tunebench-cli demo in quick mode (a tiny model, corpus and runs): the JSON
// line's shape, the table, every preset's row, the model cached and finished
// runs reused on a second call, and bad presets refused with file and field.

#include "core/evaluation/evaluate.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/sweep_store.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <optional>

namespace {

struct Outcome {
    int code = -1;
    QString out;
    QString err;
};

Outcome runDemo(const QStringList& args)
{
    QProcess p;
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove("TUNEBENCH_WORKSPACE");
    env.remove("TUNEBENCH_DEMO_QUICK");
    env.remove("TUNEBENCH_DEMO_PRESETS");
    p.setProcessEnvironment(env);
    p.start(TUNEBENCH_CLI, QStringList { "demo" } + args);
    if (!p.waitForFinished(1500 * 1000))
        return {};
    return { p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1, QString::fromUtf8(p.readAllStandardOutput()),
        QString::fromUtf8(p.readAllStandardError()) };
}

QJsonObject lineOf(const Outcome& o)
{
    const QString first = o.out.section('\n', 0, 0);
    const QJsonDocument doc = QJsonDocument::fromJson(first.toUtf8());
    return doc.isObject() ? doc.object() : QJsonObject {};
}

QJsonArray runsOf(const Outcome& o)
{
    const QJsonObject line = lineOf(o);
    const QStringList keys = line.keys();
    if (!keys.contains("runs")
        || (keys != QStringList { "runs" } && keys != QStringList { "comparisons", "groups", "runs" }
            && keys != QStringList { "pipeline", "runs" }
            && keys != QStringList { "comparisons", "groups", "pipeline", "runs" }))
        return {};
    return line.value("runs").toArray();
}

QJsonObject rowNamed(const QJsonArray& runs, const QString& name)
{
    for (const auto& r : runs) {
        if (r.toObject().value("name").toString() == name)
            return r.toObject();
    }
    return {};
}

const QString kPresets = QStringLiteral(TUNEBENCH_SOURCE_DIR "/resources/demo");

} // namespace

class TestDemo : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    QString m_ws;
    Outcome m_first;

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_ws = m_dir.filePath("ws");
        m_first = runDemo({ "--workspace", m_ws, "--quick", "--presets", kPresets });
        QVERIFY2(m_first.code == 0, qPrintable(m_first.err.right(4000)));
    }

    void jsonLineShape()
    {
        const QJsonArray runs = runsOf(m_first);
        QVERIFY2(!runs.isEmpty(), qPrintable(m_first.out.left(2000)));
        const QStringList keys { "adapter", "distinct_2", "group", "name", "objective", "reference_delta_loss",
            "target_loss", "trainable_share" };
        for (const auto& v : runs) {
            const QJsonObject r = v.toObject();
            QStringList got = r.keys();
            got.removeOne("seed"); // the runs of a preset with demo.seeds
            // LoRA-family rows: the base weights' memory (and the scheme, when quantised).
            const bool loraFamily = r.value("adapter").toString() == "lora";
            QCOMPARE(got.removeOne("base_weight_mib"), loraFamily);
            QCOMPARE(got.removeOne("quantize_base"), r.value("name").toString() == "qlora");
            // The GRPO run: reward and group diversity before and after.
            const bool grpo = r.value("objective").toString() == "grpo";
            QCOMPARE(got.removeOne("reward_mean"), grpo);
            QCOMPARE(got.removeOne("group_distinct_2"), grpo);
            // The demo's evaluation tasks, on every run.
            QVERIFY2(got.removeOne("evaluation"), qPrintable(r.value("name").toString()));
            const QJsonObject evaluation = r.value("evaluation").toObject();
            QCOMPARE(evaluation.keys(), (QStringList { "facts/acc", "facts/acc_norm", "sums/exact_match" }));
            for (const QString& k : evaluation.keys())
                QVERIFY(evaluation.value(k).toDouble() >= 0 && evaluation.value(k).toDouble() <= 1);
            got.sort();
            QCOMPARE(got, keys);
            QCOMPARE(
                r.contains("seed"), r.value("group").toString() == "full" || r.value("group").toString() == "lora");
            QVERIFY(!r.value("name").toString().isEmpty());
            QVERIFY(!r.value("adapter").toString().isEmpty());
            QVERIFY(!r.value("objective").toString().isEmpty());
            for (const char* k : { "target_loss", "reference_delta_loss", "distinct_2", "trainable_share" })
                QVERIFY2(r.value(k).isDouble() && std::isfinite(r.value(k).toDouble()), k);
            QVERIFY(r.value("target_loss").toDouble() > 0);
            QVERIFY(r.value("distinct_2").toDouble() >= 0 && r.value("distinct_2").toDouble() <= 1);
            QVERIFY(r.value("trainable_share").toDouble() > 0 && r.value("trainable_share").toDouble() <= 1);
        }
        // Every training preset has its row, with the adapter and objective its file names.
        for (const char* name : { "full", "full_seed2", "full_seed3", "lora", "hft", "dpo", "prompt_tuning",
                 "prefix_tuning", "lora_seed2", "lora_seed3" })
            QVERIFY2(!rowNamed(runs, name).isEmpty(), name);
        QCOMPARE(rowNamed(runs, "full").value("adapter").toString(), QString("full"));
        QCOMPARE(rowNamed(runs, "lora").value("adapter").toString(), QString("lora"));
        QCOMPARE(rowNamed(runs, "dpo").value("objective").toString(), QString("dpo"));
        QCOMPARE(rowNamed(runs, "lora").value("objective").toString(), QString("sft"));
        // Full fine-tuning trains everything; the others a part, prompt tuning the least.
        QCOMPARE(rowNamed(runs, "full").value("trainable_share").toDouble(), 1.0);
        const double lora = rowNamed(runs, "lora").value("trainable_share").toDouble();
        const double prompt = rowNamed(runs, "prompt_tuning").value("trainable_share").toDouble();
        QVERIFY(lora < 1.0);
        QVERIFY(prompt < lora);
        // Full fine-tuning changed the model: its reference loss moved.
        QVERIFY(rowNamed(runs, "full").value("reference_delta_loss").toDouble() != 0.0);

        // The readable table follows, with a row per run.
        QVERIFY(m_first.out.contains("target_loss"));
        QVERIFY(m_first.out.contains("prefix_tuning"));
        QVERIFY(m_first.err.contains("pretraining a Llama"));
    }

    // full and lora ran over three seeds: the line summarises each group and compares the two.
    void seedGroupsInTheLine()
    {
        const QJsonObject line = lineOf(m_first);
        const QJsonArray groups = line.value("groups").toArray();
        QCOMPARE(groups.size(), 2);
        QCOMPARE(groups[0].toObject().value("name").toString(), QString("full"));
        QCOMPARE(groups[1].toObject().value("name").toString(), QString("lora"));
        for (const auto& g : groups) {
            const QJsonObject loss = g.toObject().value("metrics").toObject().value("target_loss").toObject();
            QCOMPARE(loss.value("n").toInt(), 3);
            const QJsonArray ci = loss.value("ci95").toArray();
            QVERIFY(ci[0].toDouble() <= loss.value("mean").toDouble());
            QVERIFY(loss.value("mean").toDouble() <= ci[1].toDouble());
        }
        const QJsonObject test = line.value("comparisons")
                                     .toArray()[0]
                                     .toObject()
                                     .value("metrics")
                                     .toObject()
                                     .value("reference_delta_loss")
                                     .toObject();
        QCOMPARE(test.value("test").toString(), QString("paired"));
        QVERIFY(test.value("p").isDouble() || test.value("p").isNull());
        QVERIFY(m_first.out.contains("Across seeds"));

        // Each group is recorded as a sweep of one point over its seeds, so `sweep show` gives its statistics.
        tunebench::Workspace ws = tunebench::Workspace::open(m_ws.toStdString());
        const tunebench::RunStore runStore(ws.db());
        for (const auto& g : groups) {
            const QString name = g.toObject().value("name").toString();
            std::optional<std::int64_t> sweep;
            for (const tunebench::SweepRecord& r : tunebench::SweepStore(ws.db()).list()) {
                if (r.name == "demo-" + name.toStdString())
                    sweep = r.id;
            }
            QVERIFY2(sweep, qPrintable(name));
            const auto links = tunebench::SweepStore(ws.db()).runs(*sweep);
            QCOMPARE(links.size(), std::size_t { 3 });
            QStringList runNames;
            for (const auto& link : links)
                runNames << QString::fromStdString(runStore.find(link.runId)->name);
            QCOMPARE(runNames, (QStringList { "demo-" + name, "demo-" + name + "_seed2", "demo-" + name + "_seed3" }));
            QProcess show;
            show.start(TUNEBENCH_CLI, { "sweep", "show", QString::number(*sweep), "--workspace", m_ws });
            QVERIFY(show.waitForFinished(60000));
            const QJsonObject shown = QJsonDocument::fromJson(show.readAllStandardOutput()).object();
            const QJsonObject loss = shown.value("points")
                                         .toArray()[0]
                                         .toObject()
                                         .value("metrics")
                                         .toObject()
                                         .value("demo/target_loss")
                                         .toObject();
            QCOMPARE(loss.value("n").toInt(), 3);
            const double mean
                = g.toObject().value("metrics").toObject().value("target_loss").toObject().value("mean").toDouble();
            QVERIFY2(std::abs(loss.value("mean").toDouble() - mean) < 1e-9, qPrintable(show.readAllStandardError()));
        }
    }

    // The demo's measures are also metrics of each run (what the Compare page's scatter and reports read).
    void measuresAreRunMetrics()
    {
        const QJsonObject full = rowNamed(runsOf(m_first), "full");
        QVERIFY(!full.isEmpty());
        tunebench::Workspace ws = tunebench::Workspace::open(m_ws.toStdString());
        std::optional<std::int64_t> id;
        for (const tunebench::RunRecord& r : tunebench::RunStore(ws.db()).list()) {
            if (r.name == "demo-full")
                id = r.id;
        }
        QVERIFY(id);
        const tunebench::MetricQuery query(ws.db());
        const auto delta = query.series(*id, "forgetting/delta_loss");
        QVERIFY(!delta.empty());
        QCOMPARE(delta.back().value, full.value("reference_delta_loss").toDouble());
        const auto target = query.series(*id, "demo/target_loss");
        QVERIFY(!target.empty());
        QCOMPARE(target.back().value, full.value("target_loss").toDouble());
        QCOMPARE(query.series(*id, "diversity/distinct_2").back().value, full.value("distinct_2").toDouble());
        // The demo model's evaluation is cached in the form `evaluate --run` reads back, so it is computed once,
        // not again for every run.
        const QDir cache(m_ws + "/cache/evaluation");
        const QStringList entries = cache.entryList({ "*.json" }, QDir::Files);
        QVERIFY2(!entries.isEmpty(), qPrintable(cache.path()));
        for (const QString& e : entries) {
            const QString key = e.chopped(5);
            QVERIFY2(tunebench::loadCachedEvaluation(m_ws.toStdString(), key.toStdString()), qPrintable(e));
        }
    }

    // QLoRA's row beside LoRA's: the same settings with nf4 base weights, under a fifth of their float32 memory.
    void qloraRow()
    {
        const QJsonArray runs = runsOf(m_first);
        const QJsonObject qlora = rowNamed(runs, "qlora");
        const QJsonObject lora = rowNamed(runs, "lora");
        QVERIFY(!qlora.isEmpty() && !lora.isEmpty());
        QCOMPARE(qlora.value("quantize_base").toString(), QString("nf4"));
        QCOMPARE(qlora.value("trainable_share").toDouble(), lora.value("trainable_share").toDouble());
        const double quantised = qlora.value("base_weight_mib").toDouble();
        const double full = lora.value("base_weight_mib").toDouble();
        qInfo() << "base weights MiB: lora" << full << "qlora" << quantised << "target_loss: lora"
                << lora.value("target_loss").toDouble() << "qlora" << qlora.value("target_loss").toDouble();
        QVERIFY(quantised > 0 && full > 0);
        // The embeddings stay float32, so the whole base shrinks less than the quantised layers' 1/7.
        QVERIFY2(quantised < 0.6 * full, qPrintable(QString("%1 of %2").arg(quantised).arg(full)));
        QVERIFY(std::isfinite(qlora.value("target_loss").toDouble()));
        QVERIFY(m_first.out.contains("nf4"));
    }

    // The GRPO preset trains on the sums with its rewards and records them per step.
    void grpoRecordsRewards()
    {
        const QJsonObject grpo = rowNamed(runsOf(m_first), "grpo");
        QVERIFY(!grpo.isEmpty());
        QCOMPARE(grpo.value("objective").toString(), QString("grpo"));
        for (const char* key : { "reward_mean", "group_distinct_2" }) {
            const QJsonObject v = grpo.value(key).toObject();
            for (const char* end : { "before", "after" }) {
                QVERIFY2(v.value(end).isDouble(), key);
                QVERIFY(v.value(end).toDouble() >= 0 && v.value(end).toDouble() <= 1.2);
            }
        }
        qInfo() << "grpo (quick) reward_mean" << grpo.value("reward_mean").toObject() << "group distinct_2"
                << grpo.value("group_distinct_2").toObject();
        tunebench::Workspace ws = tunebench::Workspace::open(m_ws.toStdString());
        tunebench::RunStore store(ws.db());
        std::optional<std::int64_t> id;
        for (const auto& r : store.list()) {
            if (r.name == "demo-grpo")
                id = r.id;
        }
        QVERIFY(id);
        tunebench::MetricQuery query(ws.db());
        for (const char* metric : { "reward_mean", "rewards/numeric", "rewards/regex", "distinct_2" })
            QVERIFY2(!query.series(*id, metric).empty(), metric);
        QVERIFY(m_first.out.contains("GRPO: reward"));
    }

    // The two-stage pipeline: a workspace pipeline whose matrix has the demo model's row and one per stage,
    // a column per stage, with its measures; `pipeline show` prints it.
    void pipelineMatrix()
    {
        const QJsonObject p = lineOf(m_first).value("pipeline").toObject();
        QVERIFY2(!p.isEmpty(), qPrintable(m_first.out.left(2000)));
        QCOMPARE(p.value("stages").toArray().toVariantList(), (QVariantList { "facts", "cards" }));
        QCOMPARE(p.value("columns").toArray().size(), 2);
        const QJsonArray matrix = p.value("matrix").toArray();
        QCOMPARE(matrix.size(), 3);
        for (const auto& row : matrix) {
            QCOMPARE(row.toArray().size(), 2);
            for (const auto& v : row.toArray())
                QVERIFY(v.isDouble() && v.toDouble() > 0);
        }
        QVERIFY(!p.value("measures").toArray().isEmpty());
        QVERIFY(m_first.out.contains("forgetting matrix"));
        QProcess show;
        show.start(TUNEBENCH_CLI,
            { "pipeline", "show", QString::number(p.value("id").toInt()), "--workspace", m_ws, "--json" });
        QVERIFY(show.waitForFinished(60000));
        QCOMPARE(show.exitCode(), 0);
        const QJsonObject shown = QJsonDocument::fromJson(show.readAllStandardOutput()).object();
        QVERIFY2(!shown.isEmpty(), qPrintable(show.readAllStandardError()));
        QCOMPARE(shown.value("status").toString(), QString("finished"));
    }

    void mergePresets()
    {
        const QJsonArray runs = runsOf(m_first);
        const QJsonObject lines = rowNamed(runs, "full_lines");
        const QJsonObject soup = rowNamed(runs, "lora_soup");
        QVERIFY(!lines.isEmpty());
        QVERIFY(!soup.isEmpty());
        QCOMPARE(lines.value("adapter").toString(), QString("lines"));
        QCOMPARE(soup.value("adapter").toString(), QString("soup"));
        QCOMPARE(lines.value("trainable_share").toDouble(), 1.0);
        QCOMPARE(soup.value("trainable_share").toDouble(), rowNamed(runs, "lora").value("trainable_share").toDouble());
    }

    void secondRunReusesModelAndRuns()
    {
        const QDir demoDir(m_ws + "/demo");
        const QStringList builds = demoDir.entryList({ "quick-*" }, QDir::Dirs);
        QCOMPARE(builds.size(), 1);
        const QString model = demoDir.filePath(builds.front() + "/model/model.safetensors");
        QVERIFY(QFileInfo::exists(model));
        const QDateTime before = QFileInfo(model).lastModified();

        const Outcome again = runDemo({ "--workspace", m_ws, "--quick", "--presets", kPresets, "--only", "lora" });
        QVERIFY2(again.code == 0, qPrintable(again.err.right(4000)));
        QVERIFY(again.err.contains("reusing the demo model"));
        QVERIFY(again.err.contains("lora: reusing finished run"));
        QVERIFY(!again.err.contains("pretraining a Llama"));
        QCOMPARE(QFileInfo(model).lastModified(), before);
        // `--only lora` names the group: its three seeds, all reused.
        const QJsonArray runs = runsOf(again);
        QCOMPARE(runs.size(), 3);
        for (const char* name : { "lora", "lora_seed2", "lora_seed3" }) {
            QCOMPARE(rowNamed(runs, name), rowNamed(runsOf(m_first), name));
            QVERIFY(again.err.contains(QString(name) + ": reusing finished run"));
        }
    }

    void badPresetsAreRefused()
    {
        QTemporaryDir presets;
        QFile f(presets.filePath("01_bad.yaml"));
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write("name: bad\ndemo:\n  dataset: nonsense\nadapter: {type: lora}\n");
        f.close();
        const Outcome bad
            = runDemo({ "--workspace", m_dir.filePath("ws_bad"), "--quick", "--presets", presets.path() });
        QCOMPARE(bad.code, 1);
        QVERIFY2(bad.err.contains("01_bad.yaml") && bad.err.contains("demo.dataset"), qPrintable(bad.err));
        QVERIFY(!QFileInfo::exists(m_dir.filePath("ws_bad/demo")));

        const Outcome unknown = runDemo({ "--workspace", m_ws, "--quick", "--presets", kPresets, "--only", "nosuch" });
        QCOMPARE(unknown.code, 1);
        QVERIFY2(unknown.err.contains("nosuch") && unknown.err.contains("prefix_tuning"), qPrintable(unknown.err));
    }
};

QTEST_GUILESS_MAIN(TestDemo)
#include "test_demo.moc"
