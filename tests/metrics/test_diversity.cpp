// Diversity measures on inputs whose answers are computed by hand.

#include "core/metrics/diversity.h"
#include "support/cli_runner.h"

#include <QJsonDocument>
#include <QJsonObject>
#include <QTemporaryDir>
#include <QtTest>

#include <cmath>

using namespace tunebench;

namespace {

std::vector<Words> texts(std::initializer_list<const char*> list)
{
    std::vector<Words> out;
    for (const char* t : list)
        out.push_back(splitWords(t));
    return out;
}

bool near(double a, double b, double tol = 1e-12)
{
    return std::abs(a - b) <= tol;
}

} // namespace

class TestDiversity : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void words()
    {
        QCOMPARE(splitWords("  The cat\tsat\n\non  the mat "), (Words { "The", "cat", "sat", "on", "the", "mat" }));
        QVERIFY(splitWords(" \n\t").empty());
    }

    void distinctByHand()
    {
        const auto t = texts({ "a b a", "a c" });
        // unigrams a b a a c: 3 unique of 5; bigrams (a b)(b a)(a c): 3 of 3; trigram (a b a): 1 of 1.
        QVERIFY(near(distinctN(t, 1), 0.6));
        QVERIFY(near(distinctN(t, 2), 1.0));
        QVERIFY(near(distinctN(t, 3), 1.0));
        QVERIFY(near(distinctN(t, 4), 0.0)); // no 4-gram at all
        // Case-sensitive: "A" and "a" differ.
        QVERIFY(near(distinctN(texts({ "A a" }), 1), 1.0));
    }

    void eadByHand()
    {
        const auto t = texts({ "a b a", "a c" });
        // V = 10, C = 5 unigrams: expected distinct = 10 (1 - 0.9^5) = 4.0951
        QVERIFY(near(expectationAdjustedDistinct(t, 1, 10), 3.0 / (10 * (1 - std::pow(0.9, 5)))));
        QVERIFY(near(expectationAdjustedDistinct(t, 1, 10), 0.73258284290981, 1e-12));
        QVERIFY(near(expectationAdjustedDistinct({}, 1, 10), 0.0));
    }

    void bleuModifiedPrecisionExample()
    {
        // The classic clipping example: 7 x "the" against two references with
        // at most 2 "the": p1 = 2/7; no higher-order match, smoothed to 0.1/count.
        const Words cand = splitWords("the the the the the the the");
        const Words r1 = splitWords("the cat is on the mat");
        const Words r2 = splitWords("there is a cat on the mat");
        const double expected = std::exp(0.25
            * (std::log(2.0 / 7) + std::log(0.1 / 6) + std::log(0.1 / 5)
                + std::log(0.1 / 4))); // closest length 7: no brevity penalty
        QVERIFY2(near(sentenceBleu(cand, { &r1, &r2 }), expected),
            qPrintable(QString::number(sentenceBleu(cand, { &r1, &r2 }), 'g', 17)));
    }

    void bleuIdentityBrevityAndNoMatch()
    {
        const Words a = splitWords("the quick brown fox jumps over the lazy dog");
        QVERIFY(near(sentenceBleu(a, { &a }), 1.0));
        // A perfect prefix of 4 words against a 9-word reference: precisions 1, penalty exp(1 - 9/4).
        const Words prefix = splitWords("the quick brown fox");
        QVERIFY(near(sentenceBleu(prefix, { &a }), std::exp(1.0 - 9.0 / 4.0)));
        const Words other = splitWords("completely different words here");
        QVERIFY(near(sentenceBleu(other, { &a }), 0.0));
        QVERIFY(near(sentenceBleu({}, { &a }), 0.0));
    }

    void selfBleuOfCopiesIsOne()
    {
        const auto same = texts({ "one two three four five", "one two three four five", "one two three four five" });
        QVERIFY(near(selfBleu(same), 1.0));
        QVERIFY(near(selfBleu(texts({ "just one" })), 0.0));
    }

    // GRPO's per-step self-BLEU: within each group of consecutive completions, averaged over the groups.
    void groupSelfBleuByHand()
    {
        const auto t = texts({ "a b c d", "a b c d", "the quick brown fox jumps over the lazy dog",
            "the quick brown fox", "a lone text" });
        // Group 2: the prefix against the whole is exp(1 - 9/4) (brevity only); the whole against the prefix has
        // clipped precisions 4/9, 3/8, 2/7, 1/6 and no penalty. The fifth text is a group of one: left out.
        const double whole
            = std::exp(0.25 * (std::log(4.0 / 9) + std::log(3.0 / 8) + std::log(2.0 / 7) + std::log(1.0 / 6)));
        const double second = (std::exp(1.0 - 9.0 / 4.0) + whole) / 2;
        QVERIFY2(
            near(groupSelfBleu(t, 2), (1.0 + second) / 2), qPrintable(QString::number(groupSelfBleu(t, 2), 'g', 17)));
        QVERIFY(near(groupSelfBleu(t, 1), 0.0)); // no group of two
        QVERIFY(near(groupSelfBleu({}, 4), 0.0));
    }

    void nearDuplicatesAreLessDiverse()
    {
        std::vector<DiversitySample> diverse { { "p", "the river ran quickly past old mills" },
            { "p", "a small bird sang on the fence at dawn" }, { "p", "prices rose again as markets opened late" },
            { "p", "she painted the door a bright shade of green" } };
        std::vector<DiversitySample> dupes { { "p", "the river ran quickly past old mills" },
            { "p", "the river ran quickly past old mills today" }, { "p", "the river ran slowly past old mills" },
            { "p", "the river ran quickly past the old mills" } };
        const auto d = measureDiversity(diverse);
        const auto u = measureDiversity(dupes);
        for (int n = 0; n < 4; ++n) {
            QVERIFY(u.distinct[n] < d.distinct[n]);
            QVERIFY(u.ead[n] < d.ead[n]);
        }
        QVERIFY(u.selfBleu > 0.5);
        QVERIFY(d.selfBleu < 0.2);
    }

    void perInputVersusAcrossInputs()
    {
        // Each prompt's answers repeat themselves, but prompts differ: per-input
        // diversity is low while across-input diversity is higher.
        std::vector<DiversitySample> s { { "p1", "x y" }, { "p1", "x y" }, { "p2", "u v" }, { "p2", "u v" } };
        const auto r = measureDiversity(s);
        QCOMPARE(r.prompts, 2);
        QCOMPARE(r.texts, 4);
        QVERIFY(near(r.perInputDistinct[0], 0.5)); // 2 unique of 4 within each prompt
        QVERIFY(near(r.distinct[0], 0.5)); // 4 unique of 8 across
        QVERIFY(near(r.perInputDistinct[1], 0.5)); // bigram "x y" twice
        QVERIFY(near(r.distinct[1], 0.5));
        // Self-BLEU: within a prompt the copies are identical but too short for
        // 3- and 4-grams, so their smoothed precisions are 0.1 / 1.
        QVERIFY(near(r.perInputSelfBleu, std::exp(0.25 * (0 + 0 + std::log(0.1) + std::log(0.1)))));
    }

    void cli()
    {
        QTemporaryDir dir;
        const QString input = dir.path() + "/samples.jsonl";
        QVERIFY(writeTextFile(
            input, "{\"prompt\": \"p\", \"text\": \"a b a\"}\n\n{\"prompt\": \"q\", \"text\": \"a c\"}\n"));
        CliResult r = runCli({ "measure", "diversity", "--input", input, "--vocab-size", "10" });
        QCOMPARE(r.code, 0);
        const QJsonObject o = QJsonDocument::fromJson(r.out.toUtf8()).object();
        QVERIFY(near(o["distinct_1"].toDouble(), 0.6));
        QVERIFY(near(o["distinct_2"].toDouble(), 1.0));
        QVERIFY(o.contains("distinct_3") && o.contains("distinct_4") && o.contains("ead_2"));
        QVERIFY(o.contains("self_bleu") && o.contains("per_input_self_bleu") && o.contains("per_input_distinct_2"));
        QCOMPARE(o["texts"].toInt(), 2);

        QVERIFY(writeTextFile(input, "{\"prompt\": \"p\", \"text\": \"ok\"}\n{\"prompt\": \"p\", \"text\": 3}\n"));
        r = runCli({ "measure", "diversity", "--input", input });
        QCOMPARE(r.code, 1);
        QVERIFY2(r.err.contains("samples.jsonl:2: field 'text' must be a string"), qPrintable(r.err));
    }
};

QTEST_GUILESS_MAIN(TestDiversity)
#include "test_diversity.moc"
