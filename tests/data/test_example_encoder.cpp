// Records to training sequences: which tokens are trained, templates, EOS, truncation.

#include "core/data/example_encoder.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;
using nlohmann::json;

namespace {

// A minimal template of the usual shape: each turn tagged and closed, the
// assistant tag opened for generation.
const char* kTemplate = "{% for m in messages %}<{{ m.role }}>{{ m.content }}</s>\n{% endfor %}"
                        "{% if add_generation_prompt %}<assistant>{% endif %}";

} // namespace

class TestExampleEncoder : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    std::optional<Tokenizer> m_tok;

    // The text of the trained tokens, and of the untrained ones.
    std::pair<std::string, std::string> split(const EncodedExample& ex)
    {
        std::vector<std::int32_t> trained, prompt;
        for (std::size_t i = 0; i < ex.ids.size(); ++i)
            (ex.labels[i] == kIgnoreLabel ? prompt : trained).push_back(ex.ids[i]);
        return { m_tok->decode(trained), m_tok->decode(prompt) };
    }

private Q_SLOTS:
    void initTestCase()
    {
        model_test::writeTinyTokenizer(m_dir.path().toStdString() + "/tok");
        m_tok.emplace(Tokenizer::fromFolder(m_dir.path().toStdString() + "/tok"));
    }

    void textTrainsOnEverythingAndEndsWithEos()
    {
        ExampleEncoder enc(*m_tok, nullptr, {});
        const EncodedExample ex = enc.encode({ { "text", "the cat" } }, DatasetFormat::Text, "r1");
        QCOMPARE(ex.ids.back(), model_test::kTinyTokenizerEos);
        QCOMPARE(ex.labels, ex.ids);
        QCOMPARE(ex.trainedTokens(), static_cast<std::int64_t>(ex.ids.size()));
        QCOMPARE(m_tok->decode(ex.ids, /*skipSpecialTokens=*/true), std::string("the cat"));
    }

    void alpacaWithoutTemplate()
    {
        ExampleEncoder enc(*m_tok, nullptr, {});
        const json r = { { "instruction", "Add" }, { "input", "2+2" }, { "output", "4" } };
        const EncodedExample ex = enc.encode(r, DatasetFormat::Instruction, "r1");
        const auto [trained, prompt] = split(ex);
        QCOMPARE(trained, std::string("4<|endoftext|>"));
        QCOMPARE(prompt, std::string("### Instruction:\nAdd\n\n### Input:\n2+2\n\n### Response:\n"));
        EncoderOptions all;
        all.trainOnPrompt = true;
        const EncodedExample everything
            = ExampleEncoder(*m_tok, nullptr, all).encode(r, DatasetFormat::Instruction, "r1");
        QCOMPARE(everything.labels, everything.ids);
    }

    void chatTrainsOnAssistantTurnsOnly()
    {
        const ChatTemplate tpl(kTemplate, "test template");
        ExampleEncoder enc(*m_tok, &tpl, {});
        const json r = { { "messages",
            { { { "role", "system" }, { "content", "Be brief." } }, { { "role", "user" }, { "content", "Hi" } },
                { { "role", "assistant" }, { "content", "Hello" } }, { { "role", "user" }, { "content", "Name?" } },
                { { "role", "assistant" }, { "content", "Bot" } } } } };
        const EncodedExample ex = enc.encode(r, DatasetFormat::Chat, "r1");
        const auto [trained, prompt] = split(ex);
        QCOMPARE(trained, std::string("Hello</s>\nBot</s>\n"));
        QCOMPARE(prompt, std::string("<system>Be brief.</s>\n<user>Hi</s>\n<assistant><user>Name?</s>\n<assistant>"));
        // The whole sequence is the template's rendering, encoded without added specials.
        QCOMPARE(m_tok->decode(ex.ids), tpl.render(nlohmann::ordered_json::parse(r["messages"].dump()), false));
        // Instruction data goes through the template as a one-turn chat.
        const EncodedExample ins = enc.encode(
            { { "instruction", "Add" }, { "input", "2+2" }, { "output", "4" } }, DatasetFormat::Instruction, "r2");
        QCOMPARE(split(ins).first, std::string("4</s>\n"));
        QCOMPARE(split(ins).second, std::string("<user>Add\n\n2+2</s>\n<assistant>"));
    }

    void templateThatRewritesHistoryIsRefused()
    {
        // Renders the number of messages first: every prefix changes.
        const ChatTemplate tpl("{{ messages|length }}{% for m in messages %}{{ m.content }}{% endfor %}", "bad");
        ExampleEncoder enc(*m_tok, &tpl, {});
        const json r = { { "messages",
            { { { "role", "user" }, { "content", "a" } }, { { "role", "assistant" }, { "content", "b" } } } } };
        try {
            enc.encode(r, DatasetFormat::Chat, "dataset 1, record 7");
            QFAIL("accepted");
        } catch (const InputError& e) {
            QVERIFY2(
                QString(e.what()).startsWith("dataset 1, record 7: the chat template renders message 1"), e.what());
        }
    }

    void truncation()
    {
        EncoderOptions o;
        o.cutoffLen = 5;
        ExampleEncoder enc(*m_tok, nullptr, o);
        const EncodedExample ex = enc.encode({ { "text", "abcdefghij" } }, DatasetFormat::Text, "r");
        QCOMPARE(ex.ids.size(), 5u);
        QVERIFY(ex.truncated);
        o.cutoffLen = 1;
        QVERIFY_THROWS_EXCEPTION(InputError, ExampleEncoder(*m_tok, nullptr, o));
    }

    void preferencePairs()
    {
        const ChatTemplate tpl(kTemplate, "test template");
        ExampleEncoder enc(*m_tok, &tpl, {});
        const json r = { { "prompt", "2+2?" }, { "chosen", "4" }, { "rejected", "5" } };
        const EncodedPreference p = enc.encodePreference(r, DatasetFormat::Preference, "r");
        QCOMPARE(m_tok->decode(p.prompt), std::string("<user>2+2?</s>\n<assistant>"));
        QCOMPARE(m_tok->decode(p.chosen), std::string("4</s>\n"));
        QCOMPARE(m_tok->decode(p.rejected), std::string("5</s>\n"));
        const EncodedPreference u = enc.encodePreference(
            { { "prompt", "q" }, { "completion", "a" }, { "label", false } }, DatasetFormat::UnpairedPreference, "r");
        QVERIFY(!u.desirable);
        QVERIFY(u.rejected.empty());
        // Without a template: raw text, EOS after each response.
        ExampleEncoder plain(*m_tok, nullptr, {});
        const EncodedPreference q = plain.encodePreference(r, DatasetFormat::Preference, "r");
        QCOMPARE(q.chosen.back(), model_test::kTinyTokenizerEos);
        QVERIFY_THROWS_EXCEPTION(InputError, plain.encodePreference({ { "text", "x" } }, DatasetFormat::Text, "r"));
        // SFT on preference data trains on the chosen response.
        const EncodedExample sft = enc.encode(r, DatasetFormat::Preference, "r");
        QCOMPARE(split(sft).first, std::string("4</s>\n"));
        // Truncation keeps the end of the prompt and the start of the responses.
        EncoderOptions small;
        small.cutoffLen = 8;
        const EncodedPreference t = ExampleEncoder(*m_tok, &tpl, small)
                                        .encodePreference({ { "prompt", "a long long prompt" },
                                                              { "chosen", "yes yes yes" }, { "rejected", "no" } },
                                            DatasetFormat::Preference, "r");
        QVERIFY(t.truncated);
        QVERIFY(static_cast<std::int64_t>(t.prompt.size() + t.chosen.size()) <= 8);
        QVERIFY(static_cast<std::int64_t>(t.prompt.size() + t.rejected.size()) <= 8);
    }
};

QTEST_GUILESS_MAIN(TestExampleEncoder)
#include "test_example_encoder.moc"
