// ChatTemplate: loading chat_template from tokenizer_config.json (a string, named
// templates, chat_template.jinja, special tokens as strings or AddedToken objects)
// and rendering requests, with errors that name the file, line and field.

#include "core/template/template_error.h"
#include "core/tokenizer/chat_template.h"
#include "core/util/error.h"

#include <nlohmann/json.hpp>

#include <QFile>
#include <QTemporaryDir>
#include <QtTest>

using tunebench::ChatTemplate;
using tunebench::InputError;
using ordered_json = nlohmann::ordered_json;

namespace {

const char* kSimple = "{{ bos_token }}{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}"
                      "{% if add_generation_prompt %}<assistant>{% endif %}{{ eos_token|default('-') }}";

ordered_json conversation()
{
    return ordered_json::parse(R"([{"role": "user", "content": "hi"}])");
}

QString renderWith(const ChatTemplate& t, bool addGenerationPrompt)
{
    return QString::fromStdString(t.render(conversation(), addGenerationPrompt));
}

bool writeTextFile(const QString& path, const QByteArray& text)
{
    QFile f(path);
    return f.open(QIODevice::WriteOnly) && f.write(text) == text.size();
}

void writeConfig(const QString& dir, const ordered_json& config)
{
    QVERIFY(writeTextFile(dir + "/tokenizer_config.json", QByteArray::fromStdString(config.dump(2))));
}

template <typename F> QString inputError(F&& f)
{
    try {
        f();
    } catch (const InputError& e) {
        return QString::fromUtf8(e.what());
    }
    return QStringLiteral("no error");
}

} // namespace

class TestChatTemplate : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void stringTemplateWithSpecialTokens()
    {
        ordered_json config = { { "chat_template", kSimple },
            { "bos_token", { { "__type", "AddedToken" }, { "content", "<s>" }, { "lstrip", false } } },
            { "eos_token", "</s>" } };
        const ChatTemplate t = ChatTemplate::fromConfig(config, "tokenizer_config.json");
        QCOMPARE(renderWith(t, true), QStringLiteral("<s><user>hi<assistant></s>"));
        QCOMPARE(renderWith(t, false), QStringLiteral("<s><user>hi</s>"));
    }

    void unsetTokensAreNotVariables()
    {
        // transformers passes special_tokens_map, which leaves out tokens that are None.
        ordered_json config = { { "chat_template", "{{ bos_token is defined }}/{{ eos_token }}" },
            { "bos_token", nullptr }, { "eos_token", "</s>" } };
        QCOMPARE(renderWith(ChatTemplate::fromConfig(config, "c.json"), false), QStringLiteral("False/</s>"));
    }

    void namedTemplates()
    {
        ordered_json config = { { "chat_template",
            { { { "name", "default" }, { "template", "D" } }, { { "name", "tool_use" }, { "template", "T" } } } } };
        QCOMPARE(renderWith(ChatTemplate::fromConfig(config, "c.json"), false), QStringLiteral("D"));
        QCOMPARE(renderWith(ChatTemplate::fromConfig(config, "c.json", "tool_use"), false), QStringLiteral("T"));
        QCOMPARE(inputError([&] { ChatTemplate::fromConfig(config, "c.json", "rag"); }),
            QStringLiteral("c.json: field 'chat_template' has no template named 'rag' (it has: default, tool_use)"));
        QCOMPARE(ChatTemplate::templateNames(config), (std::vector<std::string> { "default", "tool_use" }));
    }

    void loadingErrorsNameFileAndField()
    {
        QCOMPARE(inputError([] { ChatTemplate::fromConfig(ordered_json::object(), "c.json"); }),
            QStringLiteral("c.json: no field 'chat_template' (this tokenizer has no chat template)"));
        QCOMPARE(inputError([] {
            ChatTemplate::fromConfig({ { "chat_template", 5 } }, "c.json");
        }),
            QStringLiteral(
                "c.json: field 'chat_template' must be a string or a list of {name, template} objects, got number"));
        QCOMPARE(inputError([] {
            ChatTemplate::fromConfig({ { "chat_template", { 1 } } }, "c.json");
        }),
            QStringLiteral("c.json: chat_template[0]: expected an object with string fields 'name' and 'template'"));
        QCOMPARE(inputError([] {
            ChatTemplate::fromConfig({ { "chat_template", "x" }, { "eos_token", 3 } }, "c.json");
        }),
            QStringLiteral(
                "c.json: field 'eos_token': expected a token string or an object with a \"content\" string, got 3"));
        // A template that does not parse names the config and the template position.
        QCOMPARE(inputError([] {
            ChatTemplate::fromConfig({ { "chat_template", "ok\n{% include 'x' %}" } }, "c.json");
        }),
            QStringLiteral("c.json chat_template:2:4: the 'include' tag is not supported"));
    }

    void folderLoading()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        QCOMPARE(inputError([&] { ChatTemplate::fromFolder(dir.path().toStdString()); }),
            dir.path() + ": no tokenizer_config.json or chat_template.jinja in this folder");
        // chat_template.jinja when the config has none; special_tokens_map.json overrides the config.
        writeConfig(dir.path(), { { "bos_token", "<cfg>" }, { "eos_token", "</cfg>" } });
        QVERIFY(writeTextFile(dir.path() + "/chat_template.jinja", QByteArray(kSimple) + "\n"));
        QVERIFY(writeTextFile(dir.path() + "/special_tokens_map.json", R"({"eos_token": {"content": "</map>"}})"));
        const ChatTemplate fromFile = ChatTemplate::fromFolder(dir.path().toStdString());
        QCOMPARE(renderWith(fromFile, true), QStringLiteral("<cfg><user>hi<assistant></map>"));
        // The file wins over the config's own template (transformers 5); without it, the config's.
        writeConfig(dir.path(), { { "chat_template", "config{{ messages|length }}" }, { "bos_token", "<cfg>" } });
        QCOMPARE(renderWith(ChatTemplate::fromFolder(dir.path().toStdString()), true),
            QStringLiteral("<cfg><user>hi<assistant></map>"));
        QVERIFY(QFile::remove(dir.path() + "/chat_template.jinja"));
        QCOMPARE(renderWith(ChatTemplate::fromFolder(dir.path().toStdString()), false), QStringLiteral("config1"));
        // Named templates: a conversation with tools gets tool_use, as apply_chat_template picks it.
        ordered_json named = ordered_json::object();
        named["chat_template"] = ordered_json::array({ ordered_json { { "name", "default" }, { "template", "D" } },
            ordered_json { { "name", "tool_use" }, { "template", "T" } } });
        writeConfig(dir.path(), named);
        const ChatTemplate chosen = ChatTemplate::fromFolder(dir.path().toStdString());
        QCOMPARE(chosen.renderRequest(ordered_json::parse(R"({"messages": [{}], "tools": [{}]})"), "x"), std::string("T"));
        QCOMPARE(chosen.renderRequest(ordered_json::parse(R"({"messages": [{}], "tools": null})"), "x"), std::string("D"));
        QCOMPARE(chosen.renderRequest(ordered_json::parse(R"({"messages": [{}]})"), "x"), std::string("D"));
        QCOMPARE(ChatTemplate::fromFolder(dir.path().toStdString(), "tool_use")
                     .renderRequest(ordered_json::parse(R"({"messages": [{}]})"), "x"),
            std::string("T"));
        QVERIFY(writeTextFile(dir.path() + "/tokenizer_config.json", "{ not json"));
        QVERIFY(inputError([&] {
            ChatTemplate::fromFolder(dir.path().toStdString());
        }).startsWith(dir.path() + "/tokenizer_config.json: not valid JSON"));
    }

    void textsInFolder()
    {
        // What a GGUF export and the model folder check read: the texts, unparsed; the config's field before
        // chat_template.jinja, as llama.cpp's converter takes them (fromFolder takes the file first, as transformers 5).
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const std::string path = dir.path().toStdString();
        auto texts = [&] {
            QStringList out;
            for (const auto& t : ChatTemplate::textsInFolder(path))
                out << QString::fromStdString(t.name + "=" + t.source);
            return out;
        };
        QCOMPARE(texts(), QStringList());
        QVERIFY(writeTextFile(dir.path() + "/chat_template.jinja", "{% if %}")); // not parsed here
        QCOMPARE(texts(), QStringList { "default={% if %}" });
        // Loading it is where a template that does not parse is refused.
        QVERIFY(inputError([&] {
            ChatTemplate::fromFolderIfPresent(path);
        }).startsWith(dir.path() + "/chat_template.jinja:1:"));
        writeConfig(dir.path(), { { "chat_template", nullptr } });
        QCOMPARE(texts(), QStringList { "default={% if %}" });
        writeConfig(dir.path(), { { "chat_template", "S" } });
        QCOMPARE(texts(), QStringList { "default=S" });
        writeConfig(dir.path(),
            { { "chat_template",
                { { { "name", "tool_use" }, { "template", "T" } },
                    { { "name", "default" }, { "template", "D" } } } } });
        QCOMPARE(texts(), (QStringList { "tool_use=T", "default=D" }));
        writeConfig(dir.path(), { { "chat_template", { { { "name", "rag" } } } } });
        QCOMPARE(inputError([&] { ChatTemplate::textsInFolder(path); }),
            dir.path()
                + "/tokenizer_config.json: chat_template[0]: expected an object with string fields 'name' and "
                  "'template'");
    }

    void requests()
    {
        const ChatTemplate t(
            "{{ messages|length }}|{{ add_generation_prompt }}|{{ tools|length if tools else 'no tools' }}|"
            "{{ documents }}|{{ enable_thinking|default('unset') }}",
            "t.jinja");
        auto run = [&](const char* json) {
            return QString::fromStdString(t.renderRequest(ordered_json::parse(json), "chats.jsonl:7"));
        };
        QCOMPARE(run(R"({"messages": [{"role": "user"}]})"), QStringLiteral("1|False|no tools|None|unset"));
        // As apply_chat_template: an empty conversation is refused (render() itself takes it).
        QCOMPARE(inputError([&] { run(R"({"messages": []})"); }),
            QStringLiteral("chats.jsonl:7: cannot apply a chat template to an empty conversation"));
        QCOMPARE(QString::fromStdString(t.render(ordered_json::array(), false)), QStringLiteral("0|False|no tools|None|unset"));
        QCOMPARE(
            run(R"({"messages": [{}], "add_generation_prompt": true, "tools": [{}, {}], "enable_thinking": false})"),
            QStringLiteral("1|True|2|None|False"));
        QCOMPARE(inputError([&] { run(R"({"add_generation_prompt": true})"); }),
            QStringLiteral("chats.jsonl:7: field 'messages' must be a list of messages"));
        QCOMPARE(inputError([&] { run(R"({"messages": [{}], "add_generation_prompt": "yes"})"); }),
            QStringLiteral("chats.jsonl:7: field 'add_generation_prompt' must be true or false, got \"yes\""));
        QCOMPARE(inputError([&] { run(R"([1, 2])"); }),
            QStringLiteral("chats.jsonl:7: expected a JSON object with a 'messages' list, got array"));
        QCOMPARE(inputError([&] { run(R"({"messages": [{}], "continue_final_message": true})"); }),
            QStringLiteral("chats.jsonl:7: field 'continue_final_message' is not supported"));
    }

    void raiseExceptionAndStrftime()
    {
        const ChatTemplate t("{% if messages|length > 1 %}{{ raise_exception('Only ' ~ 1 ~ ' message, please') }}"
                             "{% endif %}{{ strftime_now('%Y')|int > 2000 }}",
            "t.jinja");
        QCOMPARE(renderWith(t, false), QStringLiteral("True"));
        try {
            t.render(ordered_json::parse(R"([{}, {}])"), false);
            QFAIL("no error");
        } catch (const tunebench::jinja::TemplateError& e) {
            QCOMPARE(e.kind(), tunebench::jinja::ErrorKind::Raised);
            QCOMPARE(QString::fromStdString(e.message()), QStringLiteral("Only 1 message, please"));
            QCOMPARE(QString::fromUtf8(e.what()), QStringLiteral("t.jinja:1:32: Only 1 message, please"));
        }
    }

    void limitsApply()
    {
        ChatTemplate t("{% for m in messages %}{{ m.content * 1000 }}{% endfor %}", "t.jinja");
        tunebench::jinja::RenderLimits limits;
        limits.maxOutputBytes = 1000;
        t.setLimits(limits);
        try {
            t.render(ordered_json::parse(R"([{"content": "ab"}])"), false);
            QFAIL("no error");
        } catch (const tunebench::jinja::TemplateError& e) {
            QCOMPARE(e.kind(), tunebench::jinja::ErrorKind::Limit);
        }
    }
};

QTEST_GUILESS_MAIN(TestChatTemplate)
#include "test_chat_template.moc"
