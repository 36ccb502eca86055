// What the measures taken while training cost, on the CPU, on a small Llama
// (hidden 256, 4 layers, 8 heads with 4 key/value heads, MLP 688, vocabulary
// 32000: 19.3M parameters) trained with LoRA r 8 on q_proj and v_proj, batch
// 4 x up to 128 tokens:
//  - the seconds each measure adds per evaluation: sampling (4 prompts x 4
//    samples x 32 new tokens) split into generation, token entropy, text
//    measures and embedding diversity; forgetting on 16 texts of about 100
//    tokens and 8 probes (4 exact-match, 4 multiple-choice), the first time
//    with the base model's numbers computed, later from the workspace cache;
//    weight space over the 28 linear layers and the output head;
//  - the optimiser step time without measures, for scale;
//  - the share of wall time the measures took in 40- and 200-step runs
//    measuring every 5 steps under the default budget (0.1), and how many
//    waited; the measurements at the start and the end always run.
// One CPU thread: on a shared 2-core machine OpenMP's spinning threads made
// every small operation many times slower (and the numbers noise).
// The model is random, so most sampled ids lie outside the tiny test
// tokenizer and decode to nothing: the text measures' cost is a lower bound.
// Asserts only that the runs finished.
//
// Run: ctest -L bench -R bench_measures -V, or build/tests/bench_measures directly.

#include "core/method/plugin_registry.h"
#include "core/model/model_writer.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

class BenchMeasures : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    fs::path m_data;
    fs::path m_reference;
    PluginRegistry m_plugins;

    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

    json config(std::int64_t steps) const
    {
        return { { "model", m_model.string() }, { "dataset", m_data.string() }, { "adapter", "lora" }, { "lora_r", 8 },
            { "lora_alpha", 16 }, { "target_modules", { "q_proj", "v_proj" } }, { "learning_rate", 1e-3 },
            { "per_device_train_batch_size", 4 }, { "cutoff_len", 128 }, { "max_steps", steps }, { "seed", 1 },
            { "threads", 1 } };
    }

    json withMeasures(json c, std::int64_t every) const
    {
        c["sample_prompts"] = { "The weather today", "Once upon a time", "The capital of France", "In the lab" };
        c["samples_per_prompt"] = 4;
        c["sample_max_new_tokens"] = 32;
        c["sample_steps"] = every;
        c["forgetting_reference"] = m_reference.string();
        c["forgetting_steps"] = every;
        c["weight_analysis"] = true;
        c["save_steps"] = every;
        return c;
    }

    struct Timed {
        std::vector<json> events;
        std::vector<double> stepSeconds; // between consecutive step events with nothing else between
    };

    Timed train(const json& c, const std::string& name)
    {
        Workspace ws = Workspace::isWorkspace(path("ws")) ? Workspace::open(path("ws")) : Workspace::create(path("ws"));
        const std::int64_t runId = RunStore(ws.db()).create({ name });
        Timed t;
        auto last = std::chrono::steady_clock::now();
        bool clean = false;
        TrainerOptions o;
        o.runDir = path(name);
        o.workspace = &ws;
        o.runId = runId;
        o.events = [&](const json& e) {
            const auto now = std::chrono::steady_clock::now();
            if (e["event"] == "step") {
                if (clean)
                    t.stepSeconds.push_back(std::chrono::duration<double>(now - last).count());
                clean = true;
            } else {
                clean = false;
            }
            last = now;
            t.events.push_back(e);
        };
        const TrainResult r = runTraining(TrainConfig::fromJson(c, m_plugins, name), m_plugins, o);
        if (r.status != TrainResult::Status::Finished)
            qFatal("run %s did not finish", name.c_str());
        return t;
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = path("model");
        model_test::writeTinyTokenizer(m_model);
        RandomModelSpec spec;
        spec.architecture = Architecture::Llama;
        spec.vocabSize = 32000;
        spec.hiddenSize = 256;
        spec.numLayers = 4;
        spec.numHeads = 8;
        spec.numKvHeads = 4;
        spec.intermediateSize = 688;
        spec.eosTokenIds = { model_test::kTinyTokenizerEos };
        saveModelFolder(*createRandomCausalLM(randomModelConfig(spec), 1), m_model);
        std::mt19937 rng(5);
        const char* words[] = { "the", "model", "learns", "a", "river", "quietly", "under", "bright", "lamps", "of",
            "old", "cities", "while", "numbers", "fall", "and", "rise" };
        auto sentence = [&](int n) {
            std::string s;
            for (int i = 0; i < n; ++i) {
                if (i > 0)
                    s.push_back(' ');
                s.append(words[rng() % 17]);
            }
            return s;
        };
        m_data = path("data.jsonl");
        {
            std::ofstream out(m_data);
            for (int i = 0; i < 64; ++i)
                out << json({ { "text", sentence(30) } }).dump() << "\n";
        }
        m_reference = path("reference.jsonl");
        std::ofstream ref(m_reference);
        for (int i = 0; i < 16; ++i)
            ref << json({ { "text", sentence(20) } }).dump() << "\n";
        for (int i = 0; i < 4; ++i)
            ref << json({ { "prompt", sentence(8) }, { "answer", sentence(3).insert(0, 1, ' ') } }).dump() << "\n";
        for (int i = 0; i < 4; ++i)
            ref << json(
                { { "prompt", sentence(8) }, { "choices", { " river", " lamps", " cities" } }, { "answer", i % 3 } })
                       .dump()
                << "\n";
        m_plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
    }

    void costPerMeasure()
    {
        const Timed plain = train(config(8), "plain");
        const double step = median(plain.stepSeconds);
        json c = withMeasures(config(10), 5);
        c["measure_time_budget"] = 1.0; // every scheduled measurement runs
        const Timed measured = train(c, "measured");
        std::printf("model: llama hidden 256, 4 layers, 8 heads (4 kv), MLP 688, vocabulary 32000, 19.3M parameters; "
                    "LoRA r 8 on q_proj, v_proj; batch 4 x <= 128 tokens\n");
        std::printf("optimiser step without measures: %.3f s (median)\n", step);
        std::vector<double> diversity, generation, entropy, text, embedding, forgettingFirst, forgettingCached, weights;
        for (const json& e : measured.events) {
            if (e["event"] != "measure")
                continue;
            const double s = e["seconds"].get<double>();
            if (e["kind"] == "diversity") {
                diversity.push_back(s);
                generation.push_back(e["seconds_by_part"]["generation"].get<double>());
                entropy.push_back(e["seconds_by_part"]["token_entropy"].get<double>());
                text.push_back(e["seconds_by_part"]["text"].get<double>());
                embedding.push_back(e["seconds_by_part"]["embedding"].get<double>());
            } else if (e["kind"] == "forgetting") {
                (e["base_cached"].get<bool>() ? forgettingCached : forgettingFirst).push_back(s);
            } else if (e["kind"] == "weights") {
                weights.push_back(s);
            }
        }
        std::printf("seconds per evaluation (median of %zu):\n", diversity.size());
        std::printf("  sampling + diversity   %.3f  (16 samples x 32 tokens)\n", median(diversity));
        std::printf("    generation           %.3f\n", median(generation));
        std::printf("    token entropy        %.3f\n", median(entropy));
        std::printf("    text measures        %.4f  (distinct-n, EAD, self-BLEU)\n", median(text));
        std::printf("    embedding diversity  %.3f\n", median(embedding));
        std::printf("  forgetting, base computed  %.3f  (%zu runs)\n", median(forgettingFirst), forgettingFirst.size());
        std::printf("  forgetting, base cached    %.3f  (%zu runs; 16 texts, 8 probes)\n", median(forgettingCached),
            forgettingCached.size());
        std::printf("  weight space           %.3f  (%zu runs)\n", median(weights), weights.size());
        QVERIFY(!diversity.empty() && !weights.empty() && !forgettingCached.empty());
    }

    void shareUnderDefaultBudget()
    {
        for (const int steps : { 40, 200 }) {
            const Timed run = train(withMeasures(config(steps), 5), "budget" + std::to_string(steps));
            const auto summary = std::find_if(
                run.events.begin(), run.events.end(), [](const json& e) { return e["event"] == "measures"; });
            QVERIFY(summary != run.events.end());
            const json& e = *summary;
            std::printf("%d steps, measures every 5 steps, budget %.2f: %lld measurements, %lld deferrals, "
                        "%.2f s of measures, time share %.3f\n",
                steps, e["time_budget"].get<double>(), static_cast<long long>(e["measurements"].get<std::int64_t>()),
                static_cast<long long>(e["deferred"].get<std::int64_t>()), e["seconds"].get<double>(),
                e["time_share"].get<double>());
        }
    }
};

QTEST_GUILESS_MAIN(BenchMeasures)
#include "bench_measures.moc"
