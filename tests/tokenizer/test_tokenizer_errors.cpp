// Every way a tokenizer folder can be wrong gives an InputError naming the file
// and the JSON path (or line) at fault, never a crash.

#include "tiny_tokenizer.h"

#include "core/util/error.h"

#include <QTemporaryDir>
#include <QtTest>

using namespace tunebench;
using tiny::json;

namespace {

// Loads and returns the error message, or "" when loading succeeded.
QString loadError(const QString& dir)
{
    try {
        Tokenizer::fromFolder(QFile::encodeName(dir).toStdString());
    } catch (const InputError& e) {
        return QString::fromUtf8(e.what());
    }
    return {};
}

void writeText(const QString& path, const QByteArray& text)
{
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    f.write(text);
}

json templateWith(const std::string& specialName)
{
    return { { "type", "TemplateProcessing" },
        { "single",
            { { { "SpecialToken", { { "id", specialName }, { "type_id", 0 } } } },
                { { "Sequence", { { "id", "A" }, { "type_id", 0 } } } } } },
        { "pair", json::array() },
        { "special_tokens", { { "<s>", { { "id", "<s>" }, { "ids", { 9 } }, { "tokens", { "<s>" } } } } } } };
}

} // namespace

class TestTokenizerErrors : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void badTokenizerJson_data()
    {
        QTest::addColumn<QByteArray>("document"); // tokenizer.json as written
        QTest::addColumn<QStringList>("expected"); // substrings of the message

        const auto row = [](const char* name, const json& doc, QStringList expected) {
            QTest::newRow(name) << QByteArray::fromStdString(doc.dump()) << expected;
        };
        json doc = tiny::document();
        doc["model"].erase("type");
        row("missing model.type", doc, { "tokenizer.json: model", "missing field \"type\"" });

        doc = tiny::document();
        doc["model"]["type"] = "Unigram";
        row("unsupported model", doc, { "model.type", "Unigram", "not supported" });

        doc = tiny::document();
        doc.erase("model");
        row("missing model", doc, { "tokenizer.json", "missing field \"model\"" });

        doc = tiny::document();
        doc["normalizer"]
            = { { "type", "Sequence" }, { "normalizers", { { { "type", "NFC" } }, { { "type", "Frobnicate" } } } } };
        row("unknown normalizer type", doc,
            { "normalizer.normalizers[1].type", "unknown normalizer type \"Frobnicate\"" });

        doc = tiny::document();
        doc["pre_tokenizer"] = { { "type", "Sequence" }, { "pretokenizers", { { { "type", "Bogus" } } } } };
        row("unknown pre-tokenizer type", doc, { "pre_tokenizer.pretokenizers[0].type", "Bogus" });

        doc = tiny::document();
        doc["decoder"] = { { "type", "CTC" } };
        row("unsupported decoder", doc, { "decoder.type", "unknown decoder type \"CTC\"" });

        doc = tiny::document();
        doc["post_processor"] = { { "type", "Mystery" } };
        row("unknown post-processor", doc, { "post_processor.type", "Mystery" });

        doc = tiny::document();
        doc["normalizer"] = { { "type", "Prepend" } };
        row("normalizer field missing", doc, { "normalizer", "missing field \"prepend\"" });

        doc = tiny::document();
        doc["pre_tokenizer"]
            = { { "type", "Split" }, { "pattern", { { "Regex", "(unclosed" } } }, { "behavior", "Isolated" } };
        row("bad regex", doc, { "pre_tokenizer.pattern.Regex", "(unclosed", "does not compile" });

        doc = tiny::document();
        doc["pre_tokenizer"] = { { "type", "Split" }, { "pattern", { { "Glob", "*" } } }, { "behavior", "Isolated" } };
        row("bad pattern kind", doc, { "pre_tokenizer.pattern", "{\"String\": ...} or {\"Regex\": ...}" });

        doc = tiny::document();
        doc["pre_tokenizer"]
            = { { "type", "Split" }, { "pattern", { { "String", " " } } }, { "behavior", "Sideways" } };
        row("bad behavior", doc, { "pre_tokenizer.behavior", "Sideways" });

        doc = tiny::document();
        doc["pre_tokenizer"] = { { "type", "Metaspace" }, { "replacement", "ab" } };
        row("metaspace replacement not one character", doc, { "pre_tokenizer.replacement", "single character" });

        doc = tiny::document();
        doc["model"]["merges"][2] = "cd";
        row("merge without a space", doc, { "model.merges[2]", "\"left right\"" });

        doc = tiny::document();
        doc["model"]["merges"][1] = json::array({ "ab", 3 });
        row("merge array of wrong types", doc, { "model.merges[1]", "[\"left\", \"right\"]" });

        doc = tiny::document();
        doc["model"]["merges"][0] = "a z";
        row("merge part not in vocab", doc, { "model.merges[0]", "\"z\" is not in the vocabulary" });

        doc = tiny::document();
        doc["model"]["merges"][0] = "b a";
        row("merge result not in vocab", doc, { "model.merges[0]", "\"ba\" is not in the vocabulary" });

        doc = tiny::document();
        doc["model"]["vocab"]["a"] = "zero";
        row("vocab id not a number", doc, { "model.vocab[\"a\"]", "token id" });

        doc = tiny::document();
        doc["model"]["dropout"] = 0.1;
        row("dropout", doc, { "model.dropout", "random" });

        doc = tiny::document();
        doc["added_tokens"] = { { { "content", "<x>" }, { "special", true } } };
        row("added token without id", doc, { "added_tokens[0]", "missing field \"id\"" });

        doc = tiny::document();
        doc["post_processor"] = templateWith("</s>");
        row("template names an unlisted special token", doc, { "post_processor.single[0]", "\"</s>\" is not listed" });

        doc = tiny::document();
        doc["decoder"] = { { "type", "Strip" }, { "content", " " }, { "start", -1 } };
        row("strip count negative", doc, { "decoder.start", "whole number" });

        QTest::newRow("not JSON") << QByteArray("{\"model\": ") << QStringList { "tokenizer.json", "not valid JSON" };
        QTest::newRow("not an object") << QByteArray("[1, 2]") << QStringList { "tokenizer.json", "JSON object" };
    }

    void badTokenizerJson()
    {
        QFETCH(QByteArray, document);
        QFETCH(QStringList, expected);
        QTemporaryDir dir;
        writeText(dir.filePath("tokenizer.json"), document);
        const QString message = loadError(dir.path());
        QVERIFY2(!message.isEmpty(), "loading succeeded");
        for (const QString& part : expected)
            QVERIFY2(message.contains(part), qPrintable(message + "  (expected to contain: " + part + ")"));
    }

    void badConfig()
    {
        QTemporaryDir dir;
        tiny::writeJson(dir.filePath("tokenizer.json"), tiny::document());
        // (A role naming a token the tokenizer lacks is no error: transformers adds it.)
        tiny::writeJson(dir.filePath("tokenizer_config.json"),
            { { "added_tokens_decoder", { { "first", tiny::addedToken(0, "<x>", true) } } } });
        QString message = loadError(dir.path());
        QVERIFY2(message.contains("tokenizer_config.json: added_tokens_decoder[\"first\"]")
                && message.contains("must be a token id"),
            qPrintable(message));
        tiny::writeJson(dir.filePath("tokenizer_config.json"), { { "eos_token", 7 } });
        message = loadError(dir.path());
        QVERIFY2(message.contains("eos_token") && message.contains("expected a string"), qPrintable(message));
    }

    void missingFiles()
    {
        QTemporaryDir dir;
        QString message = loadError(dir.path());
        QVERIFY2(message.contains("no tokenizer found"), qPrintable(message));
        writeText(dir.filePath("vocab.json"), "{\"a\": 0}");
        message = loadError(dir.path());
        QVERIFY2(message.contains("no tokenizer found"), qPrintable(message));
    }

    void badVocabMerges()
    {
        QTemporaryDir dir;
        writeText(dir.filePath("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        writeText(dir.filePath("merges.txt"), "#version: 0.2\na b\nab\n");
        QString message = loadError(dir.path());
        QVERIFY2(message.contains("merges.txt:3") && message.contains("two tokens"), qPrintable(message));
        writeText(dir.filePath("merges.txt"), "#version: 0.2\nb a\n");
        message = loadError(dir.path());
        QVERIFY2(message.contains("merges.txt") && message.contains("\"ba\""), qPrintable(message));
        writeText(dir.filePath("vocab.json"), "{\"a\": -4}");
        message = loadError(dir.path());
        QVERIFY2(message.contains("vocab.json") && message.contains("\"a\""), qPrintable(message));
        writeText(dir.filePath("vocab.json"), "{\"a\": 0, \"b\": 1, \"ab\": 2}");
        writeText(dir.filePath("merges.txt"), "#version: 0.2\r\na b\r\n");
        QVERIFY2(loadError(dir.path()).isEmpty(), qPrintable(loadError(dir.path())));
    }

    void invalidUtf8Input()
    {
        QTemporaryDir dir;
        const Tokenizer t = tiny::load(dir.path(), tiny::document());
        for (const std::string bad : { "\xC0\xAF", "ab\xFF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82" }) {
            try {
                t.encode(bad);
                QFAIL("encode accepted ill-formed UTF-8");
            } catch (const InputError& e) {
                QVERIFY2(QString(e.what()).contains("not valid UTF-8"), e.what());
            }
        }
    }

    void unkTokenMissingFromVocab()
    {
        QTemporaryDir dir;
        json model = tiny::bpeModel();
        model["unk_token"] = "<missing>";
        const Tokenizer t = tiny::load(dir.path(), tiny::document(model));
        QCOMPARE(t.encode("ab").size(), std::size_t(1)); // fine while nothing is unknown
        try {
            t.encode("x");
            QFAIL("an unknown character with a missing unk token was accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString(e.what()).contains("<missing>"), e.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestTokenizerErrors)
#include "test_tokenizer_errors.moc"
