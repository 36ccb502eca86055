// Each tokenizer component on hand-made inputs, with expectations worked out
// from the `tokenizers` library's documented semantics.

#include "tiny_tokenizer.h"

#include "core/tokenizer/added_tokens.h"
#include "core/tokenizer/byte_level.h"
#include "core/tokenizer/decoder.h"
#include "core/tokenizer/normalizer.h"
#include "core/tokenizer/pattern.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/util/error.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;
using tiny::json;

namespace {

QStringList texts(const std::vector<PreToken>& pieces)
{
    QStringList out;
    for (const PreToken& p : pieces)
        out << QString::fromStdString(p.text);
    return out;
}

QStringList preTokenize(const PreTokenizer& p, const std::string& text)
{
    std::vector<PreToken> pieces { { text, true } };
    p.preTokenize(pieces);
    return texts(pieces);
}

std::string normalized(const Normalizer& n, std::string text)
{
    n.normalize(text);
    return text;
}

QStringList decoded(const Decoder& d, std::vector<std::string> tokens)
{
    d.decodeChain(tokens);
    QStringList out;
    for (const auto& t : tokens)
        out << QString::fromStdString(t);
    return out;
}

QList<int> toList(const std::vector<std::int32_t>& v)
{
    return QList<int>(v.begin(), v.end());
}

} // namespace

class TestTokenizerComponents : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void patternWhitespaceIsOniguruma()
    {
        // Oniguruma's \s is White_Space: U+0085 yes, U+180E and U+FEFF no (PCRE2 alone would take U+180E).
        const Pattern p = Pattern::regex("\\s+", "test");
        QCOMPARE(p.findAll("a\xC2\x85"
                           "b")
                     .size(),
            std::size_t(1));
        QCOMPARE(p.findAll("a\xE1\xA0\x8E"
                           "b")
                     .size(),
            std::size_t(0));
        QCOMPARE(p.findAll("a\xEF\xBB\xBF"
                           "b")
                     .size(),
            std::size_t(0));
        const Pattern negated = Pattern::regex("[^\\s]+|\\S", "test");
        QCOMPARE(negated.findAll("x\xE1\xA0\x8E").size(), std::size_t(1));
        QCOMPARE(QString::fromStdString(Pattern::onigurumaCompatible("[^\\s\\p{L}]")).count("x{85}"), 1);
    }

    void patternMatches_data()
    {
        QTest::addColumn<QString>("expression");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QStringList>("matches");
        const QString llama3
            = QString::fromStdString("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                     "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+");
        QTest::newRow("gpt2 words") << QString(ByteLevelPreTokenizer::gpt2Pattern()) << "Hello world's  end"
                                    << QStringList { "Hello", " world", "'s", " ", " end" };
        QTest::newRow("llama3 digits in threes") << llama3 << "1234567" << QStringList { "123", "456", "7" };
        QTest::newRow("llama3 case-insensitive contraction") << llama3 << "IT'S" << QStringList { "IT", "'S" };
        QTest::newRow("llama3 newlines") << llama3 << "a\n\n b" << QStringList { "a", "\n\n", " b" };
        QTest::newRow("empty matches advance") << "x*"
                                               << "ab" << QStringList { "", "", "" };
        QTest::newRow("line anchors as in Ruby syntax") << "^a|b$"
                                                        << "ab\nab" << QStringList { "a", "b", "a", "b" };
    }

    void patternMatches()
    {
        QFETCH(QString, expression);
        QFETCH(QString, text);
        QFETCH(QStringList, matches);
        const Pattern p = Pattern::regex(expression.toStdString(), "test");
        const std::string t = text.toStdString();
        QStringList got;
        for (const auto& [b, e] : p.findAll(t))
            got << QString::fromStdString(t.substr(b, e - b));
        QCOMPARE(got, matches);
    }

    void splitBehaviors_data()
    {
        // The example of the library's documentation: "the-final--countdown" split on "-".
        QTest::addColumn<int>("behavior");
        QTest::addColumn<bool>("invert");
        QTest::addColumn<QStringList>("pieces");
        QTest::newRow("removed") << int(SplitBehavior::Removed) << false << QStringList { "the", "final", "countdown" };
        QTest::newRow("isolated") << int(SplitBehavior::Isolated) << false
                                  << QStringList { "the", "-", "final", "-", "-", "countdown" };
        QTest::newRow("merged with previous")
            << int(SplitBehavior::MergedWithPrevious) << false << QStringList { "the-", "final-", "-", "countdown" };
        QTest::newRow("merged with next")
            << int(SplitBehavior::MergedWithNext) << false << QStringList { "the", "-final", "-", "-countdown" };
        QTest::newRow("contiguous") << int(SplitBehavior::Contiguous) << false
                                    << QStringList { "the", "-", "final", "--", "countdown" };
        QTest::newRow("removed inverted") << int(SplitBehavior::Removed) << true << QStringList { "-", "-", "-" };
    }

    void splitBehaviors()
    {
        QFETCH(int, behavior);
        QFETCH(bool, invert);
        QFETCH(QStringList, pieces);
        const SplitPreTokenizer split(Pattern::literal("-"), SplitBehavior(behavior), invert);
        QCOMPARE(preTokenize(split, "the-final--countdown"), pieces);
    }

    void normalizers()
    {
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfc), "e\xCC\x81"), std::string("\xC3\xA9"));
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfd), "\xC3\xA9"), std::string("e\xCC\x81"));
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfkc), "\xEF\xAC\x81"), std::string("fi"));
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfkd), "\xE2\x84\xAB"), std::string("A\xCC\x8A"));
        // Text of plain ASCII and CJK ideographs is left as it is (the fast path), the rest is not.
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfkd), "ab \xE4\xB8\xAD"), std::string("ab \xE4\xB8\xAD"));
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfc),
                     "\xE4\xB8\xAD"
                     "e\xCC\x81"),
            std::string("\xE4\xB8\xAD\xC3\xA9"));
        QCOMPARE(normalized(UnicodeNormalizer(UnicodeForm::Nfkc),
                     "a\xC2\xA0"
                     "b"),
            std::string("a b"));
        QCOMPARE(normalized(PrependNormalizer("_"), "ab"), std::string("_ab"));
        QCOMPARE(normalized(PrependNormalizer("_"), ""), std::string(""));
        QCOMPARE(normalized(AppendNormalizer("!"), "ab"), std::string("ab!"));
        QCOMPARE(normalized(ReplaceNormalizer(Pattern::literal(" "), "\xE2\x96\x81"), " a b "),
            std::string("\xE2\x96\x81"
                        "a"
                        "\xE2\x96\x81"
                        "b"
                        "\xE2\x96\x81"));
        QCOMPARE(normalized(ReplaceNormalizer(Pattern::regex(" {2,}", "t"), " "), "a   b  c"), std::string("a b c"));
        QCOMPARE(normalized(LowercaseNormalizer(), "HeLLo \xC3\x84\xCE\xA3 \xC4\xB0"),
            std::string("hello \xC3\xA4\xCF\x83 i\xCC\x87"));
        QCOMPARE(normalized(StripNormalizer(true, false), " \t a \n"), std::string("a \n"));
        QCOMPARE(normalized(StripNormalizer(true, true), "\xE3\x80\x80 a \xC2\xA0"), std::string("a"));
        QCOMPARE(normalized(StripAccentsNormalizer(),
                     "e\xCC\x81"
                     "a"),
            std::string("ea"));
        std::vector<std::unique_ptr<Normalizer>> steps;
        steps.push_back(std::make_unique<PrependNormalizer>("\xE2\x96\x81"));
        steps.push_back(std::make_unique<ReplaceNormalizer>(Pattern::literal(" "), "\xE2\x96\x81"));
        QCOMPARE(normalized(SequenceNormalizer(std::move(steps)), "a b"),
            std::string("\xE2\x96\x81"
                        "a"
                        "\xE2\x96\x81"
                        "b"));
    }

    void byteLevelPreTokenizer()
    {
        // Space is U+0120 (Ġ) in the byte-level alphabet, newline U+010A (Ċ), é's bytes Ã©.
        QCOMPARE(preTokenize(ByteLevelPreTokenizer(false, true), "Hi there\n"),
            (QStringList { "Hi", "\xC4\xA0there", "\xC4\x8A" }));
        QCOMPARE(preTokenize(ByteLevelPreTokenizer(true, true), "Hi"), (QStringList { "\xC4\xA0Hi" }));
        QCOMPARE(preTokenize(ByteLevelPreTokenizer(true, true), " Hi"), (QStringList { "\xC4\xA0Hi" }));
        QCOMPARE(preTokenize(ByteLevelPreTokenizer(false, false), "a b\xC3\xA9"),
            (QStringList { "a\xC4\xA0"
                           "b\xC3\x83\xC2\xA9" }));
    }

    void metaspacePreTokenizer()
    {
        const std::string m = "\xE2\x96\x81";
        const QString q = QString::fromStdString(m);
        QCOMPARE(preTokenize(MetaspacePreTokenizer(m, PrependScheme::Always, true), "Hey  friend"),
            (QStringList { q + "Hey", q, q + "friend" }));
        QCOMPARE(preTokenize(MetaspacePreTokenizer(m, PrependScheme::Never, true), "Hey friend"),
            (QStringList { "Hey", q + "friend" }));
        QCOMPARE(preTokenize(MetaspacePreTokenizer(m, PrependScheme::Always, false), "Hey friend"),
            (QStringList { q + "Hey" + q + "friend" }));
        // "first" prepends only to text that starts the input.
        std::vector<PreToken> pieces { { "a", true }, { "b", false } };
        MetaspacePreTokenizer(m, PrependScheme::First, true).preTokenize(pieces);
        QCOMPARE(texts(pieces), (QStringList { q + "a", "b" }));
    }

    void digitsAndWhitespacePreTokenizers()
    {
        QCOMPARE(preTokenize(DigitsPreTokenizer(true), "a123b"), (QStringList { "a", "1", "2", "3", "b" }));
        QCOMPARE(preTokenize(DigitsPreTokenizer(false), "a123b45"), (QStringList { "a", "123", "b", "45" }));
        QCOMPARE(preTokenize(WhitespaceSplitPreTokenizer(), " a  b\tc "), (QStringList { "a", "b", "c" }));
        QCOMPARE(preTokenize(WhitespacePreTokenizer(), "Hey, you!"), (QStringList { "Hey", ",", "you", "!" }));
        QCOMPARE(preTokenize(PunctuationPreTokenizer(SplitBehavior::Isolated), "a,b!?"),
            (QStringList { "a", ",", "b", "!", "?" }));
    }

    void bpeMerges_data()
    {
        QTest::addColumn<bool>("arrayForm");
        QTest::addColumn<QString>("text");
        QTest::addColumn<QList<int>>("ids");
        for (const bool arrayForm : { false, true }) {
            const char* form = arrayForm ? "[a, b] " : "\"a b\" ";
            QTest::addRow("%sall the way", form) << arrayForm << "abcd" << QList<int> { 8 };
            QTest::addRow("%slower rank wins", form) << arrayForm << "bcd" << QList<int> { 1, 7 };
            QTest::addRow("%sno merge", form) << arrayForm << "aaa" << QList<int> { 0, 0, 0 };
            QTest::addRow("%sunknown dropped, neighbours merge", form) << arrayForm << "axb" << QList<int> { 4 };
            QTest::addRow("%smetaspace merge", form) << arrayForm
                                                     << "\xE2\x96\x81"
                                                        "ab"
                                                     << QList<int> { 11, 4 };
        }
    }

    void bpeMerges()
    {
        QFETCH(bool, arrayForm);
        QFETCH(QString, text);
        QFETCH(QList<int>, ids);
        json model = tiny::bpeModel();
        if (arrayForm) {
            json merges = json::array();
            for (const auto& m : model["merges"]) {
                const std::string s = m.get<std::string>();
                const auto space = s.find(' ');
                merges.push_back({ s.substr(0, space), s.substr(space + 1) });
            }
            model["merges"] = merges;
        }
        QTemporaryDir dir;
        const Tokenizer t = tiny::load(dir.path(), tiny::document(model));
        QCOMPARE(toList(t.encode(text.toStdString())), ids);
    }

    void bpeUnknownsAndFallback()
    {
        QTemporaryDir dir;
        json model = tiny::bpeModel();
        model["unk_token"] = "<unk>";
        QCOMPARE(toList(tiny::load(dir.path(), tiny::document(model)).encode("axxb")), (QList<int> { 0, 9, 9, 1 }));
        model["fuse_unk"] = true;
        QCOMPARE(toList(tiny::load(dir.path(), tiny::document(model)).encode("axxb")), (QList<int> { 0, 9, 1 }));
        model["byte_fallback"] = true;
        model["vocab"]["<0x78>"] = 13;
        model["vocab"]["<0xC3>"] = 14;
        model["vocab"]["<0xA9>"] = 15;
        const Tokenizer t = tiny::load(dir.path(), tiny::document(model));
        QCOMPARE(toList(t.encode("axb")), (QList<int> { 0, 13, 1 }));
        QCOMPARE(toList(t.encode("\xC3\xA9")), (QList<int> { 14, 15 }));
        // ü is C3 BC and <0xBC> is missing: the whole character becomes unk.
        QCOMPARE(toList(t.encode("a\xC3\xBC")), (QList<int> { 0, 9 }));
    }

    void bpeIgnoreMergesAndAffixes()
    {
        QTemporaryDir dir;
        json model = tiny::bpeModel();
        model["vocab"]["ca"] = 16;
        QCOMPARE(toList(tiny::load(dir.path(), tiny::document(model)).encode("ca")), (QList<int> { 2, 0 }));
        model["ignore_merges"] = true;
        QCOMPARE(toList(tiny::load(dir.path(), tiny::document(model)).encode("ca")), (QList<int> { 16 }));

        json prefixed = tiny::bpeModel();
        prefixed["vocab"] = { { "a", 0 }, { "##b", 1 }, { "##c", 2 }, { "ab", 3 }, { "c", 4 } };
        prefixed["merges"] = json::array({ json::array({ "a", "##b" }) });
        prefixed["continuing_subword_prefix"] = "##";
        const Tokenizer p = tiny::load(dir.path(), tiny::document(prefixed));
        QCOMPARE(toList(p.encode("ab")), (QList<int> { 3 }));
        QCOMPARE(toList(p.encode("ac")), (QList<int> { 0, 2 }));

        json suffixed = tiny::bpeModel();
        suffixed["vocab"] = { { "a", 0 }, { "b</w>", 1 }, { "ab</w>", 2 }, { "b", 3 } };
        suffixed["merges"] = json::array({ "a b</w>" });
        suffixed["end_of_word_suffix"] = "</w>";
        const Tokenizer s = tiny::load(dir.path(), tiny::document(suffixed));
        QCOMPARE(toList(s.encode("ab")), (QList<int> { 2 }));
        QCOMPARE(toList(s.encode("ba")), (QList<int> { 3 }));
    }

    void addedTokens()
    {
        QTemporaryDir dir;
        json doc = tiny::document();
        doc["added_tokens"] = { tiny::addedToken(13, "<s>", true), tiny::addedToken(14, "<s>x", true),
            tiny::addedToken(15, "[L]", false, false, true, false),
            tiny::addedToken(16, "[R]", false, false, false, true),
            tiny::addedToken(17, "cab", false, false, false, false, true), tiny::addedToken(18, "dd", false, true) };
        // The normalizer lowercases: "DD" matches the normalized token "dd", "<S>" stays text.
        doc["normalizer"] = { { "type", "Lowercase" } };
        doc["pre_tokenizer"] = { { "type", "WhitespaceSplit" } };
        const Tokenizer t = tiny::load(dir.path(), doc);
        QCOMPARE(toList(t.encode("a<s>xb")), (QList<int> { 0, 14, 1 })); // longest match
        QCOMPARE(toList(t.encode("a<s>b")), (QList<int> { 0, 13, 1 }));
        QCOMPARE(toList(t.encode("a  [L]b")), (QList<int> { 0, 15, 1 })); // lstrip takes the spaces
        QCOMPARE(toList(t.encode("a[R]  b")), (QList<int> { 0, 16, 1 })); // rstrip too
        QCOMPARE(toList(t.encode("a cab b")), (QList<int> { 0, 17, 1 })); // single word
        QCOMPARE(toList(t.encode("acab")), (QList<int> { 0, 2, 4 })); // not a single word: plain text
        QCOMPARE(toList(t.encode("aDDb")), (QList<int> { 0, 18, 1 })); // matched after normalization
        QCOMPARE(t.tokenToId("<s>x"), std::optional<std::int32_t>(14));
        QCOMPARE(t.idToToken(16), std::string("[R]"));
        QCOMPARE(t.vocabSize(), std::size_t(19));
        QCOMPARE(t.decode(std::vector<std::int32_t> { 0, 13, 1 }), std::string("a <s> b"));
        QCOMPARE(t.decode(std::vector<std::int32_t> { 0, 13, 1, 999 }, true), std::string("a b"));
    }

    void addedTokenIds()
    {
        // Ids as the library assigns them on loading, whatever the file says: a content
        // the model knows keeps the model's id, a new one takes the next id after the
        // vocabulary (13 entries) and the tokens added before it.
        QTemporaryDir dir;
        json doc = tiny::document();
        doc["added_tokens"] = { tiny::addedToken(50, "<x>", true), tiny::addedToken(99, "ab", false),
            tiny::addedToken(7, "<y>", false) };
        const Tokenizer t = tiny::load(dir.path(), doc);
        QCOMPARE(t.tokenToId("<x>"), std::optional<std::int32_t>(13));
        QCOMPARE(t.tokenToId("ab"), std::optional<std::int32_t>(4));
        QCOMPARE(t.tokenToId("<y>"), std::optional<std::int32_t>(14));
        QCOMPARE(t.vocabSize(), std::size_t(15));
        QCOMPARE(toList(t.encode("c<y>ab")), (QList<int> { 2, 14, 4 }));
        // tokenizer_config.json: added_tokens_decoder's flags win over the file's, the roles'
        // tokens become special (added where missing), extra special tokens are added.
        const json config = { { "added_tokens_decoder", { { "14", tiny::addedToken(14, "<y>", true) } } },
            { "pad_token", "ab" }, { "eos_token", "<new>" }, { "additional_special_tokens", { "<x>", "<more>" } } };
        const Tokenizer c = tiny::load(dir.path(), doc, config);
        QCOMPARE(c.tokenToId("<new>"), std::optional<std::int32_t>(15));
        QCOMPARE(c.tokenToId("<more>"), std::optional<std::int32_t>(16));
        QCOMPARE(c.eosId(), std::optional<std::int32_t>(15));
        QCOMPARE(c.padId(), std::optional<std::int32_t>(4));
        QCOMPARE(c.decode(std::vector<std::int32_t> { 2, 14, 4, 15, 16, 0 }, true), std::string("c a"));
    }

    void postProcessors()
    {
        QTemporaryDir dir;
        json doc = tiny::document();
        doc["added_tokens"] = { tiny::addedToken(13, "<s>", true), tiny::addedToken(14, "</s>", true) };
        doc["post_processor"] = { { "type", "TemplateProcessing" },
            { "single",
                { { { "SpecialToken", { { "id", "<s>" }, { "type_id", 0 } } } },
                    { { "Sequence", { { "id", "A" }, { "type_id", 0 } } } },
                    { { "SpecialToken", { { "id", "</s>" }, { "type_id", 0 } } } } } },
            { "pair",
                { { { "Sequence", { { "id", "A" }, { "type_id", 0 } } } },
                    { { "Sequence", { { "id", "B" }, { "type_id", 1 } } } } } },
            { "special_tokens",
                { { "<s>", { { "id", "<s>" }, { "ids", { 13 } }, { "tokens", { "<s>" } } } },
                    { "</s>", { { "id", "</s>" }, { "ids", { 14 } }, { "tokens", { "</s>" } } } } } } };
        const json config = { { "bos_token", "<s>" },
            { "eos_token", { { "__type", "AddedToken" }, { "content", "</s>" } } }, { "pad_token", nullptr } };
        const Tokenizer t = tiny::load(dir.path(), doc, config);
        QCOMPARE(toList(t.encode("ab", true)), (QList<int> { 13, 4, 14 }));
        QCOMPARE(toList(t.encode("ab", false)), (QList<int> { 4 }));
        QCOMPARE(toList(t.encode("", true)), (QList<int> { 13, 14 }));
        QCOMPARE(toList(t.encodePair("ab", "d", true)), (QList<int> { 4, 3 }));
        QCOMPARE(toList(t.encodePair("ab", "d", false)), (QList<int> { 4, 3 }));
        QCOMPARE(t.bosId(), std::optional<std::int32_t>(13));
        QCOMPARE(t.eosId(), std::optional<std::int32_t>(14));
        QVERIFY(!t.padId());

        doc["post_processor"] = { { "type", "Sequence" },
            { "processors",
                { { { "type", "ByteLevel" }, { "add_prefix_space", false } },
                    { { "type", "RobertaProcessing" }, { "cls", { "<s>", 13 } }, { "sep", { "</s>", 14 } } } } } };
        QCOMPARE(toList(tiny::load(dir.path(), doc).encode("ab", true)), (QList<int> { 13, 4, 14 }));
        doc["post_processor"] = { { "type", "BertProcessing" }, { "cls", { "<s>", 13 } }, { "sep", { "</s>", 14 } } };
        QCOMPARE(toList(tiny::load(dir.path(), doc).encode("d", true)), (QList<int> { 13, 3, 14 }));
        QCOMPARE(toList(tiny::load(dir.path(), doc).encodePair("d", "ab", true)), (QList<int> { 13, 3, 14, 4, 14 }));
        doc["post_processor"]["type"] = "RobertaProcessing";
        QCOMPARE(
            toList(tiny::load(dir.path(), doc).encodePair("d", "ab", true)), (QList<int> { 13, 3, 14, 14, 4, 14 }));
    }

    void decoders()
    {
        const std::string m = "\xE2\x96\x81";
        QCOMPARE(decoded(ByteLevelDecoder(), { "Hi", "\xC4\xA0there", "\xC3\x83\xC2\xA9" }),
            (QStringList { "Hi there\xC3\xA9" }));
        // A lone continuation byte (0x80 is U+0122 'Ģ') becomes U+FFFD.
        QCOMPARE(decoded(ByteLevelDecoder(), { "a\xC4\xA2" }), (QStringList { "a\xEF\xBF\xBD" }));
        QCOMPARE(
            decoded(ByteFallbackDecoder(), { "a", "<0xC3>", "<0xA9>", "b" }), (QStringList { "a", "\xC3\xA9", "b" }));
        // An invalid run gives one U+FFFD per byte token (not per maximal subpart).
        QCOMPARE(decoded(ByteFallbackDecoder(), { "<0xE2>", "<0x82>", "x" }),
            (QStringList { "\xEF\xBF\xBD", "\xEF\xBF\xBD", "x" }));
        QCOMPARE(decoded(FuseDecoder(), { "a", "b", "c" }), (QStringList { "abc" }));
        QCOMPARE(decoded(StripDecoder(U' ', 1, 0), { "  a ", "b" }), (QStringList { " a ", "b" }));
        QCOMPARE(decoded(StripDecoder(U' ', 0, 2), { "a   " }), (QStringList { "a " }));
        QCOMPARE(decoded(ReplaceDecoder(Pattern::literal(m), " "), { m + "Hey", m + "you" }),
            (QStringList { " Hey", " you" }));
        QCOMPARE(decoded(MetaspaceDecoder(m, PrependScheme::Always), { m + "Hey", m + "friend!" }),
            (QStringList { "Hey", " friend!" }));
        QCOMPARE(decoded(MetaspaceDecoder(m, PrependScheme::Never), { m + "Hey", m + "friend!" }),
            (QStringList { " Hey", " friend!" }));
        QCOMPARE(
            decoded(BpeSuffixDecoder("</w>"), { "he", "llo</w>", "you</w>" }), (QStringList { "he", "llo ", "you" }));
    }

    void llama2StylePipeline()
    {
        // Prepend + Replace normalizers, byte fallback, and the matching decoder chain.
        QTemporaryDir dir;
        json model = tiny::bpeModel();
        model["byte_fallback"] = true;
        model["vocab"]["<0x0A>"] = 13;
        json doc = tiny::document(model);
        doc["added_tokens"] = { tiny::addedToken(14, "<s>", true) };
        doc["normalizer"] = {
            { "type", "Sequence" },
            { "normalizers",
                { { { "type", "Prepend" }, { "prepend", "\xE2\x96\x81" } },
                    { { "type", "Replace" }, { "pattern", { { "String", " " } } }, { "content", "\xE2\x96\x81" } } } }
        };
        doc["decoder"] = { { "type", "Sequence" },
            { "decoders",
                { { { "type", "Replace" }, { "pattern", { { "String", "\xE2\x96\x81" } } }, { "content", " " } },
                    { { "type", "ByteFallback" } }, { { "type", "Fuse" } },
                    { { "type", "Strip" }, { "content", " " }, { "start", 1 }, { "stop", 0 } } } } };
        const Tokenizer t = tiny::load(dir.path(), doc);
        // "▁a▁b\n": ▁a merges; the newline falls back to its byte.
        QCOMPARE(toList(t.encode("a b\n")), (QList<int> { 12, 11, 1, 13 }));
        QCOMPARE(t.decode(t.encode("a b\n")), std::string("a b\n"));
        // After an added token the normalizer prepends again: the library normalizes each section.
        QCOMPARE(toList(t.encode("a<s>a")), (QList<int> { 12, 14, 12 }));
        QVERIFY(!t.isLossless());
    }

    void byteLevelRoundTrip()
    {
        QTemporaryDir dir;
        json vocab = json::object();
        for (int b = 0; b < 256; ++b)
            vocab[std::string(byte_level::charFor(static_cast<std::uint8_t>(b)))] = b;
        json model = tiny::bpeModel();
        model["vocab"] = vocab;
        model["merges"] = json::array();
        json doc = tiny::document(model);
        doc["pre_tokenizer"] = { { "type", "ByteLevel" }, { "add_prefix_space", false }, { "use_regex", true } };
        doc["decoder"] = { { "type", "ByteLevel" } };
        const Tokenizer t = tiny::load(dir.path(), doc);
        QVERIFY(t.isLossless());
        const std::vector<std::string> samples { "", "plain", "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x91\xA7 \r\n\t",
            std::string("\x00\x01", 2) };
        for (const std::string& text : samples)
            QCOMPARE(t.decode(t.encode(text)), text);
        QCOMPARE(t.encode("A").front(), 65);
    }
};

QTEST_GUILESS_MAIN(TestTokenizerComponents)
#include "test_tokenizer_components.moc"
