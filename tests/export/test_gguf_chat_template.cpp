// The chat templates a GGUF model file carries are the ones the template reader (ChatTemplate::textsInFolder)
// finds in the tokenizer folder: tokenizer_config.json's over chat_template.jinja, named ones under their names.

#include "core/export/gguf.h"
#include "core/export/gguf_export.h"
#include "core/util/error.h"
#include "model/model_test_support.h"

#include <QTemporaryDir>
#include <QtTest>

#include <fstream>

using namespace tunebench;
namespace fs = std::filesystem;

class TestGgufChatTemplate : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;

private Q_SLOTS:
    void templatesAsTheReaderReadsThem_data()
    {
        QTest::addColumn<QString>("chatTemplate"); // tokenizer_config.json's field as JSON; empty: none
        QTest::addColumn<QString>("jinja"); // chat_template.jinja; empty: none
        QTest::addColumn<QStringList>("keys"); // "KEY=TEMPLATE" for each tokenizer.chat_template* key written
        QTest::newRow("none") << QString() << QString() << QStringList();
        QTest::newRow("string") << R"("S")" << QString() << QStringList { "tokenizer.chat_template=S" };
        QTest::newRow("the file") << QString() << "J" << QStringList { "tokenizer.chat_template=J" };
        QTest::newRow("the config's over the file") << R"("S")"
                                                    << "J" << QStringList { "tokenizer.chat_template=S" };
        QTest::newRow("named") << R"([{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}])"
                               << QString()
                               << QStringList { "tokenizer.chat_template.tool_use=T", "tokenizer.chat_template=D" };
    }

    void templatesAsTheReaderReadsThem()
    {
        QFETCH(QString, chatTemplate);
        QFETCH(QString, jinja);
        QFETCH(QStringList, keys);
        const fs::path dir = fs::path(m_dir.path().toStdString()) / QTest::currentDataTag();
        model_test::writeTinyTokenizer(dir);
        if (!chatTemplate.isEmpty()) {
            nlohmann::json config = nlohmann::json::parse(std::ifstream(dir / "tokenizer_config.json"));
            config["chat_template"] = nlohmann::json::parse(chatTemplate.toStdString());
            std::ofstream(dir / "tokenizer_config.json") << config.dump();
        }
        if (!jinja.isEmpty())
            std::ofstream(dir / "chat_template.jinja") << jinja.toStdString();
        auto model = createRandomCausalLM(randomModelConfig(model_test::tinyFolderSpec(1)), 3);
        const fs::path out = dir / "model.gguf";
        writeGgufModel(*model, dir, "tiny", gguf::TensorType::F32, out);
        QStringList written;
        for (const auto& [key, value] : gguf::File::read(out).metadata) {
            if (key.rfind("tokenizer.chat_template", 0) == 0)
                written << QString::fromStdString(key + "=" + value.asString());
        }
        QCOMPARE(written, keys);
    }

    void malformedFieldNamesTheFile()
    {
        const fs::path dir = fs::path(m_dir.path().toStdString()) / "malformed";
        model_test::writeTinyTokenizer(dir);
        std::ofstream(dir / "tokenizer_config.json") << R"({"chat_template": [{"name": "rag"}]})";
        auto model = createRandomCausalLM(randomModelConfig(model_test::tinyFolderSpec(1)), 3);
        try {
            writeGgufModel(*model, dir, "tiny", gguf::TensorType::F32, dir / "model.gguf");
            QFAIL("a chat_template entry without a template was accepted");
        } catch (const InputError& e) {
            QVERIFY2(QString::fromUtf8(e.what()).contains("tokenizer_config.json: chat_template[0]"), e.what());
        }
    }
};

QTEST_MAIN(TestGgufChatTemplate)
#include "test_gguf_chat_template.moc"
