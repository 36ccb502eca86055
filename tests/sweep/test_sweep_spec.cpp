// Sweep files without training: grid and random expansion (counts, order, reproducible draws), dotted keys
// set in a run configuration, bad files refused with the file and key named, the early-stopping rules on
// hand-made curves, the store's sweep tables (schema step 3) and `sweep show`'s statistics on hand-written
// metrics against values worked out by hand.

#include "core/method/plugin_registry.h"
#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/early_stopping.h"
#include "core/sweep/sweep_spec.h"
#include "core/sweep/sweep_store.h"
#include "core/sweep/sweep_summary.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// The documented generator, written out again: SplitMix64 and u = top 53 bits / 2^53.
double splitMixUnit(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / 9007199254740992.0;
}

} // namespace

class TestSweepSpec : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    PluginRegistry m_plugins;
    fs::path m_root;

    fs::path write(const std::string& name, const std::string& text)
    {
        const fs::path p = m_root / name;
        std::ofstream(p) << text;
        return p;
    }

    // A sweep file around a valid base (relative paths: the sweep file's neighbours).
    std::string sweepText(const std::string& rest)
    {
        return "base:\n  model: model\n  dataset: data.jsonl\n  adapter: {type: lora, r: 4}\n"
               "  training: {learning_rate: 0.01, max_steps: 3}\n"
            + rest;
    }

    SweepSpec read(const std::string& name, const std::string& text) { return SweepSpec::readFile(write(name, text)); }

private Q_SLOTS:
    void initTestCase()
    {
        m_root = m_dir.path().toStdString();
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        fs::create_directories(m_root / "model");
        std::ofstream(m_root / "data.jsonl") << "{\"text\": \"a\"}\n";
    }

    void gridExpansion()
    {
        const SweepSpec s = read("grid.yaml",
            sweepText("grid:\n  training.learning_rate: [1.0e-4, 3.0e-4]\n  adapter.r: [4, 8, 16]\nseeds: [1, 2]\n"));
        const auto points = expandPoints(s);
        QCOMPARE(points.size(), std::size_t(6));
        // Keys sorted (adapter.r before training.learning_rate), the last one changing fastest.
        const std::vector<std::pair<int, double>> order
            = { { 4, 1e-4 }, { 4, 3e-4 }, { 8, 1e-4 }, { 8, 3e-4 }, { 16, 1e-4 }, { 16, 3e-4 } };
        for (std::size_t i = 0; i < points.size(); ++i) {
            QCOMPARE(points[i].index, i);
            QCOMPARE(points[i].params["adapter.r"].get<int>(), order[i].first);
            QCOMPARE(points[i].params["training.learning_rate"].get<double>(), order[i].second);
        }
        const auto runs = expandRuns(s, m_plugins);
        QCOMPARE(runs.size(), std::size_t(12));
        for (std::size_t i = 0; i < runs.size(); ++i) {
            QCOMPARE(runs[i].pointIndex, i / 2);
            QCOMPARE(runs[i].seedIndex, i % 2);
            QCOMPARE(runs[i].seed.value_or(0), std::uint64_t(i % 2 + 1));
            QCOMPARE(runs[i].config["seed"].get<std::uint64_t>(), std::uint64_t(i % 2 + 1));
            QCOMPARE(runs[i].config["r"].get<int>(), order[i / 2].first);
            QCOMPARE(runs[i].config["learning_rate"].get<double>(), order[i / 2].second);
            QCOMPARE(runs[i].config["max_steps"].get<int>(), 3);
            // Relative paths are the sweep file's neighbours.
            QCOMPARE(QString::fromStdString(runs[i].config["dataset"].get<std::string>()),
                QString::fromStdString((m_root / "data.jsonl").string()));
        }
        // The same file reads to the same canonical form: what a resumed sweep is found by.
        QCOMPARE(
            read("grid2.yaml",
                sweepText("name: grid\ngrid:\n  adapter.r: [4, 8, 16]\n  training.learning_rate: [1.0e-4, 3.0e-4]\n"
                          "seeds: [1, 2]\n"))
                .canonicalJson(),
            s.canonicalJson());
    }

    // A sweep file named relative to the working folder: its paths still become absolute, since each
    // worker runs in its own run folder (they were left relative to the working folder).
    void relativeFile()
    {
        write("rel.yaml", sweepText(""));
        const fs::path before = fs::current_path();
        fs::current_path(m_root);
        const SweepSpec s = SweepSpec::readFile("rel.yaml");
        fs::current_path(before);
        const auto runs = expandRuns(s, m_plugins);
        QCOMPARE(QString::fromStdString(runs[0].config["dataset"].get<std::string>()),
            QString::fromStdString((m_root / "data.jsonl").string()));
        QCOMPARE(QString::fromStdString(runs[0].config["model"].get<std::string>()),
            QString::fromStdString((m_root / "model").string()));
    }

    void noGridIsOnePoint()
    {
        const SweepSpec s = read("plain.yaml", sweepText(""));
        QCOMPARE(expandPoints(s).size(), std::size_t(1));
        const auto runs = expandRuns(s, m_plugins);
        QCOMPARE(runs.size(), std::size_t(1));
        QVERIFY(!runs[0].seed);
        QCOMPARE(runs[0].config["seed"].get<int>(), 42); // the trainer's default, untouched
    }

    void randomExpansion()
    {
        const std::string random = "random:\n"
                                   "  training.learning_rate: {distribution: log_uniform, low: 1.0e-5, high: 1.0e-2}\n"
                                   "  adapter.r: {distribution: uniform, low: 2, high: 9}\n"
                                   "  adapter.lora_dropout: {distribution: choice, values: [0.0, 0.1, 0.2]}\n"
                                   "  training.weight_decay: {distribution: uniform, low: 0.0, high: 0.5}\n"
                                   "trials: 40\n";
        const SweepSpec a = read("r7.yaml", sweepText(random + "seed: 7\n"));
        const SweepSpec b = read("r7b.yaml", sweepText(random + "seed: 7\n"));
        const SweepSpec c = read("r8.yaml", sweepText(random + "seed: 8\n"));
        const auto pa = expandPoints(a), pb = expandPoints(b), pc = expandPoints(c);
        QCOMPARE(pa.size(), std::size_t(40));
        int same = 0;
        for (std::size_t i = 0; i < pa.size(); ++i) {
            QCOMPARE(pa[i].params, pb[i].params); // reproducible
            same += pa[i].params == pc[i].params;
            const double lr = pa[i].params["training.learning_rate"].get<double>();
            QVERIFY2(lr >= 1e-5 && lr <= 1e-2, qPrintable(QString::number(lr)));
            QVERIFY(pa[i].params["adapter.r"].is_number_integer());
            const int r = pa[i].params["adapter.r"].get<int>();
            QVERIFY(r >= 2 && r <= 9);
            const double d = pa[i].params["adapter.lora_dropout"].get<double>();
            QVERIFY(d == 0.0 || d == 0.1 || d == 0.2);
            const double wd = pa[i].params["training.weight_decay"].get<double>();
            QVERIFY(wd >= 0 && wd < 0.5);
        }
        QCOMPARE(same, 0); // another seed, other draws
        // The draws are the documented ones: trial by trial, keys sorted (adapter.lora_dropout, adapter.r,
        // training.learning_rate, training.weight_decay).
        std::uint64_t state = 7;
        for (std::size_t i = 0; i < 3; ++i) {
            const double u0 = splitMixUnit(state), u1 = splitMixUnit(state), u2 = splitMixUnit(state),
                         u3 = splitMixUnit(state);
            const double dropouts[] = { 0.0, 0.1, 0.2 };
            QCOMPARE(pa[i].params["adapter.lora_dropout"].get<double>(), dropouts[int(u0 * 3)]);
            QCOMPARE(pa[i].params["adapter.r"].get<int>(), 2 + int(std::floor(u1 * 8)));
            QCOMPARE(pa[i].params["training.learning_rate"].get<double>(),
                std::exp(std::log(1e-5) + u2 * (std::log(1e-2) - std::log(1e-5))));
            QCOMPARE(pa[i].params["training.weight_decay"].get<double>(), 0.5 * u3);
        }
        // Grid x random: every grid combination with the same trials.
        const SweepSpec g = read("gr.yaml",
            sweepText(
                "grid:\n  adapter.r: [4, 8]\nrandom:\n  training.learning_rate: {distribution: uniform, low: 0.001, "
                "high: 0.01}\ntrials: 3\nseed: 1\n"));
        const auto pg = expandPoints(g);
        QCOMPARE(pg.size(), std::size_t(6));
        for (std::size_t i = 0; i < 3; ++i) {
            QCOMPARE(pg[i].params["adapter.r"].get<int>(), 4);
            QCOMPARE(pg[i + 3].params["adapter.r"].get<int>(), 8);
            QCOMPARE(pg[i].params["training.learning_rate"], pg[i + 3].params["training.learning_rate"]);
        }
        QCOMPARE(expandRuns(g, m_plugins).size(), std::size_t(6));
    }

    void dottedKeys_data()
    {
        QTest::addColumn<QString>("base");
        QTest::addColumn<QString>("key");
        QTest::addColumn<QString>("expected");
        QTest::newRow("into its section") << R"({"training": {"seed": 1}})"
                                          << "training.learning_rate"
                                          << R"({"training":{"learning_rate":2,"seed":1}})";
        QTest::newRow("replaced where it is") << R"({"learning_rate": 1, "training": {}})"
                                              << "training.learning_rate"
                                              << R"({"learning_rate":2,"training":{}})";
        QTest::newRow("flat base") << R"({"adapter": "lora"})"
                                   << "adapter.r"
                                   << R"({"adapter":"lora","r":2})";
        QTest::newRow("adapter section") << R"({"adapter": {"type": "lora", "r": 8}})"
                                         << "adapter.r"
                                         << R"({"adapter":{"r":2,"type":"lora"}})";
        QTest::newRow("plugin in its section") << R"({"adapter": {"type": "lora"}})"
                                               << "adapter.type"
                                               << R"({"adapter":{"type":2}})";
        QTest::newRow("plugin flat") << R"({"adapter": "lora"})"
                                     << "adapter.type"
                                     << R"({"adapter":2})";
        QTest::newRow("plain key") << R"({})"
                                   << "max_steps"
                                   << R"({"max_steps":2})";
    }

    void dottedKeys()
    {
        QFETCH(QString, base);
        QFETCH(QString, key);
        QFETCH(QString, expected);
        json config = json::parse(base.toStdString());
        setDottedKey(config, key.toStdString(), 2, "s.yaml");
        QCOMPARE(QString::fromStdString(config.dump()), expected);
    }

    void badFilesRefused_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("expected"); // each must be in the message
        const QString ok = QString::fromStdString(sweepText(""));
        QTest::newRow("unknown run key") << ok + "grid:\n  training.lerning_rate: [0.1]\n"
                                         << QStringList { "bad.yaml", "training.lerning_rate",
                                                "not a run configuration key" };
        QTest::newRow("unknown adapter key") << ok + "grid:\n  adapter.rank: [4]\n"
                                             << QStringList { "bad.yaml", "adapter.rank" };
        QTest::newRow("wrong type") << ok + "grid:\n  training.learning_rate: [fast]\n"
                                    << QStringList { "bad.yaml", "point 0", "learning_rate" };
        QTest::newRow("out of range") << ok + "grid:\n  adapter.r: [0]\n" << QStringList { "bad.yaml", "point 0", "r" };
        QTest::newRow("grid not a list") << ok + "grid:\n  adapter.r: 4\n"
                                         << QStringList { "bad.yaml", "grid.adapter.r", "non-empty list" };
        QTest::newRow("unknown section") << ok + "grid:\n  model_cfg.r: [4]\n"
                                         << QStringList { "bad.yaml", "grid.model_cfg.r", "SECTION" };
        QTest::newRow("unknown top key") << ok + "grids: {}\n" << QStringList { "bad.yaml", "grids", "unknown key" };
        QTest::newRow("random without trials")
            << ok + "random:\n  adapter.r: {distribution: uniform, low: 1, high: 4}\n"
            << QStringList { "bad.yaml", "trials" };
        QTest::newRow("log_uniform at 0")
            << ok + "random:\n  training.learning_rate: {distribution: log_uniform, low: 0, high: 1}\ntrials: 2\n"
            << QStringList { "bad.yaml", "random.training.learning_rate.low", "above 0" };
        QTest::newRow("unknown distribution")
            << ok + "random:\n  adapter.r: {distribution: normal, low: 1, high: 4}\ntrials: 2\n"
            << QStringList { "bad.yaml", "random.adapter.r.distribution", "normal" };
        QTest::newRow("set twice") << ok
                + "grid:\n  adapter.r: [4]\nrandom:\n  adapter.r: {distribution: choice, "
                  "values: [4]}\ntrials: 1\n"
                                   << QStringList { "bad.yaml", "random.adapter.r", "another" };
        QTest::newRow("seed twice") << ok + "grid:\n  training.seed: [1]\nseeds: [1, 2]\n"
                                    << QStringList { "bad.yaml", "seeds" };
        QTest::newRow("repeated seed") << ok + "seeds: [1, 1]\n" << QStringList { "bad.yaml", "seeds", "twice" };
        QTest::newRow("bad direction") << ok + "direction: down\n" << QStringList { "bad.yaml", "direction", "min" };
        QTest::newRow("early steps falling") << ok + "early_stopping: {rule: median, steps: [4, 2]}\n"
                                             << QStringList { "bad.yaml", "early_stopping.steps", "rise" };
        QTest::newRow("early rule") << ok + "early_stopping: {rule: hyperband, steps: [4]}\n"
                                    << QStringList { "bad.yaml", "early_stopping.rule", "hyperband" };
        QTest::newRow("no base") << "grid:\n  adapter.r: [4]\n" << QStringList { "bad.yaml", "base", "required" };
        QTest::newRow("missing base file") << "base: nowhere.yaml\n"
                                           << QStringList { "bad.yaml", "base", "nowhere.yaml" };
        QTest::newRow("not a mapping") << "- 1\n- 2\n" << QStringList { "bad.yaml", "mapping" };
        QTest::newRow("too many runs") << ok
                + "grid:\n  adapter.r: [1,2,3,4,5,6,7,8,9,10]\n  training.seed: "
                  "[1,2,3,4,5,6,7,8,9,10]\n  training.max_steps: [1,2,3,4,5,6,7,8,9,10]\n"
                  "  training.warmup_steps: [1,2,3,4,5,6,7,8,9,10,11]\n"
                                       << QStringList { "bad.yaml", "more than 10000 runs" };
        QTest::newRow("yaml syntax") << "base: {model: [\n" << QStringList { "bad.yaml:" };
    }

    void badFilesRefused()
    {
        QFETCH(QString, text);
        QFETCH(QStringList, expected);
        QString message;
        try {
            const SweepSpec s = read("bad.yaml", text.toStdString());
            expandRuns(s, m_plugins);
        } catch (const InputError& e) {
            message = QString::fromStdString(e.what());
        }
        QVERIFY2(!message.isEmpty(), "accepted");
        for (const QString& part : expected)
            QVERIFY2(message.contains(part), qPrintable(message));
    }

    void baseFromFile()
    {
        fs::create_directories(m_root / "runs");
        std::ofstream(m_root / "runs" / "run.yaml")
            << "model: ../model\ndataset: ../data.jsonl\nadapter: lora\nmax_steps: 2\n";
        const SweepSpec s = read("fromfile.yaml", "base: runs/run.yaml\ngrid:\n  adapter.r: [2, 3]\n");
        const auto runs = expandRuns(s, m_plugins);
        QCOMPARE(runs.size(), std::size_t(2));
        QCOMPARE(runs[1].config["r"].get<int>(), 3);
        QCOMPARE(QString::fromStdString(runs[1].config["model"].get<std::string>()),
            QString::fromStdString((m_root / "model").string()));
    }

    void earlyStoppingRules_data()
    {
        QTest::addColumn<QString>("rule");
        QTest::addColumn<QString>("curves"); // [[run, active, [[step, value], ...]], ...]
        QTest::addColumn<QString>("stopped");
        // At step 4 run 1 has 3.0 (its value at step 3), the others 1.0, 2.0, 2.5: median 2.0, worse: stopped.
        QTest::newRow("median stops the worse")
            << "median"
            << "[[1,true,[[3,3.0],[5,2.9]]],[2,false,[[4,1.0]]],[3,false,[[4,2.0]]],[4,true,[[4,2.5]]]]"
            << "[1,4]";
        // Run 4 at 1.5 against 1.0, 2.0 and 3.0 (median 2.0): better, kept.
        QTest::newRow("median keeps the better")
            << "median"
            << "[[1,false,[[4,3.0]]],[2,false,[[4,1.0]]],[3,false,[[4,2.0]]],[4,true,[[4,1.5]]]]"
            << "[]";
        QTest::newRow("median waits for min_runs") << "median"
                                                   << "[[1,true,[[4,9.0]]],[2,false,[[4,1.0]]],[3,false,[[4,2.0]]]]"
                                                   << "[]";
        QTest::newRow("median waits for the step")
            << "median"
            << "[[1,true,[[3,9.0]]],[2,false,[[4,1.0]]],[3,false,[[4,2.0]]],[4,false,[[4,2.0]]]]"
            << "[]";
        QTest::newRow("median: NaN is worst")
            << "median"
            << "[[1,true,[[4,NaN]]],[2,false,[[4,1.0]]],[3,false,[[4,2.0]]],[4,false,[[4,2.5]]]]"
            << "[1]";
        // 4 runs at step 4, factor 2: the best 2 continue.
        QTest::newRow("halving keeps the top half")
            << "successive_halving"
            << "[[1,true,[[4,1.0]]],[2,true,[[4,4.0]]],[3,true,[[4,2.0]]],[4,true,[[4,3.0]]]]"
            << "[2,4]";
    }

    void earlyStoppingRules()
    {
        QFETCH(QString, rule);
        QFETCH(QString, curves);
        QFETCH(QString, stopped);
        SweepEarlyStopping es;
        es.rule = rule == "median" ? SweepEarlyStopping::Rule::Median : SweepEarlyStopping::Rule::SuccessiveHalving;
        es.steps = { 4 };
        es.minRuns = 3;
        std::vector<SweepCurve> cs;
        for (const json& c : json::parse(curves.replace("NaN", "null").toStdString())) {
            SweepCurve curve;
            curve.runId = c[0];
            curve.active = c[1];
            for (const json& v : c[2])
                curve.values.emplace_back(v[0].get<std::int64_t>(),
                    v[1].is_null() ? std::numeric_limits<double>::quiet_NaN() : v[1].get<double>());
            cs.push_back(curve);
        }
        std::set<std::pair<std::int64_t, std::int64_t>> judged;
        auto stop = runsToStop(es, cs, judged);
        std::sort(stop.begin(), stop.end());
        QCOMPARE(QString::fromStdString(json(stop).dump()), stopped);
        // Judged once: asked again, nothing more is stopped.
        QVERIFY(runsToStop(es, cs, judged).empty());
    }

    // Schema step 3: a sweep's points and run links; deleting a run takes its link along, deleting a sweep its
    // points and links (the runs stay). Then `sweep show`'s numbers on metrics written by hand.
    void storeAndSummary()
    {
        Workspace ws = Workspace::create(m_root / "ws");
        RunStore runs(ws.db());
        SweepStore sweeps(ws.db());
        const SweepSpec s = read("store.yaml", sweepText("grid:\n  adapter.r: [4, 8]\nseeds: [1, 2, 3]\n"));
        const auto points = expandPoints(s);
        const std::string canonical = s.canonicalJson().dump();
        const std::int64_t id = sweeps.create(s.name, s.file.string(), canonical, points);
        QCOMPARE(sweeps.findByConfig(canonical)->id, id);
        QVERIFY(!sweeps.findByConfig(canonical + " "));
        QCOMPARE(sweeps.points(id).size(), std::size_t(2));
        // Final eval_loss by point and seed; the earlier rows are at lower steps and must not count.
        const double finals[2][3] = { { 2.0, 2.5, 3.5 }, { 1.0, 1.25, 2.0 } };
        std::vector<std::int64_t> ids;
        for (int p = 0; p < 2; ++p) {
            for (int k = 0; k < 3; ++k) {
                NewRun n;
                n.name = "p" + std::to_string(p);
                const std::int64_t run = runs.create(n);
                ids.push_back(run);
                sweeps.link(id, run, p, k, k + 1);
                Statement st
                    = ws.db().prepare("INSERT INTO metrics (run_id, step, name, value, time) VALUES (?, ?, ?, ?, 0)");
                st.bind(1, run).bind(2, 5).bind(3, "eval_loss").bind(4, 9.0);
                st.run();
                st.reset();
                st.bind(1, run).bind(2, 10).bind(3, "eval_loss").bind(4, finals[p][k]);
                st.run();
                st.reset();
                st.bind(1, run).bind(2, 10).bind(3, "eval/acc").bind(4, 0.5 + 0.1 * k);
                st.run();
                runs.setStatus(run, RunStatus::Finished);
            }
        }
        // A third run of point 1 stopped early is listed, not counted.
        sweeps.markStoppedEarly(ids[5]);
        const json summary = sweepSummary(ws.db(), id);
        QCOMPARE(summary["metric"].get<std::string>(), std::string("eval_loss"));
        const json& p0 = summary["points"][0]["metrics"]["eval_loss"];
        QCOMPARE(p0["n"].get<int>(), 3);
        // mean 8/3; sample variance ((2-8/3)^2 + (2.5-8/3)^2 + (3.5-8/3)^2) / 2 = 7/12; t(0.975, 2) = 4.302652729749462
        // (scipy.stats.t.ppf).
        const double mean = 8.0 / 3, sd = std::sqrt(7.0 / 12), half = 4.302652729749462 * sd / std::sqrt(3.0);
        QVERIFY(std::abs(p0["mean"].get<double>() - mean) < 1e-12);
        QVERIFY(std::abs(p0["std"].get<double>() - sd) < 1e-12);
        QVERIFY2(std::abs(p0["ci95"][0].get<double>() - (mean - half)) < 1e-9,
            qPrintable(QString::fromStdString(p0.dump())));
        QVERIFY(std::abs(p0["ci95"][1].get<double>() - (mean + half)) < 1e-9);
        const json& acc = summary["points"][0]["metrics"]["eval/acc"];
        QVERIFY(std::abs(acc["mean"].get<double>() - 0.6) < 1e-12);
        const json& p1 = summary["points"][1];
        QCOMPARE(p1["runs"].size(), std::size_t(3));
        QCOMPARE(p1["stopped_early"], json::array({ ids[5] }));
        QCOMPARE(p1["metrics"]["eval_loss"]["n"].get<int>(), 2);
        // n = 2: mean 1.125, std 0.1767767; t(0.975, 1) = 12.706204736174694.
        QVERIFY(std::abs(p1["metrics"]["eval_loss"]["ci95"][1].get<double>()
                    - (1.125 + 12.706204736174694 * std::sqrt(0.03125) / std::sqrt(2.0)))
            < 1e-8);
        QCOMPARE(summary["best"]["index"].get<int>(), 1);
        QCOMPARE(summary["best"]["params"]["adapter.r"].get<int>(), 8);
        QCOMPARE(summary["best"]["value"].get<double>(), 1.125);

        QVERIFY(runs.remove(ids[0]));
        QCOMPARE(sweeps.runs(id).size(), std::size_t(5));
        QVERIFY(!sweeps.sweepOf(ids[0]));
        ws.db().exec("DELETE FROM sweeps WHERE id = " + std::to_string(id));
        Statement count = ws.db().prepare("SELECT (SELECT COUNT(*) FROM sweep_points), (SELECT COUNT(*) FROM "
                                          "sweep_runs), (SELECT COUNT(*) FROM runs)");
        QVERIFY(count.step());
        QCOMPARE(count.int64(0), 0);
        QCOMPARE(count.int64(1), 0);
        QCOMPARE(count.int64(2), 5);
    }
};

QTEST_GUILESS_MAIN(TestSweepSpec)
#include "test_sweep_spec.moc"
