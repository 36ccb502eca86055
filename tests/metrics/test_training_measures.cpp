// Measures while training, end to end on a tiny model: samples stored with
// fixed seeds, diversity, forgetting (zero against itself at the start, for a
// switchable adapter and for a frozen copy), weight space of a LoRA update, the
// time budget, and configuration errors.

#include "core/method/plugin_registry.h"
#include "core/model/model_writer.h"
#include "core/store/artifacts.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

class TestTrainingMeasures : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    fs::path m_reference;
    PluginRegistry m_plugins;

    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

    json config() const
    {
        return { { "model", m_model.string() }, { "dataset", m_data.string() }, { "learning_rate", 3e-2 },
            { "per_device_train_batch_size", 4 }, { "max_steps", 8 }, { "seed", 11 }, { "threads", 1 },
            { "sample_prompts", { "the cat", "a bird" } }, { "samples_per_prompt", 3 }, { "sample_max_new_tokens", 8 },
            { "measure_time_budget", 1.0 } };
    }

    std::vector<json> train(const json& c, const fs::path& runDir, Workspace* ws = nullptr,
        std::optional<std::int64_t> runId = std::nullopt)
    {
        std::vector<json> events;
        TrainerOptions o;
        o.runDir = runDir;
        o.workspace = ws;
        o.runId = runId;
        o.events = [&](const json& e) { events.push_back(e); };
        runTraining(TrainConfig::fromJson(c, m_plugins, "test config"), m_plugins, o);
        return events;
    }

    static std::vector<json> measures(const std::vector<json>& events, const std::string& kind)
    {
        std::vector<json> out;
        for (const json& e : events) {
            if (e["event"] == "measure" && e["kind"] == kind)
                out.push_back(e);
        }
        return out;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = path("model");
        model_test::writeTinyModelFolder(m_model, 9);
        m_data = path("data.jsonl");
        std::ofstream out(m_data);
        const char* lines[] = { "the cat sat on the mat", "the dog ran in the park" };
        for (int i = 0; i < 16; ++i)
            out << json({ { "text", lines[i % 2] } }).dump() << "\n";
        m_reference = path("reference.jsonl");
        std::ofstream(m_reference)
            << json({ { "text", "the cat sat on the mat" } }).dump() << "\n"
            << json({ { "text", "a quiet river in the hills" } }).dump() << "\n"
            << json({ { "prompt", "pick" }, { "choices", { "a", "b" } }, { "answer", 1 } }).dump() << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        QVERIFY(m_plugins.find(PluginKind::Adapter, "lora"));
    }

    void loraRunStoresSamplesAndMeasures()
    {
        Workspace ws = Workspace::create(path("ws"));
        const std::int64_t runId = RunStore(ws.db()).create({ "measured" });
        json c = config();
        c["adapter"] = "lora";
        c["lora_r"] = 2;
        c["sample_steps"] = 4;
        c["forgetting_reference"] = m_reference.string();
        c["forgetting_steps"] = 4;
        c["weight_analysis"] = true;
        c["save_steps"] = 4;
        const std::vector<json> events = train(c, ws.runDir(runId), &ws, runId);

        // Samples at the start, at step 4 and at the end: 2 prompts x 3 samples, fixed seeds.
        const ArtifactStore artifacts(ws.db());
        for (std::int64_t step : { 0, 4, 8 }) {
            const auto rows = artifacts.samples(runId, step);
            QCOMPARE(rows.size(), 6u);
            QCOMPARE(rows[0].prompt, std::string("the cat"));
            QCOMPARE(*rows[0].seed, 11);
            QCOMPARE(*rows[5].seed, 12);
        }
        QCOMPARE(artifacts.samples(runId).size(), 18u);
        int sampleEvents = 0;
        for (const json& e : events)
            sampleEvents += e["event"] == "samples" ? 1 : 0;
        QCOMPARE(sampleEvents, 3);

        const MetricQuery metrics(ws.db());
        const auto distinct = metrics.series(runId, "diversity/distinct_2");
        QCOMPARE(distinct.size(), 3u);
        for (const char* name : { "diversity/self_bleu", "diversity/per_input_distinct_1", "diversity/ead_2",
                 "diversity/embedding_distance", "diversity/per_input_embedding_distance", "diversity/token_entropy",
                 "forgetting/delta_loss", "forgetting/kl", "forgetting/probe_accuracy_delta", "weights/update_norm",
                 "weights/intruder_dimensions", "measure_time_share" })
            QVERIFY2(!metrics.series(runId, name).empty(), name);
        const auto entropy = metrics.series(runId, "diversity/token_entropy");
        QVERIFY(entropy.front().value > 0 && entropy.front().value <= std::log(264.0) + 1e-9);

        // Forgetting: the tuned model is the base at the start (adapter switched off and on: the same).
        const auto kl = metrics.series(runId, "forgetting/kl");
        const auto delta = metrics.series(runId, "forgetting/delta_loss");
        QCOMPARE(kl.size(), 3u);
        QCOMPARE(kl[0].step, 0);
        QVERIFY(std::abs(kl[0].value) < 1e-9);
        QVERIFY(std::abs(delta[0].value) < 1e-9);
        QVERIFY(kl[2].value > 0);
        QVERIFY(metrics.series(runId, "forgetting/probe_accuracy_delta")[0].value == 0.0);
        // The base numbers were cached in the workspace and later measurements reused them.
        QVERIFY(fs::exists(ws.root() / "cache" / "forgetting"));
        const auto forgetting = measures(events, "forgetting");
        QVERIFY(!forgetting[0]["base_cached"].get<bool>());
        QVERIFY(forgetting[2]["base_cached"].get<bool>());

        // Weight space at the checkpoint (step 4) and the end: a rank-2 LoRA update has effective rank <= 2.
        const auto weights = measures(events, "weights");
        QCOMPARE(weights.size(), 2u);
        QCOMPARE(weights[0]["step"].get<int>(), 4);
        int changed = 0;
        for (const json& layer : weights[1]["layers"]) {
            if (layer["update_norm"].get<double>() > 0) {
                ++changed;
                QVERIFY2(layer["effective_rank"].get<double>() <= 2.0 + 1e-6, layer.dump().c_str());
            }
        }
        QVERIFY(changed > 0);

        // The summary: measurements, their time and share.
        const json& summary
            = *std::find_if(events.begin(), events.end(), [](const json& e) { return e["event"] == "measures"; });
        QCOMPARE(summary["measurements"].get<int>(), 3 + 3 + 2);
        QVERIFY(summary["time_share"].get<double>() > 0 && summary["time_share"].get<double>() <= 1.0);

        // Fixed seeds: another run draws the same samples at the start.
        Workspace ws2 = Workspace::create(path("ws2"));
        const std::int64_t run2 = RunStore(ws2.db()).create({ "again" });
        c["weight_analysis"] = false;
        train(c, ws2.runDir(run2), &ws2, run2);
        const auto a = artifacts.samples(runId, 0);
        const auto b = ArtifactStore(ws2.db()).samples(run2, 0);
        QCOMPARE(a.size(), b.size());
        for (std::size_t i = 0; i < a.size(); ++i)
            QCOMPARE(a[i].text, b[i].text);
    }

    void fullFineTuningComparesWithAFrozenCopy()
    {
        json c = config();
        c.erase("sample_prompts");
        c["forgetting_reference"] = m_reference.string();
        c["weight_analysis"] = true;
        const std::vector<json> events = train(c, path("full_run"));
        const auto forgetting = measures(events, "forgetting");
        QCOMPARE(forgetting.size(), 2u); // start and end
        QVERIFY(std::abs(forgetting[0]["values"]["kl"].get<double>()) < 1e-9);
        QVERIFY(std::abs(forgetting[0]["values"]["delta_loss"].get<double>()) < 1e-9);
        QVERIFY(forgetting[1]["values"]["kl"].get<double>() > 0);
        const auto weights = measures(events, "weights");
        QCOMPARE(weights.size(), 1u);
        QVERIFY(weights[0]["values"]["update_norm"].get<double>() > 0);
        QVERIFY(measures(events, "diversity").empty());
    }

    void greedySamplesAreLessDiverse()
    {
        json c = config();
        c["adapter"] = "lora";
        c["max_steps"] = 1;
        c["sample_temperature"] = 0.0;
        const auto greedy = measures(train(c, path("greedy")), "diversity");
        c["sample_temperature"] = 2.0;
        const auto sampled = measures(train(c, path("sampled")), "diversity");
        const json& g = greedy[0]["values"];
        const json& s = sampled[0]["values"];
        // Greedy: the three samples of a prompt are one text, so nothing differs within a prompt.
        QVERIFY(std::abs(g["per_input_embedding_distance"].get<double>()) < 1e-9);
        QVERIFY(g["per_input_distinct_1"].get<double>() < s["per_input_distinct_1"].get<double>());
        QVERIFY(s["per_input_embedding_distance"].get<double>() > 0);
    }

    void budgetDefersScheduledMeasures()
    {
        json c = config();
        c["adapter"] = "lora";
        c["sample_steps"] = 1;
        c["measure_time_budget"] = 0.0;
        const std::vector<json> events = train(c, path("budget"));
        // Only the start and the end: every scheduled one waited for a share that never fell to 0.
        QCOMPARE(measures(events, "diversity").size(), 2u);
        const json& summary
            = *std::find_if(events.begin(), events.end(), [](const json& e) { return e["event"] == "measures"; });
        QCOMPARE(summary["deferred"].get<int>(), 7);
    }

    void configurationErrors()
    {
        const fs::path prompts = path("prompts.txt");
        std::ofstream(prompts) << "plain prompt\n{\"prompt\": 3}\n";
        json c = config();
        c["sample_prompts"] = prompts.string();
        const TrainConfig parsed = TrainConfig::fromJson(c, m_plugins, "test config");
        QCOMPARE(parsed.samplePromptsFile, prompts.string());
        QCOMPARE(parsed.toJson()["sample_prompts"].get<std::string>(), prompts.string());
        try {
            train(c, path("bad_prompts"));
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("prompts.txt:2: field 'prompt' must be a string") != std::string::npos,
                e.what());
        }
        c = config();
        c["forgetting_reference"] = path("missing.jsonl").string();
        try {
            train(c, path("bad_reference"));
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("missing.jsonl: cannot open") != std::string::npos, e.what());
        }
        c = config();
        c["samples_per_prompt"] = 0;
        try {
            TrainConfig::fromJson(c, m_plugins, "test config");
            QFAIL("no error");
        } catch (const InputError& e) {
            QVERIFY2(std::string(e.what()).find("samples_per_prompt") != std::string::npos, e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestTrainingMeasures)
#include "test_training_measures.moc"
