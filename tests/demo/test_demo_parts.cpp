// The demo's parts that need no model: presets (the bundled ones load; a merge
// preset's args become merge parameters; bad presets are refused naming the
// file and field; --only takes the presets a wanted one needs), the run
// manifest (a run is reused only with the same inputs while it is finished,
// measures only under their key), the result table, and the evaluation tasks
// generated from the demo world.

#include "core/demo/demo_presets.h"
#include "core/demo/demo_result.h"
#include "core/demo/demo_runs.h"
#include "core/demo/demo_world.h"
#include "core/evaluation/eval_tasks.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

using namespace tunebench;
using namespace tunebench::demo;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

const fs::path kPresets = fs::path(TUNEBENCH_SOURCE_DIR) / "resources" / "demo";

fs::path writeFile(const QTemporaryDir& dir, const std::string& name, const std::string& text)
{
    const fs::path path = fs::path(dir.path().toStdString()) / name;
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

QStringList namesOf(const std::vector<const Preset*>& presets)
{
    QStringList out;
    for (const Preset* p : presets)
        out << QString::fromStdString(p->name);
    return out;
}

} // namespace

class TestDemoParts : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void evaluationTasksFromTheWorld()
    {
        QTemporaryDir a, b, c;
        WorldSizes sizes;
        sizes.people = 12;
        const DemoWorld world(7, sizes);
        const fs::path tasksA = writeEvaluationTasks(world, a.path().toStdString());
        const fs::path tasksB = writeEvaluationTasks(DemoWorld(7, sizes), b.path().toStdString());
        writeEvaluationTasks(DemoWorld(8, sizes), c.path().toStdString());
        auto bytes = [](const fs::path& path) {
            std::ifstream in(path, std::ios::binary);
            std::stringstream s;
            s << in.rdbuf();
            return s.str();
        };
        for (const char* name : { "eval_tasks.yaml", "eval_facts.jsonl", "eval_sums.jsonl" }) {
            QCOMPARE(bytes(fs::path(a.path().toStdString()) / name), bytes(fs::path(b.path().toStdString()) / name));
        }
        QVERIFY(bytes(fs::path(a.path().toStdString()) / "eval_facts.jsonl")
            != bytes(fs::path(c.path().toStdString()) / "eval_facts.jsonl"));

        const EvalTaskFile file = EvalTaskFile::load(tasksA);
        QCOMPARE(file.tasks.size(), 2u);
        const EvalTask& facts = file.tasks[0];
        QCOMPARE(facts.name, std::string("facts"));
        QVERIFY(facts.kind == EvalTaskKind::MultipleChoice);
        QCOMPARE(facts.records.size(), 12u);
        std::set<int> goldPlaces;
        for (std::size_t i = 0; i < facts.records.size(); ++i) {
            const EvalRecord& r = facts.records[i];
            QCOMPARE(r.prompt, world.people()[i].name + " lives in");
            QCOMPARE(r.choices.size(), 4u);
            QCOMPARE(std::set<std::string>(r.choices.begin(), r.choices.end()).size(), 4u);
            QCOMPARE(r.choices[static_cast<std::size_t>(r.gold)], world.people()[i].city);
            goldPlaces.insert(r.gold);
        }
        QVERIFY(goldPlaces.size() > 1); // shuffled: the right city is not always first
        const EvalTask& sums = file.tasks[1];
        QVERIFY(sums.kind == EvalTaskKind::Generation);
        QVERIFY(sums.numericCompare);
        QCOMPARE(sums.records.size(), 32u);
        const std::regex sum("([0-9]+) plus ([0-9]+) is");
        for (const EvalRecord& r : sums.records) {
            std::smatch m;
            QVERIFY(std::regex_match(r.prompt, m, sum));
            QCOMPARE(r.answer, std::to_string(std::stoi(m[1]) + std::stoi(m[2])));
            // The demo model's continuation " 19." is read as 19.
            const auto got = extractAnswer(" " + r.answer, sums.regex, sums.groupSelect);
            QVERIFY(got && answerMatches(*got, r.answer, true, sums.tolerance));
        }
        QCOMPARE(sums.until, (std::vector<std::string> { ".", "\n" }));
    }

    void bundledPresetsLoad()
    {
        const std::vector<Preset> presets = loadPresets(kPresets);
        QCOMPARE(presets.size(), std::size_t { 10 });
        const auto soup
            = std::find_if(presets.begin(), presets.end(), [](const Preset& p) { return p.name == "lora_soup"; });
        QVERIFY(soup != presets.end());
        QVERIFY(soup->merge);
        QCOMPARE(soup->method, std::string("soup"));
        QCOMPARE(soup->parents, (std::vector<std::string> { "lora", "lora_seed2", "lora_seed3" }));
        QCOMPARE(soup->mergeParams.dump(), std::string("{}"));
        const auto dpo = std::find_if(presets.begin(), presets.end(), [](const Preset& p) { return p.name == "dpo"; });
        QVERIFY(dpo != presets.end());
        QVERIFY(!dpo->merge);
        QCOMPARE(dpo->dataset, std::string("preference"));
        QVERIFY(!dpo->config.contains("demo"));
    }

    // demo.args holds merge flags; they become the parameters mergeRuns takes.
    void mergeArgsBecomeParameters()
    {
        QTemporaryDir dir;
        const fs::path file = writeFile(dir, "m.yaml",
            "name: m\ndemo:\n  kind: merge\n  method: ties\n  runs: [a, b]\n"
            "  args: {weights: '1,0.5', density: 0.4, scaling: '2', eval-dataset: data.jsonl}\n");
        const Preset p = loadPreset(file);
        QCOMPARE(
            p.mergeParams.dump(), json({ { "weights", { 1.0, 0.5 } }, { "density", 0.4 }, { "scaling", 2.0 } }).dump());
        QCOMPARE(p.evalDataset, std::string("data.jsonl"));
    }

    void badPresets_data()
    {
        QTest::addColumn<QString>("yaml");
        QTest::addColumn<QString>("field");
        QTest::newRow("unknown kind") << "name: x\ndemo: {kind: distill}\n"
                                      << "demo.kind";
        QTest::newRow("unknown demo key") << "name: x\ndemo: {colour: red}\n"
                                          << "demo.colour";
        QTest::newRow("bad dataset") << "name: x\ndemo: {dataset: nonsense}\n"
                                     << "demo.dataset";
        QTest::newRow("model given") << "name: x\nmodel: m\ndemo: {}\n"
                                     << "model: the demo supplies";
        QTest::newRow("unknown method") << "name: x\ndemo: {kind: merge, method: blend, runs: [a, b]}\n"
                                        << "demo.method";
        QTest::newRow("soup of one") << "name: x\ndemo: {kind: merge, method: soup, runs: [a]}\n"
                                     << "demo.runs: soup merges at least 2 runs";
        QTest::newRow("unknown flag") << "name: x\ndemo: {kind: merge, method: soup, runs: [a, b], args: {lr: 1}}\n"
                                      << "demo.args.lr: unknown merge flag";
        QTest::newRow("flag the method lacks")
            << "name: x\ndemo: {kind: merge, method: soup, runs: [a, b], args: {density: 0.5}}\n"
            << "demo.args: merge method soup takes no parameter 'density'";
        QTest::newRow("weights per run")
            << "name: x\ndemo: {kind: merge, method: soup, runs: [a, b], args: {weights: [1, 2, 3]}}\n"
            << "demo.args.weights: 3 weights for 2 runs";
        QTest::newRow("not a number") << "name: x\ndemo: {kind: merge, method: lines, runs: [a], args: {alpha: high}}\n"
                                      << "demo.args.alpha: expected a number";
        QTest::newRow("extra keys in a merge")
            << "name: x\nlearning_rate: 1\ndemo: {kind: merge, method: lines, runs: [a]}\n"
            << "a merge preset has only name and demo";
    }
    void badPresets()
    {
        QFETCH(QString, yaml);
        QFETCH(QString, field);
        QTemporaryDir dir;
        const fs::path file = writeFile(dir, "07_bad.yaml", yaml.toStdString());
        QString error;
        try {
            loadPreset(file);
        } catch (const InputError& e) {
            error = e.what();
        }
        QVERIFY2(error.contains("07_bad.yaml") && error.contains(field), qPrintable(error));
    }

    void selectTakesWhatIsNeeded_data()
    {
        QTest::addColumn<QStringList>("only");
        QTest::addColumn<QStringList>("expected");
        QTest::newRow("all") << QStringList {}
                             << QStringList { "full", "lora", "hft", "full_lines", "dpo", "prompt_tuning",
                                    "prefix_tuning", "lora_seed2", "lora_seed3", "lora_soup" };
        QTest::newRow("one") << QStringList { "lora" } << QStringList { "lora" };
        QTest::newRow("a merge and its parents")
            << QStringList { "lora_soup" } << QStringList { "lora", "lora_seed2", "lora_seed3", "lora_soup" };
        // dpo starts from lora's model (model_from).
        QTest::newRow("model_from") << QStringList { "full_lines", "dpo" }
                                    << QStringList { "full", "lora", "full_lines", "dpo" };
    }
    void selectTakesWhatIsNeeded()
    {
        QFETCH(QStringList, only);
        QFETCH(QStringList, expected);
        const std::vector<Preset> presets = loadPresets(kPresets);
        std::vector<std::string> names;
        for (const QString& n : only)
            names.push_back(n.toStdString());
        QCOMPARE(namesOf(selectPresets(presets, names)), expected);
    }

    void selectRefusesUnknownNames()
    {
        const std::vector<Preset> presets = loadPresets(kPresets);
        QString error;
        try {
            selectPresets(presets, { "lora", "nosuch" });
        } catch (const InputError& e) {
            error = e.what();
        }
        QVERIFY2(
            error.contains("--only: no preset named 'nosuch'") && error.contains("prefix_tuning"), qPrintable(error));
    }

    void manifestReusesFinishedRunsWithTheSameInputs()
    {
        QTemporaryDir dir;
        const fs::path root = dir.path().toStdString();
        Workspace ws = Workspace::create(root / "ws");
        RunStore runs(ws.db());
        const std::int64_t finished = runs.create(NewRun { "a" });
        runs.setStatus(finished, RunStatus::Finished);
        const std::int64_t failed = runs.create(NewRun { "b" });
        runs.setStatus(failed, RunStatus::Failed, "boom");
        {
            RunManifest manifest(root / "runs.json");
            manifest.recordRun("a", finished, "inputs-a");
            manifest.recordRun("b", failed, "inputs-b");
            manifest.recordMeasures("a", { { "key", "k1" }, { "target_loss", 1.5 } });
        }
        const RunManifest manifest(root / "runs.json"); // read back from the file
        QCOMPARE(manifest.reusable("a", "inputs-a", runs).value_or(0), finished);
        QVERIFY(!manifest.reusable("a", "other inputs", runs));
        QVERIFY(!manifest.reusable("b", "inputs-b", runs));
        QVERIFY(!manifest.reusable("c", "inputs-a", runs));
        QCOMPARE(manifest.runOf("b"), failed);
        QVERIFY_THROWS_EXCEPTION(Error, manifest.runOf("c"));
        QVERIFY(manifest.measures("a", "k1"));
        QCOMPARE(manifest.measures("a", "k1")->at("target_loss").get<double>(), 1.5);
        QVERIFY(!manifest.measures("a", "k2"));
        QVERIFY(!manifest.measures("b", "k1"));
    }

    void tableAndJson()
    {
        DemoResult result;
        DemoRun lora;
        lora.name = "lora";
        lora.runId = 3;
        lora.adapter = "lora";
        lora.objective = "sft";
        lora.targetLoss = 1.23456;
        lora.targetAccuracy = 0.5;
        lora.referenceDeltaLoss = -0.01;
        lora.referenceKl = 0.002;
        lora.distinct2 = 0.75;
        lora.trainableShare = 0.0123;
        lora.intruderDimensions = 2.4;
        result.runs.push_back(lora);
        const std::string expected
            = "name  run  adapter  objective  target_loss  target_acc  ref_delta_loss  ref_kl  distinct_2  trainable  "
              "intruders\n"
            + std::string(112, '-') + "\n"
            + "lora  3    lora     sft              1.235        0.50          -0.010   0.002       0.750      1.23%  "
              "        2\n";
        QCOMPARE(result.table(), expected);
        const json row
            = { { "name", "lora" }, { "adapter", "lora" }, { "objective", "sft" }, { "target_loss", 1.23456 },
                  { "reference_delta_loss", -0.01 }, { "distinct_2", 0.75 }, { "trainable_share", 0.0123 } };
        QCOMPARE(result.toJson().dump(), json({ { "runs", json::array({ row }) } }).dump());
    }
};

QTEST_GUILESS_MAIN(TestDemoParts)
#include "test_demo_parts.moc"
