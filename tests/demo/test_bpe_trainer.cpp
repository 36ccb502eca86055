// The byte-level BPE trainer: merges of a small example computed by hand,
// tie-breaking, determinism, round trips of arbitrary UTF-8 through the
// project's tokenizer, the folder's Hugging Face format (loaded by transformers'
// AutoTokenizer and the `tokenizers` library, which must encode and decode alike:
// tests/reference/tokenize_reference.py), and errors.

#include "core/tokenizer/bpe_trainer.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/tokenizer.h"
#include "core/util/error.h"
#include "support/reference.h"

#include <QTemporaryDir>
#include <QtTest>

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

using namespace tunebench;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::string kEot = "<|endoftext|>";
const std::string kSot = "<|startoftext|>";

std::string readAll(const fs::path& p)
{
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Random valid UTF-8: ASCII, Latin, CJK, emoji, combining marks and whitespace mixed.
std::string randomUtf8(std::mt19937& rng, int chars)
{
    static const std::vector<std::pair<char32_t, char32_t>> ranges { { 0x20, 0x7e }, { 0x09, 0x0a }, { 0xa0, 0x17f },
        { 0x300, 0x36f }, { 0x400, 0x4ff }, { 0x4e00, 0x4fff }, { 0x1f600, 0x1f64f }, { 0x2000, 0x206f } };
    std::string out;
    for (int i = 0; i < chars; ++i) {
        const auto& [lo, hi] = ranges[rng() % ranges.size()];
        const char32_t cp = lo + static_cast<char32_t>(rng() % (hi - lo + 1));
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xc0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xe0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        } else {
            out += static_cast<char>(0xf0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
            out += static_cast<char>(0x80 | (cp & 0x3f));
        }
    }
    return out;
}

std::vector<std::string> sampleTexts()
{
    return { "The baker Mira lives in Tobek. Mira has 3 cats.", "12 plus 7 is 19. Counting: 4, 5, 6, 7, 8.",
        "Ärger über Öl — naïve café, déjà vu.", "東京は日本の首都です。 北京是中国的首都。",
        "emoji 😀😃 and tabs\tand\nnewlines", "It's what we've done; they'll see, I'd say, you're right, I'm sure.",
        "   leading and trailing spaces   " };
}

} // namespace

class TestBpeTrainer : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path path(const std::string& name) const { return fs::path(m_dir.path().toStdString()) / name; }

private Q_SLOTS:
    void handComputedMerges()
    {
        // Words after GPT-2's split: "ab" x1, " ab" x2, " abc" x1 (the space is Ġ).
        // Pair counts: (a,b) 4, (Ġ,a) 3, (b,c) 1 -> merge "a b"; then (Ġ,ab) 3, (ab,c) 1 -> "Ġ ab";
        // then (Ġab,c) 1 is below min_frequency 2: training stops with two merges.
        BpeTrainer trainer({ 1000, 2, { kEot } });
        trainer.addText("ab ab ab abc");
        QCOMPARE(trainer.wordCounts().size(), std::size_t(3));
        QCOMPARE(trainer.wordCounts().at(" ab"), std::int64_t(2));
        const BpeModel m = trainer.train();
        QCOMPARE(m.merges.size(), std::size_t(2));
        QCOMPARE(m.merges[0].first, std::string("a"));
        QCOMPARE(m.merges[0].second, std::string("b"));
        QCOMPARE(m.merges[1].first, std::string("\xc4\xa0")); // Ġ
        QCOMPARE(m.merges[1].second, std::string("ab"));
        QCOMPARE(m.vocab.size(), std::size_t(1 + 256 + 2));
        QCOMPARE(m.vocab[0], kEot);
        QCOMPARE(m.vocab[1 + 'a'], std::string("a"));
        QCOMPARE(m.vocab[1 + ' '], std::string(byte_level::charFor(' ')));
        QCOMPARE(m.vocab[257], std::string("ab"));
        QCOMPARE(m.vocab[258],
            std::string("\xc4\xa0"
                        "ab"));

        // With min_frequency 1 the third merge happens too.
        BpeTrainer all({ 1000, 1, { kEot } });
        all.addText("ab ab ab abc");
        const BpeModel m3 = all.train();
        QCOMPARE(m3.merges.size(), std::size_t(3));
        QCOMPARE(m3.merges[2].first,
            std::string("\xc4\xa0"
                        "ab"));
        QCOMPARE(m3.merges[2].second, std::string("c"));

        // The vocabulary size caps the merges.
        BpeTrainer capped({ 1 + 256 + 1, 1, { kEot } });
        capped.addText("ab ab ab abc");
        QCOMPARE(capped.train().merges.size(), std::size_t(1));

        // The folder encodes the example with those merges.
        writeTokenizerFolder(m, path("hand"), { "", kEot, kEot, 128 });
        const Tokenizer t = Tokenizer::fromFolder(path("hand"));
        const std::vector<std::int32_t> ids = t.encode("ab ab ab abc");
        QCOMPARE(ids, (std::vector<std::int32_t> { 257, 258, 258, 258, 1 + 'c' }));
        QCOMPARE(t.decode(ids), std::string("ab ab ab abc"));
    }

    void tiesGoToTheSmallestStrings()
    {
        // Every pair occurs once: (x,y), (Ġ,z), (z,w). By bytes "x" < "z" < "Ġ" (0xC4 0xA0).
        BpeTrainer trainer({ 3 + 256, 1, {} });
        trainer.addText("xy zw");
        const BpeModel m = trainer.train();
        QCOMPARE(m.merges.size(), std::size_t(3));
        QCOMPARE(m.merges[0], std::make_pair(std::string("x"), std::string("y")));
        QCOMPARE(m.merges[1], std::make_pair(std::string("z"), std::string("w")));
        QCOMPARE(m.merges[2], std::make_pair(std::string("\xc4\xa0"), std::string("zw")));
    }

    void deterministic()
    {
        auto folderOf = [this](const std::vector<std::string>& texts, const std::string& name) {
            BpeTrainer trainer({ 600, 2, { kEot, kSot } });
            for (const std::string& t : texts)
                trainer.addText(t);
            writeTokenizerFolder(trainer.train(), path(name), { kSot, kEot, kEot, 256 });
            return readAll(path(name) / "tokenizer.json");
        };
        std::vector<std::string> texts;
        for (int r = 0; r < 20; ++r) {
            for (const std::string& t : sampleTexts())
                texts.push_back(t + " " + std::to_string(r));
        }
        const std::string a = folderOf(texts, "det_a");
        const std::string b = folderOf(texts, "det_b");
        std::vector<std::string> reversed(texts.rbegin(), texts.rend());
        const std::string c = folderOf(reversed, "det_c");
        QCOMPARE(a, b);
        QCOMPARE(a, c); // only the word counts matter, not the order of the texts
        texts.push_back("a new sentence that changes the counts counts counts");
        QVERIFY(folderOf(texts, "det_d") != a);
    }

    void roundTripsArbitraryUtf8()
    {
        BpeTrainer trainer({ 800, 2, { kEot, kSot } });
        for (int r = 0; r < 10; ++r) {
            for (const std::string& t : sampleTexts())
                trainer.addText(t);
        }
        const BpeModel model = trainer.train();
        QVERIFY(model.merges.size() > 50);
        writeTokenizerFolder(model, path("rt"), { kSot, kEot, kEot, 256 });
        const Tokenizer t = Tokenizer::fromFolder(path("rt"));
        QCOMPARE(t.vocabSize(), model.vocab.size());
        QCOMPARE(t.bosId().value(), 1);
        QCOMPARE(t.eosId().value(), 0);
        QCOMPARE(t.padId().value(), 0);
        QVERIFY(t.isLossless());

        std::mt19937 rng(7);
        std::vector<std::string> texts = sampleTexts();
        for (int i = 0; i < 300; ++i)
            texts.push_back(randomUtf8(rng, 1 + static_cast<int>(rng() % 60)));
        texts.push_back("text with " + kEot + " inside");
        for (const std::string& text : texts) {
            const std::vector<std::int32_t> ids = t.encode(text);
            QCOMPARE(t.decode(ids), text);
            const std::vector<std::int32_t> withBos = t.encode(text, true);
            QCOMPARE(withBos.front(), 1);
            QCOMPARE(withBos.size(), ids.size() + 1);
            QCOMPARE(t.decode(withBos), kSot + text);
            if (text.find(kEot) == std::string::npos)
                QCOMPARE(t.decode(withBos, true), text);
        }
        // Trained words become single tokens.
        QCOMPARE(t.encode(" Mira").size(), std::size_t(1));
        QCOMPARE(t.encode(kEot), (std::vector<std::int32_t> { 0 }));
    }

    void huggingFaceFormat()
    {
        BpeTrainer trainer({ 700, 2, { kEot, kSot } });
        for (int r = 0; r < 10; ++r) {
            for (const std::string& t : sampleTexts())
                trainer.addText(t);
        }
        const BpeModel model = trainer.train();
        writeTokenizerFolder(model, path("hf"), { kSot, kEot, kEot, 256 });
        const json tj = json::parse(readAll(path("hf") / "tokenizer.json"));
        QCOMPARE(tj["model"]["type"].get<std::string>(), std::string("BPE"));
        QCOMPARE(tj["pre_tokenizer"]["type"].get<std::string>(), std::string("ByteLevel"));
        QCOMPARE(tj["decoder"]["type"].get<std::string>(), std::string("ByteLevel"));
        QCOMPARE(tj["model"]["merges"].size(), model.merges.size());
        QCOMPARE(tj["model"]["merges"][0].get<std::string>(), model.merges[0].first + " " + model.merges[0].second);
        QCOMPARE(tj["model"]["vocab"].size(), model.vocab.size());
        QCOMPARE(tj["added_tokens"][1]["content"].get<std::string>(), kSot);
        const json cfg = json::parse(readAll(path("hf") / "tokenizer_config.json"));
        QCOMPARE(cfg["bos_token"].get<std::string>(), kSot);
        QCOMPARE(cfg["eos_token"].get<std::string>(), kEot);

        // The Hugging Face libraries load the folder and encode and decode as Tunebench does:
        // transformers' AutoTokenizer (what users run) and the `tokenizers` library alone.
        REQUIRE_REFERENCE_PYTHON(python);
        Q_UNUSED(python);
        const Tokenizer t = Tokenizer::fromFolder(path("hf"));
        std::mt19937 rng(11);
        std::vector<std::string> texts = sampleTexts();
        for (int i = 0; i < 100; ++i)
            texts.push_back(randomUtf8(rng, 1 + static_cast<int>(rng() % 40)));
        texts.push_back(kSot + "special tokens " + kEot + " inside");
        {
            std::ofstream in(path("hf_input.jsonl"), std::ios::binary);
            for (const std::string& s : texts)
                in << json(s).dump() << "\n";
        }
        for (const char* library : { "transformers", "tokenizers" }) {
            const reference::Result r = reference::run("tokenize_reference.py",
                { "--tokenizer", QString::fromStdString(path("hf").string()), "--input",
                    QString::fromStdString(path("hf_input.jsonl").string()), "--all", "--library", library });
            QVERIFY2(r.code == 0, qPrintable(r.err));
            const QList<QByteArray> lines = r.out.split('\n');
            QVERIFY(std::size_t(lines.size()) > texts.size());
            for (std::size_t i = 0; i < texts.size(); ++i) {
                const json expected = json::parse(lines[static_cast<qsizetype>(i)].toStdString());
                const std::vector<std::int32_t> special = t.encode(texts[i], true);
                const json got = { { "ids", t.encode(texts[i]) }, { "ids_special", special },
                    { "decoded", t.decode(special) }, { "decoded_skip", t.decode(special, true) } };
                QVERIFY2(expected == got,
                    (json(texts[i]).dump() + ": " + library + " " + expected.dump() + ", Tunebench " + got.dump())
                        .c_str());
            }
        }
    }

    void errors()
    {
        QVERIFY_THROWS_EXCEPTION(InputError, BpeTrainer({ 100, 2, {} }));
        QVERIFY_THROWS_EXCEPTION(InputError, BpeTrainer({ 1000, 2, { kEot, kEot } }));
        QVERIFY_THROWS_EXCEPTION(InputError, BpeTrainer({ 1000, 2, { "" } }));
        BpeTrainer trainer({ 1000, 2, { kEot } });
        try {
            trainer.addText("good \xff bad");
            QFAIL("invalid UTF-8 was accepted");
        } catch (const InputError& e) {
            QVERIFY(std::string(e.what()).find("UTF-8") != std::string::npos);
        }
        trainer.addText("fine");
        try {
            writeTokenizerFolder(trainer.train(), path("bad"), { "<s>", kEot, kEot, 128 });
            QFAIL("an unknown bos token was accepted");
        } catch (const InputError& e) {
            QVERIFY(std::string(e.what()).find("<s>") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestBpeTrainer)
#include "test_bpe_trainer.moc"
