// make-model, forward and generate through tunebench-cli, for every
// architecture, on a hand-written byte-level tokenizer (and on the real GPT-2
// files of ../shared/fixtures/tokenizers/gpt2 where they are beside the checkout).

#include "core/model/model_loader.h"
#include "core/model/safetensors.h"

#include "model_test_support.h"
#include "support/cli_runner.h"
#include "support/reference.h"

#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

class TestModelCli : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_root;

    QString path(const std::string& relative) const { return QString::fromStdString((m_root / relative).string()); }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(m_dir.isValid());
        m_root = QFile::encodeName(m_dir.path()).toStdString();
        model_test::writeTinyTokenizer(m_root / "tok");
        std::ofstream(m_root / "ids.jsonl") << "[1, 2, 3, 200, 5]\n\n[263, 7, 7, 7, 9, 10, 11, 12, 13]\n";
    }

    void help_data()
    {
        QTest::addColumn<QString>("command");
        QTest::newRow("make-model") << "make-model";
        QTest::newRow("generate") << "generate";
        QTest::newRow("forward") << "forward";
    }

    void help()
    {
        QFETCH(QString, command);
        const CliResult r = runCli({ command, "--help" });
        QCOMPARE(r.code, 0);
        QVERIFY(r.out.startsWith("Usage: tunebench-cli " + command));
    }

    void everyArchitecture_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::addColumn<QStringList>("extra");
        QTest::newRow("llama") << "llama" << QStringList { "--num-kv-heads", "2", "--rope-scaling", "llama3" };
        QTest::newRow("mistral") << "mistral" << QStringList { "--num-kv-heads", "1", "--sliding-window", "4" };
        QTest::newRow("qwen2") << "qwen2" << QStringList { "--num-kv-heads", "2" };
        QTest::newRow("qwen3") << "qwen3" << QStringList { "--num-kv-heads", "2", "--head-dim", "12" };
        QTest::newRow("gpt2") << "gpt2" << QStringList { "--intermediate-size", "80" };
    }

    void everyArchitecture()
    {
        QFETCH(QString, arch);
        QFETCH(QStringList, extra);
        const QString out = path(arch.toStdString());
        CliResult r = runCli(QStringList { "make-model", "--arch", arch, "--tokenizer", path("tok"), "--hidden-size",
                                 "32", "--num-layers", "2", "--num-heads", "4", "--seed", "3", "--out", out }
            + extra);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QVERIFY(r.out.contains("Wrote a random"));
        const fs::path dir = QFile::encodeName(out).toStdString();
        nlohmann::json config;
        std::ifstream(dir / "config.json") >> config;
        QCOMPARE(config["model_type"].get<std::string>(), arch.toStdString());
        QCOMPARE(config["vocab_size"].get<std::int64_t>(), model_test::kTinyTokenizerVocab);
        QCOMPARE(config["eos_token_id"].get<std::int64_t>(), std::int64_t(model_test::kTinyTokenizerEos));
        QVERIFY(fs::exists(dir / "tokenizer.json") && fs::exists(dir / "model.safetensors"));
        QCOMPARE(SafetensorsFile::open(dir / "model.safetensors").metadata().at("format"), std::string("pt"));

        // forward writes exactly what the model computes in-process.
        r = runCli({ "forward", "--model", out, "--input", path("ids.jsonl"), "--out", out + "/logits.safetensors" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const SafetensorsFile logits = SafetensorsFile::open(dir / "logits.safetensors");
        QCOMPARE(logits.names().size(), std::size_t(4));
        const auto model = loadCausalLM(dir);
        const at::Tensor ids = logits.tensor("input_ids.1");
        QVERIFY(at::equal(ids, at::tensor({ 263, 7, 7, 7, 9, 10, 11, 12, 13 }, at::kLong)));
        ForwardInput in;
        in.inputIds = ids.unsqueeze(0);
        QVERIFY(at::equal(logits.tensor("logits.1"), model->forward(in).logits[0]));
        QVERIFY(logits.tensor("logits.0").sizes() == at::IntArrayRef({ 5, model_test::kTinyTokenizerVocab }));

        // generate: greedy is deterministic, seeded sampling reproducible.
        const QStringList greedy { "generate", "--model", out, "--prompt", "the cat", "--max-new-tokens", "12" };
        r = runCli(greedy);
        QVERIFY2(r.code == 0, qPrintable(r.err));
        QCOMPARE(runCli(greedy).out, r.out);
        const QStringList sampled = greedy + QStringList { "--temperature", "1.5", "--top-p", "0.9", "--seed", "7" };
        const CliResult s1 = runCli(sampled);
        QVERIFY2(s1.code == 0, qPrintable(s1.err));
        QCOMPARE(runCli(sampled).out, s1.out);
    }

    // forward's padded batch: the rows' tokens get the logits of each row alone, whichever side the padding is
    // on (GPT-2's learned positions too: positions count each row's tokens). generate --prompt-ids with several
    // prompts: each continues as it would alone, and --json gives the ids.
    void paddedBatchAndTokenIds_data()
    {
        QTest::addColumn<QString>("arch");
        QTest::newRow("mistral") << "mistral"; // a window of 4 inside rows of 6
        QTest::newRow("gpt2") << "gpt2";
    }

    void paddedBatchAndTokenIds()
    {
        QFETCH(QString, arch);
        const QString model = path(arch.toStdString());
        const fs::path dir = QFile::encodeName(model).toStdString();
        std::ofstream(m_root / "batch.jsonl") << R"({"input_ids": [[5, 6, 7, 8, 9, 10], [11, 12, 13, 0, 0, 0], )"
                                              << R"([0, 0, 14, 15, 16, 17]], "attention_mask": [[1, 1, 1, 1, 1, 1], )"
                                              << R"([1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]]})"
                                              << "\n[14, 15, 16, 17]\n";
        CliResult r = runCli({ "forward", "--model", model, "--input", path("batch.jsonl"), "--out", path("b.st") });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const SafetensorsFile out = SafetensorsFile::open(m_root / "b.st");
        const at::Tensor logits = out.tensor("logits.0");
        QCOMPARE(logits.sizes().vec(), (std::vector<std::int64_t> { 3, 6, model_test::kTinyTokenizerVocab }));
        QCOMPARE(out.tensor("attention_mask.0").sizes().vec(), (std::vector<std::int64_t> { 3, 6 }));
        const auto m = loadCausalLM(dir);
        auto alone = [&](std::vector<std::int64_t> ids) {
            ForwardInput in;
            in.inputIds = at::tensor(ids, at::kLong).unsqueeze(0);
            return m->forward(in).logits[0];
        };
        QVERIFY(model_test::maxAbsDiff(logits[0], alone({ 5, 6, 7, 8, 9, 10 })) <= 1e-5);
        QVERIFY(model_test::maxAbsDiff(logits[1].narrow(0, 0, 3), alone({ 11, 12, 13 })) <= 1e-5);
        QVERIFY(model_test::maxAbsDiff(logits[2].narrow(0, 2, 4), alone({ 14, 15, 16, 17 })) <= 1e-5);
        QVERIFY(model_test::maxAbsDiff(logits[2].narrow(0, 2, 4), out.tensor("logits.1")) <= 1e-5);

        r = runCli({ "generate", "--model", model, "--prompt-ids", "[[5, 6, 7, 8, 9, 10], [11]]", "--json",
            "--max-new-tokens", "6" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        const QStringList lines = r.out.trimmed().split('\n');
        QCOMPARE(lines.size(), 2);
        for (int i = 0; i < 2; ++i) {
            const nlohmann::json together = nlohmann::json::parse(lines[i].toStdString());
            const std::string prompt = together["prompt_ids"].dump();
            const CliResult single = runCli({ "generate", "--model", model, "--prompt-ids",
                QString::fromStdString(prompt), "--json", "--max-new-tokens", "6" });
            QVERIFY2(single.code == 0, qPrintable(single.err));
            const nlohmann::json one = nlohmann::json::parse(single.out.toStdString());
            QCOMPARE(one["prompt_ids"], together["prompt_ids"]);
            QCOMPARE(one["ids"], together["ids"]);
            QCOMPARE(one["ids"].size(), std::size_t { 6 });
            QCOMPARE(one["finish_reason"].get<std::string>(), std::string("length"));
        }
    }

    void errors()
    {
        CliResult r = runCli({ "make-model", "--arch", "bert", "--tokenizer", path("tok"), "--hidden-size", "32",
            "--num-layers", "1", "--num-heads", "4", "--out", path("bad") });
        QCOMPARE(r.code, 2);
        QVERIFY(r.err.contains("unknown architecture 'bert'"));
        r = runCli({ "make-model", "--arch", "llama", "--tokenizer", path("tok"), "--hidden-size", "30", "--num-layers",
            "1", "--num-heads", "4", "--out", path("bad") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("not divisible by 4 heads"), qPrintable(r.err));
        r = runCli({ "generate", "--model", path("nowhere"), "--prompt", "x" });
        QCOMPARE(r.code, 1);
        std::ofstream(m_root / "bad.jsonl") << "[1, 2]\n[1, \"x\"]\n";
        r = runCli(
            { "forward", "--model", path("llama"), "--input", path("bad.jsonl"), "--out", path("x.safetensors") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("bad.jsonl:2: expected token ids"), qPrintable(r.err));
        std::ofstream(m_root / "far.jsonl") << "[1, 999]\n";
        r = runCli(
            { "forward", "--model", path("llama"), "--input", path("far.jsonl"), "--out", path("x.safetensors") });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("sequence 1: token id 999 is outside the vocabulary"), qPrintable(r.err));
        const char* badBatches[][2] = {
            { R"({"input_ids": [[1, 2], [3]]})", "row 1 of 'input_ids' has 1 entries, expected 2" },
            { R"({"input_ids": [[1, 2]], "attention_mask": [[1, 2]]})", "'attention_mask' holds 2" },
            { R"({"input_ids": [[1, 2]], "attention_mask": [[0, 0]]})", "row 0 of 'attention_mask' has no token" },
            { R"({"input_ids": [[1, 2]], "mask": [[1, 1]]})", "unknown field 'mask'" },
            { R"({"attention_mask": [[1, 1]]})", "field 'input_ids' is missing" },
        };
        for (const auto& [line, message] : badBatches) {
            std::ofstream(m_root / "bad-batch.jsonl") << "[1]\n" << line << "\n";
            r = runCli({ "forward", "--model", path("llama"), "--input", path("bad-batch.jsonl"), "--out",
                path("x.safetensors") });
            QCOMPARE(r.code, 1);
            QVERIFY2(r.err.contains("bad-batch.jsonl:2: ") && r.err.contains(message), qPrintable(r.err));
        }
        r = runCli({ "generate", "--model", path("llama"), "--prompt", "x", "--prompt-ids", "[1]" });
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("one of them"), qPrintable(r.err));
        r = runCli({ "generate", "--model", path("llama"), "--prompt-ids", "[1, -2]" });
        QCOMPARE(r.code, 2);
        QVERIFY2(r.err.contains("-2 is not a token id"), qPrintable(r.err));
    }

    // GPT-2's own vocab.json + merges.txt (a folder without tokenizer.json).
    void sharedGpt2Tokenizer()
    {
        REQUIRE_SHARED_FIXTURE(gpt2, "tokenizers/gpt2");
        const QString out = path("gpt2-shared");
        CliResult r = runCli({ "make-model", "--arch", "gpt2", "--tokenizer", gpt2, "--hidden-size", "32",
            "--num-layers", "1", "--num-heads", "2", "--out", out });
        QVERIFY2(r.code == 0, qPrintable(r.err));
        nlohmann::json config;
        std::ifstream(QFile::encodeName(out + "/config.json").toStdString()) >> config;
        QCOMPARE(config["vocab_size"].get<std::int64_t>(), std::int64_t(50257));
        r = runCli({ "generate", "--model", out, "--prompt", "Hello world", "--max-new-tokens", "5" });
        QVERIFY2(r.code == 0, qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestModelCli)
#include "test_model_cli.moc"
