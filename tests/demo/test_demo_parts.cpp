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

#include <cmath>
#include <cstdio>

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
        // 10 files; full and lora run over three seeds each.
        QCOMPARE(presets.size(), std::size_t { 14 });
        for (const char* group : { "full", "lora" }) {
            std::vector<std::int64_t> seeds;
            for (const Preset& p : presets) {
                if (p.group == group) {
                    QVERIFY(p.seed);
                    QCOMPARE(p.config["training"]["seed"].get<std::int64_t>(), *p.seed);
                    seeds.push_back(*p.seed);
                }
            }
            QCOMPARE(seeds, (std::vector<std::int64_t> { 42, 43, 44 }));
        }
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
        // QLoRA: the LoRA preset's settings with the base in nf4, right after LoRA's seeds.
        const auto qlora
            = std::find_if(presets.begin(), presets.end(), [](const Preset& p) { return p.name == "qlora"; });
        const auto lora
            = std::find_if(presets.begin(), presets.end(), [](const Preset& p) { return p.name == "lora"; });
        QVERIFY(qlora != presets.end() && lora != presets.end());
        QCOMPARE(qlora->config["adapter"]["quantize_base"].get<std::string>(), std::string("nf4"));
        json withoutQuant = qlora->config["adapter"];
        withoutQuant.erase("quantize_base");
        QCOMPARE(withoutQuant, lora->config["adapter"]);
        json loraTraining = lora->config["training"];
        QCOMPARE(qlora->config["training"], loraTraining);
        // GRPO on the sums: numeric plus a regex format reward whose pattern accepts the corpus's " 19." form.
        const auto grpo
            = std::find_if(presets.begin(), presets.end(), [](const Preset& p) { return p.name == "grpo"; });
        QVERIFY(grpo != presets.end());
        QCOMPARE(grpo->dataset, std::string("sums"));
        QCOMPARE(grpo->config["objective"]["type"].get<std::string>(), std::string("grpo"));
        const json& rewards = grpo->config["rewards"];
        QCOMPARE(rewards.size(), std::size_t { 2 });
        QCOMPARE(rewards[0]["type"].get<std::string>(), std::string("numeric"));
        QCOMPARE(rewards[1]["type"].get<std::string>(), std::string("regex"));
        const std::regex format(rewards[1]["pattern"].get<std::string>(), std::regex::ECMAScript);
        QVERIFY(std::regex_search(std::string(" 19."), format));
        QVERIFY(!std::regex_search(std::string(" nineteen."), format));
    }

    // GRPO's prompts: the answer is the prompt's sum, and none is one of the evaluation task's sums; the
    // pipeline's new facts: two wordings of one number per person, never in the corpus.
    void sumPromptsAndNewFacts()
    {
        const DemoWorld world(1234, WorldSizes {});
        std::set<std::string> evaluated;
        for (const json& r : world.sumProblems())
            evaluated.insert(r["question"].get<std::string>());
        const std::vector<json> prompts = world.sumPrompts();
        QCOMPARE(prompts.size(), std::size_t { 64 });
        std::size_t overlap = 0;
        for (const json& r : prompts) {
            int a = -1, b = -1;
            QCOMPARE(std::sscanf(r["prompt"].get<std::string>().c_str(), "%d plus %d is", &a, &b), 2);
            QCOMPARE(r["answer"].get<std::string>(), std::to_string(a + b));
            overlap += evaluated.count(r["prompt"].get<std::string>());
        }
        // Both draw from 50 x 50 sums: a few may coincide by chance, not the same list.
        QVERIFY2(overlap < 8, qPrintable(QString::number(overlap)));
        const std::vector<json> facts = world.newFacts();
        QCOMPARE(facts.size(), 2 * world.people().size());
        std::string corpus;
        for (const json& r : world.corpus())
            corpus += r["text"].get<std::string>();
        QVERIFY(corpus.find("lucky number") == std::string::npos);
        for (std::size_t i = 0; i < world.people().size(); ++i) {
            const std::string first = facts[2 * i]["text"].get<std::string>();
            const std::string second = facts[2 * i + 1]["text"].get<std::string>();
            const std::string number = first.substr(first.rfind(' ') + 1);
            QVERIFY(first.rfind(world.people()[i].name, 0) == 0);
            QVERIFY2(second.size() > number.size()
                    && second.compare(second.size() - number.size(), number.size(), number) == 0,
                qPrintable(QString::fromStdString(first + " / " + second)));
        }
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

    // demo.seeds repeats a preset once per seed; each seed's hash depends on its own seed only, so adding a
    // seed to the list leaves the runs of the others reusable.
    void seedsExpandThePreset()
    {
        QTemporaryDir dir;
        const std::string body = "name: s\ndemo:\n  seeds: SEEDS\nadapter: {type: lora}\ntraining: {seed: 1}\n";
        auto presetsWith = [&](const std::string& seeds) {
            std::string text = body;
            text.replace(text.find("SEEDS"), 5, seeds);
            writeFile(dir, "01_s.yaml", text);
            return loadPresets(dir.path().toStdString());
        };
        const std::vector<Preset> two = presetsWith("[7, 9]");
        QCOMPARE(two.size(), std::size_t { 2 });
        QCOMPARE(two[0].name, std::string("s"));
        QCOMPARE(two[1].name, std::string("s_seed2"));
        QCOMPARE(two[1].group, std::string("s"));
        QCOMPARE(two[1].config["training"]["seed"].get<int>(), 9);
        QVERIFY(!two[1].config.contains("demo"));
        QVERIFY(two[0].hash != two[1].hash);
        const std::vector<Preset> three = presetsWith("[7, 9, 11]");
        QCOMPARE(three.size(), std::size_t { 3 });
        QCOMPARE(three[0].hash, two[0].hash);
        QCOMPARE(three[1].hash, two[1].hash);
        // --only with the group's name takes every seed.
        QCOMPARE(namesOf(selectPresets(three, { "s" })), (QStringList { "s", "s_seed2", "s_seed3" }));
        QCOMPARE(namesOf(selectPresets(three, { "s_seed3" })), QStringList { "s_seed3" });
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
        QTest::newRow("seeds not a list") << "name: x\ndemo: {seeds: 3}\ntraining: {seed: 1}\n"
                                          << "demo.seeds: expected a non-empty list";
        QTest::newRow("seed not an integer") << "name: x\ndemo: {seeds: [1, 2.5]}\ntraining: {seed: 1}\n"
                                             << "demo.seeds: expected integer seeds, got 2.5";
        QTest::newRow("seed twice") << "name: x\ndemo: {seeds: [1, 1]}\ntraining: {seed: 1}\n"
                                    << "demo.seeds: seed 1 is listed twice";
        QTest::newRow("seeds of a merge") << "name: x\ndemo: {kind: merge, method: soup, runs: [a, b], seeds: [1]}\n"
                                          << "demo.seeds: a merge preset has no seed";
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
            loadPresets(dir.path().toStdString()); // reads the file and expands its seeds
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
                             << QStringList { "full", "full_seed2", "full_seed3", "lora", "lora_seed2", "lora_seed3",
                                    "qlora", "hft", "full_lines", "dpo", "prompt_tuning", "prefix_tuning", "grpo",
                                    "lora_soup" };
        QTest::newRow("one") << QStringList { "hft" } << QStringList { "hft" };
        QTest::newRow("one seed") << QStringList { "lora_seed3" } << QStringList { "lora_seed3" };
        QTest::newRow("a group of seeds")
            << QStringList { "lora" } << QStringList { "lora", "lora_seed2", "lora_seed3" };
        QTest::newRow("a merge and its parents")
            << QStringList { "lora_soup" } << QStringList { "lora", "lora_seed2", "lora_seed3", "lora_soup" };
        // dpo starts from lora's model (model_from).
        QTest::newRow("model_from") << QStringList { "full_lines", "dpo" }
                                    << QStringList { "full", "full_seed2", "full_seed3", "lora", "lora_seed2",
                                           "lora_seed3", "full_lines", "dpo" };
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
              "base_MiB  intruders\n"
            + std::string(122, '-') + "\n"
            + "lora  3    lora     sft              1.235        0.50          -0.010   0.002       0.750      1.23%  "
              "       -          2\n";
        QCOMPARE(result.table(), expected);
        const json row = { { "name", "lora" }, { "group", "lora" }, { "adapter", "lora" }, { "objective", "sft" },
            { "target_loss", 1.23456 }, { "reference_delta_loss", -0.01 }, { "distinct_2", 0.75 },
            { "trainable_share", 0.0123 } };
        QCOMPARE(result.toJson().dump(), json({ { "runs", json::array({ row }) } }).dump());
    }

    // A QLoRA row's base memory, a GRPO run's reward and group diversity before and after, and the pipeline's
    // forgetting matrix with its measures, in the line and the table.
    void tableAndJsonExtras()
    {
        DemoResult result;
        DemoRun qlora;
        qlora.name = "qlora";
        qlora.runId = 4;
        qlora.adapter = "lora";
        qlora.objective = "sft";
        qlora.baseWeightMiB = 0.5;
        qlora.quantizeBase = "nf4";
        DemoRun grpo;
        grpo.name = "grpo";
        grpo.runId = 5;
        grpo.adapter = "lora";
        grpo.objective = "grpo";
        grpo.baseWeightMiB = 3.25;
        grpo.rewardBefore = 0.1;
        grpo.rewardAfter = 0.6;
        grpo.groupDistinct2Before = 0.9;
        grpo.groupDistinct2After = 0.4;
        result.runs = { qlora, grpo };
        DemoPipeline p;
        p.id = 7;
        p.name = "demo-facts-then-cards";
        p.stages = { "facts", "cards" };
        p.runIds = { 8, 9 };
        p.columns = { "facts eval_loss", "cards eval_loss" };
        p.rows = { { 3.0, 4.0 }, { 1.0, 3.5 }, { 2.0, 0.5 } };
        p.measures = json::array({ { { "direction", "min" }, { "after_stage", 2 }, { "average", 1.25 }, { "bwt", -1.0 },
            { "forgetting", 1.0 }, { "fwt", 0.5 } } });
        result.pipeline = p;
        const json line = result.toJson();
        QCOMPARE(line["runs"][0]["base_weight_mib"].get<double>(), 0.5);
        QCOMPARE(line["runs"][0]["quantize_base"].get<std::string>(), std::string("nf4"));
        QVERIFY(!line["runs"][0].contains("reward_mean"));
        QCOMPARE(line["runs"][1]["reward_mean"], json({ { "after", 0.6 }, { "before", 0.1 } }));
        QCOMPARE(line["runs"][1]["group_distinct_2"], json({ { "after", 0.4 }, { "before", 0.9 } }));
        QVERIFY(!line["runs"][1].contains("quantize_base"));
        QCOMPARE(line["pipeline"]["matrix"], json::parse("[[3.0, 4.0], [1.0, 3.5], [2.0, 0.5]]"));
        QCOMPARE(line["pipeline"]["runs"], json::parse("[8, 9]"));
        QCOMPARE(line["pipeline"]["measures"][0]["forgetting"].get<double>(), 1.0);
        const std::string table = result.table();
        QVERIFY2(table.find("0.50 nf4") != std::string::npos, table.c_str());
        QVERIFY2(table.find("3.25") != std::string::npos, table.c_str());
        const std::string sections = table.substr(table.find("\nGRPO"));
        const std::string expected = "\nGRPO: reward and distinct-2 of the sampled groups, first steps -> last steps\n"
                                     "GRPO run  reward_mean before  after  distinct_2 before  after\n"
            + std::string(61, '-') + "\n"
            + "grpo                   0.100  0.600              0.900  0.400\n"
              "\nPipeline 7 (demo-facts-then-cards): forgetting matrix (row: after stage; column: a stage's "
              "held-out task)\n"
              "                     facts eval_loss  cards eval_loss\n"
            + std::string(53, '-') + "\n"
            + "demo model                    3.0000           4.0000\n"
              "after facts (run 8)           1.0000           3.5000\n"
              "after cards (run 9)           2.0000           0.5000\n"
              "lower is better, after stage 2: average 1.2500, backward transfer -1.0000, forgetting 1.0000, forward "
              "transfer 0.5000\n";
        QCOMPARE(sections, expected);
    }

    // Seed groups: mean, std and the t interval of each measure, and a paired test between two groups that ran
    // the same seeds, against values worked out by hand.
    void seedGroupsSummariseAndCompare()
    {
        DemoResult result;
        const double fullLoss[] = { 1.0, 1.2, 1.1 };
        const double loraLoss[] = { 1.5, 1.6, 1.8 };
        const std::int64_t seeds[] = { 42, 43, 44 };
        for (int k = 0; k < 3; ++k) {
            for (const char* group : { "full", "lora" }) {
                DemoRun r;
                r.group = group;
                r.name = k == 0 ? group : std::string(group) + "_seed" + std::to_string(k + 1);
                r.seed = seeds[k];
                r.targetLoss = std::string(group) == "full" ? fullLoss[k] : loraLoss[k];
                result.runs.push_back(r);
            }
        }
        DemoRun single;
        single.name = single.group = "hft";
        result.runs.push_back(single);
        const json j = result.toJson();
        QCOMPARE(j["groups"].size(), std::size_t { 2 }); // hft ran once: no group
        const json& full = j["groups"][0];
        QCOMPARE(full["name"].get<std::string>(), std::string("full"));
        QCOMPARE(full["seeds"].dump(), std::string("[42,43,44]"));
        const json& loss = full["metrics"]["target_loss"];
        // mean 1.1, sample std 0.1, t(0.975, 2) = 4.302652729911275: half-width 0.1 * 4.3027 / sqrt(3)
        const double half = 0.1 * 4.302652729911275 / std::sqrt(3.0);
        QVERIFY(std::abs(loss["mean"].get<double>() - 1.1) < 1e-12);
        QVERIFY(std::abs(loss["std"].get<double>() - 0.1) < 1e-12);
        QVERIFY(std::abs(loss["ci95"][0].get<double>() - (1.1 - half)) < 1e-9);
        QVERIFY(std::abs(loss["ci95"][1].get<double>() - (1.1 + half)) < 1e-9);
        // Paired by seed: differences -0.5, -0.4, -0.7; mean -0.5333, sd 0.15275; t = -6.0474 on 2 df.
        const json& test = j["comparisons"][0]["metrics"]["target_loss"];
        QCOMPARE(test["test"].get<std::string>(), std::string("paired"));
        QVERIFY(std::abs(test["difference"].get<double>() + 1.6 / 3) < 1e-12);
        const double sd = std::sqrt(
            ((0.5 - 1.6 / 3) * (0.5 - 1.6 / 3) + (0.4 - 1.6 / 3) * (0.4 - 1.6 / 3) + (0.7 - 1.6 / 3) * (0.7 - 1.6 / 3))
            / 2);
        QVERIFY(std::abs(test["effect_size"].get<double>() + (1.6 / 3) / sd) < 1e-9);
        QVERIFY(test["p"].get<double>() > 0.02 && test["p"].get<double>() < 0.03); // two-sided p of t = -6.05, 2 df
        QCOMPARE(test["verdict"].get<std::string>(), std::string("difference"));
        // The readable table carries the same.
        const std::string table = result.table();
        QVERIFY2(table.find("Across seeds") != std::string::npos, table.c_str());
        QVERIFY2(table.find("1.100 ± 0.100") != std::string::npos, table.c_str());
        QVERIFY2(table.find("paired: difference") != std::string::npos, table.c_str());
    }
};

QTEST_GUILESS_MAIN(TestDemoParts)
#include "test_demo_parts.moc"
