// Forgetting measures on a tiny model: numbers known by hand (a zero output
// head predicts uniformly), KL = 0 against itself, probes, the workspace cache
// and the CLI, with a model folder and with a trained run's adapter.

#include "core/method/plugin_registry.h"
#include "core/metrics/forgetting.h"
#include "core/metrics/sample_measures.h"
#include "core/model/causal_lm.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/model/model_writer.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/trainer.h"
#include "model/model_test_support.h"
#include "support/cli_runner.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void writeLines(const fs::path& path, const std::vector<json>& records)
{
    std::ofstream out(path, std::ios::binary);
    for (const json& r : records)
        out << r.dump() << "\n";
}

QJsonObject parse(const CliResult& r)
{
    return QJsonDocument::fromJson(r.out.toUtf8()).object();
}

} // namespace

class TestForgetting : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_base; // a random Llama
    fs::path m_uniform; // the same with a zero output head: every next token has probability 1/V
    fs::path m_reference;

    fs::path path(const char* name) const { return fs::path(m_dir.path().toStdString()) / name; }

private Q_SLOTS:
    void initTestCase()
    {
        m_base = path("base");
        m_uniform = path("uniform");
        model_test::writeTinyTokenizer(m_base);
        model_test::writeTinyTokenizer(m_uniform);
        std::unique_ptr<CausalLM> model = createRandomCausalLM(randomModelConfig(model_test::tinyFolderSpec()), 5);
        saveModelFolder(*model, m_base);
        model->setParameter("lm_head.weight", at::zeros_like(model->parameter("lm_head.weight")));
        saveModelFolder(*model, m_uniform);
        m_reference = path("reference.jsonl");
        writeLines(m_reference,
            { { { "text", "the cat sat on the mat" } }, { { "text", "a bird sang in the tree at dawn" } } });
    }

    void referenceSetErrors()
    {
        const fs::path bad = path("bad.jsonl");
        auto expectError = [&](const std::string& content, const char* message) {
            std::ofstream(bad, std::ios::binary) << content;
            try {
                ReferenceSet::load(bad);
                QFAIL("no error");
            } catch (const InputError& e) {
                QVERIFY2(std::string(e.what()).find(message) != std::string::npos, e.what());
            }
        };
        expectError("{\"text\": \"ok\"}\n\n{\"text\": 3}\n", "bad.jsonl:3: field 'text' must be a string");
        expectError("{\"prompt\": \"q\"}\n", "bad.jsonl:1: a record has either 'text', or 'prompt' with 'answer'");
        expectError("{\"prompt\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": \"c\"}\n",
            "bad.jsonl:1: field 'answer' (\"c\") is not one of the choices");
        expectError("{\"prompt\": \"q\", \"choices\": [\"a\", \"b\"], \"answer\": 2}\n",
            "bad.jsonl:1: field 'answer' is index 2 but there are 2 choices");
        expectError("\n", "bad.jsonl: the reference set has no records");
        expectError("not json\n", "bad.jsonl:1: expected a JSON object");
        const ReferenceSet ok = ReferenceSet::load(m_reference);
        QCOMPARE(ok.items.size(), 2u);
        QCOMPARE(ok.probes(), 0);
    }

    void uniformModelByHand()
    {
        const Tokenizer tokenizer = Tokenizer::fromFolder(m_base);
        const EncodedReference ref = encodeReference(ReferenceSet::load(m_reference), tokenizer, 1024);
        const auto base = loadCausalLM(m_base);
        const auto uniform = loadCausalLM(m_uniform);
        // Tuned = the uniform model: its loss is log V on every token, whatever the text.
        const ForgettingResult r
            = measureForgetting([&](bool b) -> const CausalLM& { return b ? *base : *uniform; }, tokenizer, ref);
        const double logV = std::log(static_cast<double>(model_test::kTinyTokenizerVocab));
        QVERIFY2(std::abs(r.tuned.loss - logV) < 1e-5, qPrintable(QString::number(r.tuned.loss, 'g', 12)));
        QCOMPARE(r.tuned.tokens, ref.scoredTokens());
        QCOMPARE(r.deltaLoss(), r.tuned.loss - r.base.loss);
        // KL(base || uniform) = log V - H(base), per token, so KL + H(base) = log V.
        double entropy = 0;
        for (const auto& s : ref.sequences) {
            const EntropySum e = continuationEntropy(*base, std::vector<std::int32_t>(s.ids.begin(), s.ids.begin() + 1),
                std::vector<std::int32_t>(s.ids.begin() + 1, s.ids.end()));
            entropy += e.sum;
        }
        entropy /= static_cast<double>(r.tuned.tokens);
        QVERIFY2(std::abs(r.kl + entropy - logV) < 1e-4, qPrintable(QString::number(r.kl + entropy - logV)));
        // The base against itself: KL 0, no change.
        const ForgettingResult self = measureForgetting([&](bool) -> const CausalLM& { return *base; }, tokenizer, ref);
        QVERIFY(std::abs(self.kl) < 1e-9);
        QCOMPARE(self.deltaLoss(), 0.0);
        QVERIFY(self.base.loss > 0);
    }

    void probes()
    {
        const Tokenizer tokenizer = Tokenizer::fromFolder(m_base);
        const auto base = loadCausalLM(m_base);
        const auto uniform = loadCausalLM(m_uniform);
        // The base model's own greedy continuation is a probe it answers right.
        GenerationOptions o;
        o.maxNewTokens = 3;
        const auto prompt = tokenizer.encode("the cat", true);
        const std::string answer = tokenizer.decode(generate(*base, { prompt }, o)[0].tokens, true);
        QVERIFY2(answer.find_first_not_of(" \t\n") != std::string::npos, answer.c_str());
        const fs::path probes = path("probes.jsonl");
        // Multiple choice with single-token choices: the uniform model scores them alike and takes the
        // first, right for the first probe (answer 0), wrong for the second (answer 1).
        writeLines(probes,
            { { { "prompt", "the cat" }, { "answer", answer } },
                { { "prompt", "pick" }, { "choices", { "a", "b" } }, { "answer", 0 } },
                { { "prompt", "pick" }, { "choices", { "a", "b" } }, { "answer", "b" } } });
        const ReferenceSet set = ReferenceSet::load(probes);
        QCOMPARE(set.probes(), 3);
        const EncodedReference ref = encodeReference(set, tokenizer, 1024);
        const ForgettingResult r
            = measureForgetting([&](bool b) -> const CausalLM& { return b ? *base : *uniform; }, tokenizer, ref);
        QCOMPARE(r.base.probes, 3);
        QVERIFY(r.base.correct >= 1); // the greedy probe (the choices depend on the random model)
        QCOMPARE(r.tuned.correct, 1); // the uniform model: first choice right only (its greedy text is id 0's)
        QVERIFY(std::abs(r.probeAccuracyDelta() - (1.0 / 3 - r.base.accuracy())) < 1e-12);
    }

    void cliAndCache()
    {
        const QString ws = m_dir.path() + "/ws";
        Workspace::create(ws.toStdString());
        const QStringList args = { "measure", "forgetting", "--model", QString::fromStdString(m_uniform.string()),
            "--base", QString::fromStdString(m_base.string()), "--reference",
            QString::fromStdString(m_reference.string()), "--workspace", ws };
        CliResult first = runCli(args);
        QVERIFY2(first.code == 0, qPrintable(first.err));
        const QJsonObject a = parse(first);
        QVERIFY(std::abs(a["loss"].toDouble() - std::log(264.0)) < 1e-5);
        QVERIFY(a["kl"].toDouble() > 0);
        QVERIFY(!a["base_cached"].toBool());
        QVERIFY(!a.contains("probe_accuracy_delta"));
        QVERIFY(std::abs(a["delta_loss"].toDouble() - (a["loss"].toDouble() - a["base_loss"].toDouble())) < 1e-12);
        QVERIFY(fs::exists(fs::path(ws.toStdString()) / "cache" / "forgetting"));
        const QJsonObject b = parse(runCli(args));
        QVERIFY(b["base_cached"].toBool());
        QCOMPARE(b["base_loss"].toDouble(), a["base_loss"].toDouble());
        QCOMPARE(b["kl"].toDouble(), a["kl"].toDouble());

        // A model against itself: KL 0 and no change.
        CliResult self = runCli({ "measure", "forgetting", "--model", QString::fromStdString(m_base.string()), "--base",
            QString::fromStdString(m_base.string()), "--reference", QString::fromStdString(m_reference.string()) });
        QVERIFY2(self.code == 0, qPrintable(self.err));
        QCOMPARE(parse(self)["kl"].toDouble(), 0.0);
        QCOMPARE(parse(self)["delta_loss"].toDouble(), 0.0);

        // A bad reference file names its line.
        const fs::path bad = path("bad_cli.jsonl");
        std::ofstream(bad) << "{\"text\": \"fine\"}\n{\"prompt\": 1, \"answer\": \"x\"}\n";
        CliResult err = runCli({ "measure", "forgetting", "--model", QString::fromStdString(m_base.string()), "--base",
            QString::fromStdString(m_base.string()), "--reference", QString::fromStdString(bad.string()) });
        QCOMPARE(err.code, 1);
        QVERIFY2(err.err.contains("bad_cli.jsonl:2: field 'prompt' must be a string"), qPrintable(err.err));
    }

    void cliWithTrainedAdapter()
    {
        // A LoRA run trained on the reference texts: the adapter lowers their loss, so forgetting
        // against the base shows a negative delta and a positive KL.
        PluginRegistry plugins;
        plugins.load({ fs::path(TUNEBENCH_BINARY_DIR) / "plugins" });
        const fs::path data = path("train.jsonl");
        std::vector<json> rows;
        for (int i = 0; i < 8; ++i)
            rows.push_back({ { "text", i % 2 ? "the cat sat on the mat" : "a bird sang in the tree at dawn" } });
        writeLines(data, rows);
        const json config = { { "model", m_base.string() }, { "dataset", data.string() }, { "adapter", "lora" },
            { "lora_r", 4 }, { "learning_rate", 5e-2 }, { "per_device_train_batch_size", 4 }, { "max_steps", 12 },
            { "seed", 3 }, { "threads", 1 } };
        TrainerOptions o;
        o.runDir = path("lora_run");
        runTraining(TrainConfig::fromJson(config, plugins, "test"), plugins, o);
        QVERIFY(fs::exists(o.runDir / "adapter" / "adapter_config.json"));
        CliResult r = runCli({ "measure", "forgetting", "--model", QString::fromStdString(m_base.string()), "--adapter",
            QString::fromStdString((o.runDir / "adapter").string()), "--base", QString::fromStdString(m_base.string()),
            "--reference", QString::fromStdString(m_reference.string()) });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QJsonObject j = parse(r);
        QVERIFY2(j["delta_loss"].toDouble() < -0.5, qPrintable(r.out));
        QVERIFY(j["kl"].toDouble() > 0.1);

        CliResult missing = runCli({ "measure", "forgetting", "--model", QString::fromStdString(m_base.string()),
            "--adapter", QString::fromStdString(o.runDir.string()), "--base", QString::fromStdString(m_base.string()),
            "--reference", QString::fromStdString(m_reference.string()) });
        QCOMPARE(missing.code, 1);
        QVERIFY2(missing.err.contains("adapter_config.json"), qPrintable(missing.err));
    }
};

QTEST_GUILESS_MAIN(TestForgetting)
#include "test_forgetting.moc"
