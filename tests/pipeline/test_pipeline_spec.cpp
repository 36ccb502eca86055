// Pipeline files without training: parsing (stages, from, merge, replay, clm), bad files refused with the
// file, the stage and the key named, replay's seeded draws against the documented generator written out
// again, the data split into train and held-out files, the store's pipeline tables (schema step 4, cascades),
// and the forgetting matrix's measures against values worked out by hand.

#include "core/method/plugin_registry.h"
#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_data.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/pipeline/pipeline_store.h"
#include "core/store/database.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double splitMixUnit(std::uint64_t& state)
{
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) / 9007199254740992.0;
}

std::size_t lineCount(const fs::path& file)
{
    std::ifstream in(file);
    std::size_t n = 0;
    std::string line;
    while (std::getline(in, line))
        n += !line.empty();
    return n;
}

} // namespace

class TestPipelineSpec : public QObject {
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

    static std::string base()
    {
        return "base:\n  model: model\n  adapter: {type: lora, r: 4}\n"
               "  training: {learning_rate: 0.01, max_steps: 3, cutoff_len: 32}\n";
    }

    PipelineSpec read(const std::string& name, const std::string& text)
    {
        return PipelineSpec::readFile(write(name, text));
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_root = m_dir.path().toStdString();
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        fs::create_directories(m_root / "model");
        {
            std::ofstream out(m_root / "corpus.txt");
            for (int i = 0; i < 10; ++i)
                out << "line number " << i << " of the corpus\n";
        }
        {
            std::ofstream out(m_root / "task.jsonl");
            for (int i = 0; i < 20; ++i)
                out << json({ { "instruction", "count " + std::to_string(i) }, { "output", std::to_string(i + 1) } })
                           .dump()
                    << "\n";
        }
        {
            std::ofstream out(m_root / "task2.jsonl");
            for (int i = 0; i < 8; ++i)
                out << json({ { "instruction", "double " + std::to_string(i) }, { "output", std::to_string(2 * i) } })
                           .dump()
                    << "\n";
        }
    }

    void parsesStages()
    {
        const PipelineSpec s = read("good.yaml",
            base()
                + "held_out: 0.2\nstages:\n"
                  "  - {name: domain, objective: clm, dataset: corpus.txt, adapter: full}\n"
                  "  - {name: task, dataset: task.jsonl, merge: true, training: {learning_rate: 0.001}}\n"
                  "  - {name: more, dataset: task2.jsonl, from: task, merge: false, replay: {share: 0.5, seed: 3}}\n"
                  "  - {dataset: task2.jsonl, from: base}\n"
                  "  - {dataset: task2.jsonl, from: 17}\n");
        QCOMPARE(s.name, std::string("good"));
        QCOMPARE(s.model, (m_root / "model").string());
        QCOMPARE(s.heldOut, 0.2);
        QCOMPARE(s.stages.size(), std::size_t(5));
        QVERIFY(s.stages[0].clm);
        QCOMPARE(s.stages[0].from, PipelineStage::From::Base);
        QCOMPARE(s.stages[0].dataset, (m_root / "corpus.txt").string());
        QCOMPARE(s.stages[0].config["objective"], json("sft"));
        QCOMPARE(s.stages[0].config["packing"], json(true));
        QCOMPARE(s.stages[0].config["dataset_format"], json("text"));
        QCOMPARE(s.stages[0].config["adapter"], json("full"));
        QCOMPARE(s.stages[1].from, PipelineStage::From::Stage);
        QCOMPARE(s.stages[1].fromStage, std::size_t(0));
        QVERIFY(s.stages[1].merge);
        QCOMPARE(s.stages[1].config["training"]["learning_rate"], json(0.001));
        QCOMPARE(s.stages[2].fromStage, std::size_t(1));
        QVERIFY(!s.stages[2].merge);
        QVERIFY(s.stages[2].replay);
        QCOMPARE(s.stages[2].replay->share, 0.5);
        QCOMPARE(s.stages[2].replay->seed, std::uint64_t(3));
        QCOMPARE(s.stages[3].name, std::string("stage-4"));
        QCOMPARE(s.stages[3].from, PipelineStage::From::Base);
        QCOMPARE(s.stages[4].from, PipelineStage::From::Run);
        QCOMPARE(s.stages[4].fromRun, std::int64_t(17));
        checkStages(s, m_plugins);

        // A stage continuing an adapter gets init_adapter; a merged one trains the model it is given.
        const json cont = stageRunConfig(s, 2, "/m", "/d.jsonl", "5", m_plugins);
        QCOMPARE(cont["init_adapter"], json("5"));
        QCOMPARE(cont["model"], json("/m"));
        QCOMPARE(cont["dataset"], json("/d.jsonl"));
        QCOMPARE(cont["adapter"], json("lora"));
        const json clm = stageRunConfig(s, 0, "/m", "/c.jsonl", "", m_plugins);
        QCOMPARE(clm["packing"], json(true));
        QCOMPARE(clm["objective"], json("sft"));
        // The same file read twice is the same pipeline; a changed stage is another.
        QCOMPARE(read("good.yaml", base() + "held_out: 0.2\nstages:\n  - {dataset: task.jsonl}\n").canonicalJson(),
            read("good.yaml", base() + "held_out: 0.2\nstages:\n  - {dataset: task.jsonl}\n").canonicalJson());
        QVERIFY(read("a.yaml", base() + "stages:\n  - {dataset: task.jsonl}\n").canonicalJson()
            != read("a.yaml", base() + "stages:\n  - {dataset: task2.jsonl}\n").canonicalJson());
    }

    // A file named relative to the working folder: its paths are still made absolute (a worker runs in its
    // run folder).
    void relativeFile()
    {
        write("rel.yaml", base() + "stages: [{dataset: task.jsonl}]\n");
        const fs::path before = fs::current_path();
        fs::current_path(m_root);
        const PipelineSpec s = PipelineSpec::readFile("rel.yaml");
        fs::current_path(before);
        QCOMPARE(s.model, (m_root / "model").string());
        QCOMPARE(s.stages[0].dataset, (m_root / "task.jsonl").string());
    }

    void badFiles_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("message"); // the message must contain each '|'-separated part
        const QString b = QString::fromStdString(base());
        QTest::newRow("not a mapping") << "[1, 2]"
                                       << "bad.yaml|must be a mapping";
        QTest::newRow("unknown top key") << b + "stages: [{dataset: task.jsonl}]\nstage: 1\n"
                                         << "bad.yaml|key 'stage'|unknown key";
        QTest::newRow("no base") << "stages: [{dataset: task.jsonl}]\n"
                                 << "key 'base'|is required";
        QTest::newRow("base file missing") << "base: nowhere.yaml\nstages: [{dataset: task.jsonl}]\n"
                                           << "key 'base'|no run configuration file";
        QTest::newRow("base without model") << "base: {adapter: lora}\nstages: [{dataset: task.jsonl}]\n"
                                            << "key 'base'|needs 'model'";
        QTest::newRow("no stages") << b << "key 'stages'|non-empty list";
        QTest::newRow("empty stages") << b + "stages: []\n"
                                      << "key 'stages'|non-empty list";
        QTest::newRow("stage not a mapping") << b + "stages: [3]\n"
                                             << "stage 'stage-1'|must be a mapping";
        QTest::newRow("unknown stage key") << b + "stages: [{dataset: task.jsonl, epochs: 3}]\n"
                                           << "stage 'stage-1'|key 'epochs'|unknown key";
        QTest::newRow("bad name") << b + "stages: [{name: 'a b', dataset: task.jsonl}]\n"
                                  << "stage 'stage-1'|key 'name'|letters, digits";
        QTest::newRow("duplicate name") << b
                + "stages: [{name: x, dataset: task.jsonl}, {name: x, dataset: task.jsonl}]\n"
                                        << "stage 'x'|key 'name'|another stage";
        QTest::newRow("no dataset") << b + "stages: [{name: s}]\n"
                                    << "stage 's'|key 'dataset'|is required";
        QTest::newRow("bad from") << b
                + "stages: [{dataset: task.jsonl}, {name: two, dataset: task.jsonl, from: later}]\n"
                                  << "stage 'two'|key 'from'|no stage before this one is called 'later'";
        QTest::newRow("from itself") << b + "stages: [{name: one, dataset: task.jsonl, from: one}]\n"
                                     << "stage 'one'|key 'from'|no stage before";
        QTest::newRow("from zero") << b + "stages: [{dataset: task.jsonl, from: 0}]\n"
                                   << "stage 'stage-1'|key 'from'|whole number from 1";
        QTest::newRow("merge on first stage") << b + "stages: [{dataset: task.jsonl, merge: false}]\n"
                                              << "stage 'stage-1'|key 'merge'|starts from the base model";
        QTest::newRow("merge not boolean")
            << b + "stages: [{dataset: task.jsonl}, {dataset: task.jsonl, merge: yes please}]\n"
            << "stage 'stage-2'|key 'merge'|true or false";
        QTest::newRow("kept adapter differs")
            << b + "stages: [{dataset: task.jsonl}, {name: f, dataset: task.jsonl, adapter: full, merge: false}]\n"
            << "stage 'f'|key 'merge'|adapter 'lora'|adapter 'full'";
        QTest::newRow("replay on first stage") << b + "stages: [{dataset: task.jsonl, replay: {share: 0.1}}]\n"
                                               << "stage 'stage-1'|key 'replay'|first stage";
        QTest::newRow("replay share too big")
            << b + "stages: [{dataset: task.jsonl}, {dataset: task.jsonl, replay: {share: 1.5}}]\n"
            << "stage 'stage-2'|key 'replay.share'|at most 1";
        QTest::newRow("replay without share")
            << b + "stages: [{dataset: task.jsonl}, {dataset: task.jsonl, replay: {seed: 1}}]\n"
            << "key 'replay.share'|is required";
        QTest::newRow("replay unknown key")
            << b + "stages: [{dataset: task.jsonl}, {dataset: task.jsonl, replay: {share: 0.1, ratio: 2}}]\n"
            << "key 'replay.ratio'|unknown key";
        QTest::newRow("replay bad seed") << b
                + "stages: [{dataset: task.jsonl}, {dataset: task.jsonl, replay: {share: 0.1, seed: -2}}]\n"
                                         << "key 'replay.seed'|whole number";
        QTest::newRow("held_out out of range") << b + "held_out: 0\nstages: [{dataset: task.jsonl}]\n"
                                               << "key 'held_out'|above 0";
        QTest::newRow("objective not a name") << b + "stages: [{dataset: task.jsonl, objective: 3}]\n"
                                              << "stage 'stage-1'|key 'objective'";
        QTest::newRow("adapter mapping without type") << b + "stages: [{dataset: task.jsonl, adapter: {r: 4}}]\n"
                                                      << "stage 'stage-1'|key 'adapter'";
        QTest::newRow("training sets the model") << b + "stages: [{dataset: task.jsonl, training: {model: x}}]\n"
                                                 << "stage 'stage-1'|key 'training.model'";
        QTest::newRow("training not a mapping") << b + "stages: [{dataset: task.jsonl, training: 3}]\n"
                                                << "stage 'stage-1'|key 'training'|mapping";
        QTest::newRow("evaluation not a mapping") << b + "stages: [{dataset: task.jsonl, evaluation: tasks.yaml}]\n"
                                                  << "stage 'stage-1'|key 'evaluation'|mapping";
        QTest::newRow("dataset not a file") << b + "stages: [{dataset: [1]}]\n"
                                            << "stage 'stage-1'|key 'dataset'";
        // Refused by the run configuration's own check, named with the file and the stage.
        QTest::newRow("unknown trainer key")
            << b + "stages: [{name: t, dataset: task.jsonl, training: {learnin_rate: 1}}]\n"
            << "bad.yaml: stage 't'|learnin_rate";
        QTest::newRow("bad trainer value")
            << b + "stages: [{name: t, dataset: task.jsonl, training: {max_steps: many}}]\n"
            << "bad.yaml: stage 't'|max_steps";
        QTest::newRow("unknown adapter") << b + "stages: [{name: t, dataset: task.jsonl, adapter: lorax}]\n"
                                         << "bad.yaml: stage 't'|lorax";
        QTest::newRow("unknown objective") << b + "stages: [{name: t, dataset: task.jsonl, objective: sftt}]\n"
                                           << "bad.yaml: stage 't'|sftt";
    }

    void badFiles()
    {
        QFETCH(QString, text);
        QFETCH(QString, message);
        QString got;
        try {
            const PipelineSpec s = read("bad.yaml", text.toStdString());
            checkStages(s, m_plugins);
        } catch (const InputError& e) {
            got = QString::fromStdString(e.what());
        }
        QVERIFY2(!got.isEmpty(), "the file was accepted");
        for (const QString& part : message.split('|'))
            QVERIFY2(got.contains(part), qPrintable("'" + part + "' not in: " + got));
    }

    void replayDraws()
    {
        // The documented partial Fisher-Yates shuffle, written out again.
        for (const std::uint64_t seed : { 0ULL, 1ULL, 12345ULL }) {
            const std::size_t pool = 13;
            const std::vector<std::size_t> got = drawReplay(pool, 10, 0.5, seed);
            QCOMPARE(got.size(), std::size_t(5));
            std::vector<std::size_t> idx(pool);
            for (std::size_t i = 0; i < pool; ++i)
                idx[i] = i;
            std::uint64_t state = seed;
            for (std::size_t t = 0; t < 5; ++t) {
                const std::size_t j = t + static_cast<std::size_t>(splitMixUnit(state) * static_cast<double>(pool - t));
                std::swap(idx[t], idx[j]);
            }
            idx.resize(5);
            QCOMPARE(got, idx);
            QCOMPARE(drawReplay(pool, 10, 0.5, seed), got); // reproducible
            QCOMPARE(std::set<std::size_t>(got.begin(), got.end()).size(), got.size()); // without repetition
        }
        QVERIFY(drawReplay(13, 10, 0.5, 1) != drawReplay(13, 10, 0.5, 2));
        QCOMPARE(drawReplay(3, 10, 1.0, 1).size(), std::size_t(3)); // capped at the pool
        QCOMPARE(drawReplay(10, 10, 0.04, 1).size(), std::size_t(0)); // round(0.4)
        QCOMPARE(drawReplay(10, 3, 0.5, 1).size(), std::size_t(2)); // round(1.5)
    }

    void preparesData()
    {
        const PipelineSpec s = read("data.yaml",
            base()
                + "held_out: 0.25\nstages:\n"
                  "  - {name: a, dataset: task.jsonl}\n"
                  "  - {name: b, dataset: task2.jsonl, replay: {share: 0.5, seed: 9}}\n");
        const fs::path folder = m_root / "prepared";
        const auto data = preparePipelineData(s, m_plugins, nullptr, folder);
        QCOMPARE(data.size(), std::size_t(2));
        QCOMPARE(data[0].heldOut, std::size_t(5)); // 20 x 0.25
        QCOMPARE(data[0].trainExamples, std::size_t(15));
        QCOMPARE(data[1].heldOut, std::size_t(2));
        QCOMPARE(data[1].trainExamples, std::size_t(6));
        QCOMPARE(data[1].replayed, std::size_t(3));
        QCOMPARE(lineCount(data[1].trainFile), std::size_t(9));
        QCOMPARE(lineCount(data[1].heldOutFile), std::size_t(2));
        // Replayed examples come from stage a's training examples, never from its held-out ones.
        std::set<std::string> heldOutA, trainA;
        std::string line;
        for (std::ifstream in(data[0].heldOutFile); std::getline(in, line);)
            heldOutA.insert(line);
        for (std::ifstream in(data[0].trainFile); std::getline(in, line);)
            trainA.insert(line);
        int replayed = 0;
        for (std::ifstream in(data[1].trainFile); std::getline(in, line);) {
            if (line.find("count") != std::string::npos) {
                ++replayed;
                QVERIFY(trainA.count(line) && !heldOutA.count(line));
            }
        }
        QCOMPARE(replayed, 3);
        // The same inputs write the same files.
        std::ifstream first(data[1].trainFile);
        const std::string before((std::istreambuf_iterator<char>(first)), {});
        preparePipelineData(s, m_plugins, nullptr, folder);
        std::ifstream second(data[1].trainFile);
        QCOMPARE(std::string((std::istreambuf_iterator<char>(second)), {}), before);

        // clm on records that are not text, and replay with no earlier stage of the same format.
        QVERIFY_THROWS_EXCEPTION(InputError,
            preparePipelineData(read("clm.yaml", base() + "stages: [{objective: clm, dataset: task.jsonl}]\n"),
                m_plugins, nullptr, m_root / "p2"));
        try {
            preparePipelineData(read("replay.yaml",
                                    base()
                                        + "stages: [{name: c, objective: clm, dataset: corpus.txt}, {name: d, dataset: "
                                          "task.jsonl, replay: {share: 0.5}}]\n"),
                m_plugins, nullptr, m_root / "p3");
            QFAIL("replay across formats was accepted");
        } catch (const InputError& e) {
            const QString m = e.what();
            QVERIFY2(m.contains("stage 'd'") && m.contains("key 'replay'") && m.contains("instruction"), qPrintable(m));
        }
    }

    void matrixMeasures()
    {
        // Three tasks, accuracies (rows: base, after 1, after 2, after 3).
        ForgettingMatrix m;
        m.columns = { { "t1", 1, "acc", true }, { "t2", 2, "acc", true }, { "t3", 3, "acc", true } };
        m.rows = { { 0.2, 0.1, 0.3 }, { 0.8, 0.2, 0.3 }, { 0.6, 0.9, 0.4 }, { 0.5, 0.7, 0.95 } };
        auto r = continualMeasures(m);
        QCOMPARE(r.size(), std::size_t(1));
        QVERIFY(r[0].higherIsBetter);
        QCOMPARE(r[0].afterStage, std::size_t(3));
        QCOMPARE(r[0].columns, std::size_t(3));
        // ACC = (0.5 + 0.7 + 0.95) / 3
        QVERIFY(std::abs(r[0].average - 2.15 / 3) < 1e-12);
        // BWT = ((0.5 - 0.8) + (0.7 - 0.9)) / 2 = -0.25
        QVERIFY(std::abs(*r[0].bwt + 0.25) < 1e-12);
        // Forgetting: t1 max(0.8, 0.6) - 0.5 = 0.3; t2 max(0.2, 0.9) - 0.7 = 0.2; mean 0.25
        QVERIFY(std::abs(*r[0].forgetting - 0.25) < 1e-12);
        // FWT = ((R[1][t2] - R[0][t2]) + (R[2][t3] - R[0][t3])) / 2 = (0.1 + 0.1) / 2
        QVERIFY(std::abs(*r[0].fwt - 0.1) < 1e-12);

        // After stage 2 only (row 3 missing): the measures over tasks 1 and 2.
        ForgettingMatrix partial = m;
        partial.rows[3] = { NAN, NAN, NAN };
        r = continualMeasures(partial);
        QCOMPARE(r[0].afterStage, std::size_t(2));
        QCOMPARE(r[0].columns, std::size_t(2));
        QVERIFY(std::abs(r[0].average - 0.75) < 1e-12);
        QVERIFY(std::abs(*r[0].bwt + 0.2) < 1e-12);
        QVERIFY(std::abs(*r[0].forgetting - 0.2) < 1e-12);

        // Losses: negated for the transfers and forgetting, the average a plain mean.
        ForgettingMatrix l;
        l.columns = { { "a", 1, "eval_loss", false }, { "b", 2, "eval_loss", false } };
        l.rows = { { 3.0, 3.5 }, { 1.0, 3.2 }, { 2.5, 0.5 } };
        r = continualMeasures(l);
        QCOMPARE(r.size(), std::size_t(1));
        QVERIFY(!r[0].higherIsBetter);
        QVERIFY(std::abs(r[0].average - 1.5) < 1e-12);
        QVERIFY(std::abs(*r[0].bwt + 1.5) < 1e-12); // -(2.5 - 1.0): the loss rose, so forgetting
        QVERIFY(std::abs(*r[0].forgetting - 1.5) < 1e-12); // 2.5 - min(1.0)
        QVERIFY(std::abs(*r[0].fwt - 0.3) < 1e-12); // -(3.2 - 3.5)

        // Mixed directions: one set each, higher first; one stage only: no transfers.
        ForgettingMatrix mixed;
        mixed.columns = { { "x", 1, "eval_loss", false }, { "y/t", 1, "acc", true } };
        mixed.rows = { { 2.0, 0.1 }, { 1.0, 0.4 } };
        r = continualMeasures(mixed);
        QCOMPARE(r.size(), std::size_t(2));
        QVERIFY(r[0].higherIsBetter);
        QCOMPARE(r[0].average, 0.4);
        QCOMPARE(r[1].average, 1.0);
        QVERIFY(!r[0].bwt && !r[0].forgetting && !r[0].fwt);
        QVERIFY(continualMeasures(ForgettingMatrix { mixed.columns, { { 2.0, 0.1 }, { NAN, NAN } } }).empty());
    }

    void store()
    {
        const fs::path wsDir = m_root / "ws";
        Workspace ws = Workspace::create(wsDir);
        PipelineStore store(ws.db());
        RunStore runs(ws.db());
        const std::int64_t id = store.create("p", "/p.yaml", "{\"x\":1}", { "a", "b" });
        QCOMPARE(store.findByConfig("{\"x\":1}")->id, id);
        QVERIFY(!store.findByConfig("{\"x\":2}"));
        auto stages = store.stages(id);
        QCOMPARE(stages.size(), std::size_t(2));
        QCOMPARE(stages[1].name, std::string("b"));
        QCOMPARE(stages[0].status, std::string("pending"));
        QVERIFY(!stages[0].runId);
        NewRun nr;
        nr.name = "p/a";
        const std::int64_t r1 = runs.create(nr);
        nr.name = "p/b";
        nr.parentRunId = r1;
        const std::int64_t r2 = runs.create(nr);
        store.setStageRun(id, 0, r1, std::nullopt, "/model");
        store.setStageRun(id, 1, r2, r1, "/merged");
        store.setStageStatus(id, 0, "finished");
        QVERIFY_THROWS_EXCEPTION(StoreError, store.setStageStatus(id, 1, "done")); // not a status
        QCOMPARE(store.stageOf(r2)->second, std::int64_t(1));
        stages = store.stages(id);
        QCOMPARE(*stages[1].parentRunId, r1);
        QCOMPARE(stages[1].modelPath, std::string("/merged"));
        QCOMPARE(stages[0].status, std::string("finished"));

        const std::vector<MatrixColumn> cols = { { "a", 1, "eval_loss", false }, { "b/t", 2, "acc", true } };
        store.saveRow(id, 0, cols, { 2.0, 0.25 });
        store.saveRow(id, 1, cols, { 1.0, NAN });
        store.saveRow(id, 1, cols, { 1.5, 0.5 }); // replaces
        const ForgettingMatrix m = store.matrix(id);
        QCOMPARE(m.columns.size(), std::size_t(2));
        QCOMPARE(m.columns[1].name, std::string("b/t"));
        QVERIFY(m.columns[1].higherIsBetter);
        QCOMPARE(m.columns[1].stage, std::size_t(2));
        QCOMPARE(m.rows.size(), std::size_t(3));
        QCOMPARE(m.rows[1][0], 1.5);
        QVERIFY(std::isnan(m.rows[2][0]));
        QCOMPARE(store.rows(id), (std::vector<std::int64_t> { 0, 1 }));

        // A run deleted leaves its stage without a run; the pipeline deleted takes its stages and results.
        runs.remove(r1);
        stages = store.stages(id);
        QVERIFY(!stages[0].runId);
        QVERIFY(!stages[1].parentRunId);
        ws.db().exec("DELETE FROM pipelines WHERE id = " + std::to_string(id));
        Statement count
            = ws.db().prepare("SELECT (SELECT COUNT(*) FROM pipeline_stages), (SELECT COUNT(*) FROM pipeline_results), "
                              "(SELECT COUNT(*) FROM runs)");
        QVERIFY(count.step());
        QCOMPARE(count.int64(0), std::int64_t(0));
        QCOMPARE(count.int64(1), std::int64_t(0));
        QCOMPARE(count.int64(2), std::int64_t(1)); // the runs stay
    }
};

QTEST_GUILESS_MAIN(TestPipelineSpec)
#include "test_pipeline_spec.moc"
