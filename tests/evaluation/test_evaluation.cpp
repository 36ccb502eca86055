// Evaluation tasks on a tiny model: each kind against numbers computed here by a
// plain forward and log_softmax (not through the code under test), acc against
// acc_norm on a model whose every next-token distribution is uniform, answer
// extraction, few-shot prompts, and bad task files refused with their place.

#include "core/evaluation/evaluate.h"
#include "core/model/model_loader.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <cmath>
#include <fstream>

using namespace tunebench;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void writeText(const fs::path& path, const std::string& text)
{
    std::ofstream(path, std::ios::binary) << text;
}

std::string jsonl(const std::vector<json>& records)
{
    std::string out;
    for (const json& r : records)
        out += r.dump() + "\n";
    return out;
}

} // namespace

class TestEvaluation : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_model;
    std::unique_ptr<CausalLM> m_lm;
    std::optional<Tokenizer> m_tokenizer;

    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

    // Summed log-probability of `continuation` after `context`, by one forward of the whole sequence alone.
    double handLogLikelihood(const std::vector<std::int32_t>& context, const std::vector<std::int32_t>& continuation,
        const CausalLM& model) const
    {
        std::vector<std::int64_t> all(context.begin(), context.end());
        all.insert(all.end(), continuation.begin(), continuation.end());
        const auto n = static_cast<std::int64_t>(all.size());
        const at::Tensor ids = at::tensor(all, at::kLong).unsqueeze(0);
        const at::Tensor logits = model_test::logitsOf(model, ids.narrow(1, 0, n - 1))[0].to(at::kDouble);
        const at::Tensor logProbs = at::log_softmax(logits, -1);
        double sum = 0;
        for (std::int64_t t = static_cast<std::int64_t>(context.size()); t < n; ++t)
            sum += logProbs[t - 1][all[static_cast<std::size_t>(t)]].item<double>();
        return sum;
    }

    EvalTaskFile load(const std::string& yaml, const std::string& name = "tasks.yaml")
    {
        writeText(path(name), yaml);
        return EvalTaskFile::load(path(name));
    }

private Q_SLOTS:
    void initTestCase()
    {
        m_model = path("model");
        model_test::writeTinyModelFolder(m_model, 5);
        m_lm = loadCausalLM(m_model);
        m_tokenizer.emplace(Tokenizer::fromFolder(m_model));
        writeText(path("mc.jsonl"),
            jsonl(
                { { { "q", "the cat sat on the" }, { "options", { "mat", "dog", "hat in the rain" } }, { "gold", 0 } },
                    { { "q", "a bird in the" }, { "options", { "tree", "sky" } }, { "gold", "sky" } },
                    { { "q", "one two" }, { "options", { "three", "four", "on" } }, { "gold", 2 } } }));
        writeText(path("text.jsonl"),
            jsonl({ { { "text", "the cat sat on the mat" } }, { { "text", "a quiet river in the hills, één" } } }));
    }

    void multipleChoiceMatchesHandComputedLogLikelihoods()
    {
        const EvalTaskFile file = load("tasks:\n  - name: mc\n    kind: multiple_choice\n    data: mc.jsonl\n"
                                       "    prompt: \"Q: {q}\"\n    choices: options\n    answer: gold\n");
        const EvalTaskResult r = evaluateTask(*m_lm, *m_tokenizer, file.tasks[0]);
        QCOMPARE(r.n, 3);
        QCOMPARE(r.items.size(), 3u);
        const std::vector<std::string> prompts = { "Q: the cat sat on the", "Q: a bird in the", "Q: one two" };
        const std::vector<int> gold = { 0, 1, 2 };
        double worst = 0, acc = 0, accNorm = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            QCOMPARE(r.items[i].context, prompts[i]);
            const auto& choices = file.tasks[0].records[i].choices;
            QCOMPARE(r.items[i].logLikelihoods.size(), choices.size());
            // The harness's split: context and continuation encoded together, cut after the context's tokens.
            const std::vector<std::int32_t> context = m_tokenizer->encode(prompts[i], true);
            int best = 0, bestNorm = 0;
            std::vector<double> lls;
            for (std::size_t c = 0; c < choices.size(); ++c) {
                const std::vector<std::int32_t> whole = m_tokenizer->encode(prompts[i] + " " + choices[c], true);
                QVERIFY(std::equal(context.begin(), context.end(), whole.begin()));
                const std::vector<std::int32_t> continuation(
                    whole.begin() + static_cast<long>(context.size()), whole.end());
                lls.push_back(handLogLikelihood(context, continuation, *m_lm));
                worst = std::max(worst, std::abs(lls[c] - r.items[i].logLikelihoods[c]));
                if (lls[c] > lls[static_cast<std::size_t>(best)])
                    best = static_cast<int>(c);
                const auto len = [&](std::size_t k) { return static_cast<double>(choices[k].size()); }; // ASCII
                if (lls[c] / len(c) > lls[static_cast<std::size_t>(bestNorm)] / len(static_cast<std::size_t>(bestNorm)))
                    bestNorm = static_cast<int>(c);
            }
            QCOMPARE(r.items[i].predicted, best);
            QCOMPARE(r.items[i].predictedNorm, bestNorm);
            acc += best == gold[i] ? 1 : 0;
            accNorm += bestNorm == gold[i] ? 1 : 0;
        }
        qInfo("worst log-likelihood difference %.3g", worst);
        QVERIFY(worst < 1e-4);
        QCOMPARE(r.metrics.at(0).first, std::string("acc"));
        QCOMPARE(r.metrics.at(0).second, acc / 3);
        QCOMPARE(r.metrics.at(1).first, std::string("acc_norm"));
        QCOMPARE(r.metrics.at(1).second, accNorm / 3);
    }

    // A model whose final norm is zero gives zero logits: every token costs ln(264). " x" is two tokens (1
    // character), " the the the" three merged tokens (11 characters): acc picks the first, acc_norm the second.
    void accAndAccNormDifferOnLengths()
    {
        std::unique_ptr<CausalLM> flat = loadCausalLM(m_model);
        flat->setParameter("model.norm.weight", at::zeros({ 32 }));
        writeText(
            path("len.jsonl"), jsonl({ { { "q", "pick" }, { "options", { "x", "the the the" } }, { "gold", 1 } } }));
        const EvalTaskFile file = load("tasks:\n  - name: len\n    kind: multiple_choice\n    data: len.jsonl\n"
                                       "    prompt: \"{q}\"\n    choices: options\n    answer: gold\n");
        QCOMPARE(m_tokenizer->encode(" x").size(), 2u);
        QCOMPARE(m_tokenizer->encode(" the the the").size(), 3u);
        const EvalTaskResult r = evaluateTask(*flat, *m_tokenizer, file.tasks[0]);
        const double lnV = std::log(264.0);
        QVERIFY(std::abs(r.items[0].logLikelihoods[0] + 2 * lnV) < 1e-5);
        QVERIFY(std::abs(r.items[0].logLikelihoods[1] + 3 * lnV) < 1e-5);
        QCOMPARE(r.items[0].predicted, 0);
        QCOMPARE(r.items[0].predictedNorm, 1);
        QCOMPARE(r.metrics[0].second, 0.0); // acc
        QCOMPARE(r.metrics[1].second, 1.0); // acc_norm
    }

    void generationMatchesHandGreedyDecoding()
    {
        writeText(path("gen.jsonl"),
            jsonl({ { { "q", "the cat" }, { "a", "5" } }, { { "q", "on the hill" }, { "a", 12 } },
                { { "q", "in" }, { "a", "x" } } }));
        const EvalTaskFile file
            = load("tasks:\n  - name: gen\n    kind: generation\n    data: gen.jsonl\n"
                   "    prompt: \"{q}\"\n    answer: a\n    max_new_tokens: 6\n    until: [\"\\n\"]\n");
        EvalOptions o;
        o.batchSize = 2; // one batch of two (left-padded) and one of one
        const EvalTaskResult r = evaluateTask(*m_lm, *m_tokenizer, file.tasks[0], o);
        QCOMPARE(r.n, 3);
        double correct = 0;
        for (std::size_t i = 0; i < 3; ++i) {
            // Greedy by full forwards, no cache: the argmax of the last position, until EOS or 6 tokens.
            std::vector<std::int32_t> ids = m_tokenizer->encode(file.tasks[0].records[i].prompt, true);
            const std::size_t promptLength = ids.size();
            for (int step = 0; step < 6; ++step) {
                std::vector<std::int64_t> wide(ids.begin(), ids.end());
                const at::Tensor logits = model_test::logitsOf(*m_lm, at::tensor(wide, at::kLong).unsqueeze(0));
                const auto next = static_cast<std::int32_t>(logits[0][-1].argmax().item<std::int64_t>());
                ids.push_back(next);
                if (next == model_test::kTinyTokenizerEos)
                    break;
            }
            const std::vector<std::int32_t> continuation(ids.begin() + static_cast<long>(promptLength), ids.end());
            std::string text = m_tokenizer->decode(continuation, true);
            if (const auto cut = text.find('\n'); cut != std::string::npos)
                text.resize(cut);
            QCOMPARE(r.items[i].generated, text);
            QVERIFY(r.items[i].extracted.has_value()); // no regex: the trimmed text
            const bool ok = *r.items[i].extracted == file.tasks[0].records[i].answer;
            QCOMPARE(r.items[i].correct, ok);
            correct += ok ? 1 : 0;
        }
        QCOMPARE(r.metrics.at(0).first, std::string("exact_match"));
        QCOMPARE(r.metrics.at(0).second, correct / 3);
    }

    // The zero-norm model always emits id 0, the byte 0x00: three tokens give three NUL characters.
    void generationExactMatchThroughRegex()
    {
        std::unique_ptr<CausalLM> flat = loadCausalLM(m_model);
        flat->setParameter("model.norm.weight", at::zeros({ 32 }));
        const std::string three(3, '\0'), two(2, '\0');
        writeText(path("nul.jsonl"),
            jsonl({ { { "q", "a" }, { "a", three } }, { { "q", "b" }, { "a", two } },
                { { "q", "c" }, { "a", three } } }));
        const EvalTaskFile file
            = load("tasks:\n  - name: nul\n    kind: generation\n    data: nul.jsonl\n"
                   "    prompt: \"{q}\"\n    answer: a\n    max_new_tokens: 3\n    regex: \"(\\\\x00+)\"\n"
                   "  - name: digits\n    kind: generation\n    data: nul.jsonl\n"
                   "    prompt: \"{q}\"\n    answer: a\n    max_new_tokens: 3\n    regex: \"([0-9]+)\"\n");
        QCOMPARE(file.tasks[0].regex, std::string("(\\x00+)"));
        const auto results = evaluateTasks(*flat, *m_tokenizer, file);
        QVERIFY(results[0].items[0].generated == three);
        QVERIFY(results[0].items[1].extracted == three);
        QCOMPARE(results[0].metrics[0].second, 2.0 / 3.0);
        QVERIFY(!results[1].items[0].extracted); // no number: wrong, as the harness's "[invalid]"
        QCOMPARE(results[1].metrics[0].second, 0.0);
    }

    void perplexityMatchesHandComputedNll()
    {
        const EvalTaskFile file = load("tasks:\n  - name: ppl\n    kind: perplexity\n    data: text.jsonl\n");
        const EvalTaskResult r = evaluateTask(*m_lm, *m_tokenizer, file.tasks[0]);
        double nll = 0, bytes = 0;
        std::int64_t tokens = 0;
        for (const std::string text : { "the cat sat on the mat", "a quiet river in the hills, één" }) {
            const std::vector<std::int32_t> ids = m_tokenizer->encode(text);
            nll -= handLogLikelihood({ *m_tokenizer->bosId() }, ids, *m_lm);
            tokens += static_cast<std::int64_t>(ids.size());
            bytes += static_cast<double>(text.size());
        }
        QCOMPARE(r.metrics.at(0).first, std::string("perplexity"));
        QCOMPARE(r.metrics.at(1).first, std::string("bits_per_byte"));
        const double ppl = std::exp(nll / static_cast<double>(tokens));
        const double bpb = nll / (std::log(2.0) * bytes);
        qInfo("perplexity %.6g (hand %.6g), bits per byte %.6g (hand %.6g)", r.metrics[0].second, ppl,
            r.metrics[1].second, bpb);
        QVERIFY(std::abs(r.metrics[0].second - ppl) / ppl < 1e-5);
        QVERIFY(std::abs(r.metrics[1].second - bpb) < 1e-5);
        // Windows of 4 tokens (each seeing only its own tokens and the one before) change the numbers.
        EvalOptions shortWindows;
        shortWindows.maxLength = 4;
        const EvalTaskResult w = evaluateTask(*m_lm, *m_tokenizer, file.tasks[0], shortWindows);
        QCOMPARE(w.items[0].tokens, r.items[0].tokens);
        QVERIFY(std::abs(w.items[0].nll - r.items[0].nll) > 1e-6);
    }

    void extractAnswer_data()
    {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("regex");
        QTest::addColumn<int>("select");
        QTest::addColumn<QString>("expected"); // "<none>": no match
        QTest::newRow("first of several numbers") << "3 apples and 4 pears"
                                                  << "(-?[0-9]+)" << 0 << "3";
        QTest::newRow("last of several numbers") << "3 apples and 4 pears"
                                                 << "(-?[0-9]+)" << -1 << "4";
        QTest::newRow("second") << "3 apples and 4 pears"
                                << "(-?[0-9]+)" << 1 << "4";
        QTest::newRow("past the matches") << "3 apples"
                                          << "(-?[0-9]+)" << 2 << "<none>";
        QTest::newRow("no match") << "no digits here"
                                  << "([0-9]+)" << 0 << "<none>";
        QTest::newRow("no group: the whole match") << "is 19."
                                                   << "[0-9]+" << 0 << "19";
        QTest::newRow("first group that took part") << "answer: 7"
                                                    << "(x)?answer: ([0-9])" << 0 << "7";
        QTest::newRow("answer marker") << "12 + 7 = 19 #### 19"
                                       << "#### (\\-?[0-9\\.\\,]+)" << 0 << "19";
        QTest::newRow("no regex: trimmed text") << "  19 \n"
                                                << "" << 0 << "19";
        QTest::newRow("unicode") << "café 42"
                                 << "é ([0-9]+)" << 0 << "42";
    }
    void extractAnswer()
    {
        QFETCH(QString, text);
        QFETCH(QString, regex);
        QFETCH(int, select);
        QFETCH(QString, expected);
        const auto got = tunebench::extractAnswer(text.toStdString(), regex.toStdString(), select);
        QCOMPARE(got ? QString::fromStdString(*got) : QString("<none>"), expected);
    }

    void answerComparison()
    {
        QVERIFY(answerMatches(" 19 ", "19", false, 0));
        QVERIFY(!answerMatches("19.0", "19", false, 0));
        QVERIFY(answerMatches("19.0", "19", true, 1e-6));
        QVERIFY(answerMatches("1,000", "1000", true, 1e-6));
        QVERIFY(answerMatches("0.333", "0.3333", true, 1e-3));
        QVERIFY(!answerMatches("0.33", "0.3333", true, 1e-3));
        QVERIFY(!answerMatches("19x", "19", true, 1e-6));
        QVERIFY(!answerMatches("", "0", true, 1e-6));
        QVERIFY_THROWS_EXCEPTION(InputError, tunebench::extractAnswer("x", "(", 0));
    }

    void fewshotPrompts()
    {
        writeText(path("two.jsonl"), jsonl({ { { "q", "a" }, { "a", "x" } }, { { "q", "b" }, { "a", "y" } } }));
        writeText(path("many.jsonl"),
            jsonl({ { { "q", "q0" }, { "a", 0 } }, { { "q", "q1" }, { "a", 1 } }, { { "q", "q2" }, { "a", 2 } },
                { { "q", "q3" }, { "a", 3 } }, { { "q", "q4" }, { "a", 4 } }, { { "q", "q5" }, { "a", 5 } } }));
        const EvalTaskFile file = load("tasks:\n  - name: two\n    kind: generation\n    data: two.jsonl\n"
                                       "    prompt: \"Q: {q}\\nA:\"\n    answer: a\n    num_fewshot: 1\n"
                                       "  - name: many\n    kind: generation\n    data: many.jsonl\n"
                                       "    prompt: \"Q: {q} {{x}}\\nA:\"\n    answer: a\n    num_fewshot: 3\n");
        // One other record: the example is known exactly.
        QCOMPARE(file.tasks[0].context(1, 99), std::string("Q: a\nA: x\n\nQ: b\nA:"));
        QCOMPARE(file.tasks[0].context(0, 5), std::string("Q: b\nA: y\n\nQ: a\nA:"));
        const EvalTask& many = file.tasks[1];
        QCOMPARE(many.records[2].prompt, std::string("Q: q2 {x}\nA:"));
        bool seedMatters = false;
        for (std::size_t i = 0; i < 6; ++i) {
            const auto drawn = many.fewshotIndices(i, 1234);
            QCOMPARE(drawn.size(), 3u);
            QVERIFY(std::find(drawn.begin(), drawn.end(), i) == drawn.end()); // never itself
            QCOMPARE(std::set<std::size_t>(drawn.begin(), drawn.end()).size(), 3u); // no repeats
            QCOMPARE(many.fewshotIndices(i, 1234), drawn); // deterministic
            seedMatters = seedMatters || many.fewshotIndices(i, 1235) != drawn;
            std::string expected;
            for (std::size_t j : drawn)
                expected += "Q: q" + std::to_string(j) + " {x}\nA: " + std::to_string(j) + "\n\n";
            QCOMPARE(many.context(i, 1234), expected + "Q: q" + std::to_string(i) + " {x}\nA:");
        }
        QVERIFY(seedMatters);
        // Pinned draws: SplitMix64 and the shuffle are fixed by definition, so these never change.
        QCOMPARE(many.fewshotIndices(0, 1234), (std::vector<std::size_t> { 1, 2, 4 })); // computed in Python
    }

    void badTaskFiles_data()
    {
        QTest::addColumn<QString>("yaml");
        QTest::addColumn<QString>("data");
        QTest::addColumn<QStringList>("expected");
        const QString mc = "tasks:\n  - name: t1\n    kind: multiple_choice\n    data: bad.jsonl\n"
                           "    prompt: \"{q}\"\n    choices: options\n    answer: gold\n";
        const QString good = "{\"q\": \"a\", \"options\": [\"x\", \"y\"], \"gold\": 0}\n";
        QTest::newRow("unknown key") << mc + "    temperature: 1\n"
                                     << good << QStringList { "bad.yaml", "task 't1'", "unknown key 'temperature'" };
        QTest::newRow("bad kind") << QString(mc).replace("multiple_choice", "ranking") << good
                                  << QStringList { "bad.yaml", "task 't1'", "key 'kind'", "ranking" };
        QTest::newRow("missing answer key") << QString(mc).replace("    answer: gold\n", "") << good
                                            << QStringList { "bad.yaml", "task 't1'", "key 'answer' is required" };
        QTest::newRow("regex on multiple choice") << mc + "    regex: \"x\"\n"
                                                  << good << QStringList { "task 't1'", "key 'regex'", "generation" };
        QTest::newRow("unclosed brace") << QString(mc).replace("\"{q}\"", "\"{q\"") << good
                                        << QStringList { "task 't1'", "key 'prompt'", "not closed" };
        QTest::newRow("unknown field in template") << QString(mc).replace("{q}", "{question}") << good
                                                   << QStringList { "bad.jsonl:1", "task 't1'", "{question}" };
        QTest::newRow("bad json line") << mc << good + "{not json\n" << QStringList { "bad.jsonl:2", "JSON object" };
        QTest::newRow("answer index out of range") << mc << "{\"q\": \"a\", \"options\": [\"x\", \"y\"], \"gold\": 2}\n"
                                                   << QStringList { "bad.jsonl:1", "'gold'", "index 2" };
        QTest::newRow("choices not a list") << mc << "{\"q\": \"a\", \"options\": \"x\", \"gold\": 0}\n"
                                            << QStringList { "bad.jsonl:1", "'options'" };
        QTest::newRow("too many shots") << mc + "    num_fewshot: 1\n"
                                        << good
                                        << QStringList { "task 't1'", "key 'num_fewshot'", "at least 2 records" };
        QTest::newRow("bad regex")
            << "tasks:\n  - name: g\n    kind: generation\n    data: bad.jsonl\n    prompt: \"{q}\"\n"
               "    answer: q\n    regex: \"([0-9]+\"\n"
            << good << QStringList { "bad.yaml", "task 'g'", "key 'regex'", "does not compile" };
        QTest::newRow("numeric answer not a number")
            << "tasks:\n  - name: g\n    kind: generation\n    data: bad.jsonl\n    prompt: \"{q}\"\n"
               "    answer: q\n    compare: numeric\n"
            << good << QStringList { "bad.jsonl:1", "not a number" };
        QTest::newRow("missing data file") << QString(mc).replace("bad.jsonl", "none.jsonl") << good
                                           << QStringList { "none.jsonl", "cannot open", "task 't1'" };
        QTest::newRow("duplicate name") << mc + mc.mid(QString("tasks:\n").size()) << good
                                        << QStringList { "bad.yaml", "key 'name'", "two tasks" };
        QTest::newRow("no tasks") << "tasks: []\n" << good << QStringList { "bad.yaml", "'tasks'" };
    }
    void badTaskFiles()
    {
        QFETCH(QString, yaml);
        QFETCH(QString, data);
        QFETCH(QStringList, expected);
        writeText(path("bad.jsonl"), data.toStdString());
        writeText(path("bad.yaml"), yaml.toStdString());
        try {
            EvalTaskFile::load(path("bad.yaml"));
            QFAIL("the file was accepted");
        } catch (const InputError& e) {
            const QString message = QString::fromStdString(e.what());
            for (const QString& part : expected)
                QVERIFY2(message.contains(part), qPrintable(message + " lacks " + part));
        }
    }
};

QTEST_GUILESS_MAIN(TestEvaluation)
#include "test_evaluation.moc"
