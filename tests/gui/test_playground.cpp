// The Playground: one prompt answered by the base model and a tuned run side
// by side, generated off the GUI thread; the texts are what core's generate
// gives for the same model, adapter and settings.

#include "core/method/plugin_registry.h"
#include "core/model/generate.h"
#include "core/model/model_loader.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/run_adapter.h"
#include "gui/run_test_support.h"
#include "support/cli_runner.h"
#include "ui/main_window.h"
#include "ui/pages/playground_page.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QPlainTextEdit>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>
#include <QTextDocument>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

// A tooltip's text as shown (tooltips holding user text are escaped rich text).
QString shownToolTip(const QWidget* w)
{
    QTextDocument doc;
    doc.setHtml(w->toolTip());
    return doc.toPlainText();
}

QString expectedText(const gui_test::RunFixture& fixture, const std::filesystem::path* adapterDir,
    const std::string& prompt, int maxNewTokens)
{
    auto model = loadCausalLM(fixture.model);
    std::unique_ptr<Adapter> adapter;
    if (adapterDir)
        adapter = loadRunAdapter(*adapterDir, *model, defaultPluginRegistry(), fixture.model);
    const Tokenizer tokenizer = Tokenizer::fromFolder(fixture.model);
    GenerationOptions options;
    options.maxNewTokens = maxNewTokens;
    options.eosTokenIds = model->config().eosTokenIds;
    if (tokenizer.eosId())
        options.eosTokenIds.push_back(*tokenizer.eosId());
    const auto out = generate(*model, { tokenizer.encode(prompt, true) }, options);
    return QString::fromStdString(tokenizer.decode(out.front().tokens, true));
}

} // namespace

class TestPlayground : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchPlaygroundTest")); }

    void baseAndTunedRunSideBySide()
    {
        gui_test::RunFixture fixture;
        // A LoRA run trained by the CLI, with a high learning rate so its answers move.
        nlohmann::json config = fixture.config(8);
        config["learning_rate"] = 5e-2;
        config["target_modules"] = "all-linear";
        const QString configFile = QDir(fixture.dir.path()).filePath(QStringLiteral("run.json"));
        QVERIFY(writeTextFile(configFile, QByteArray::fromStdString(config.dump())));
        const CliResult trained = runCli({ "train", configFile, "--workspace", fixture.workspacePath() });
        QVERIFY2(trained.code == 0, qPrintable(trained.err));
        std::int64_t runId = 0;
        {
            Workspace ws = Workspace::open(fixture.workspace);
            runId = RunStore(ws.db()).list().back().id;
        }

        MainWindow window;
        QVERIFY(window.openWorkspace(fixture.workspacePath()));
        window.showPage(MainWindow::PlaygroundPageIndex);
        window.resize(1200, 800);
        PlaygroundPage* page = window.playgroundPage();
        const std::string prompt = "say something";
        page->setPrompt(QString::fromStdString(prompt));
        QVERIFY(page->setRun(0, runId));
        QVERIFY(!page->setRun(1, 9999));
        page->findChild<QDoubleSpinBox*>(QStringLiteral("temperature"))->setValue(0.0); // greedy: comparable
        page->findChild<QSpinBox*>(QStringLiteral("maxNewTokens"))->setValue(12);
        QVERIFY(page->generate());
        QVERIFY(page->isGenerating());
        QVERIFY(!page->generate()); // one generation at a time
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        QCOMPARE(page->baseModel(), fixture.modelPath()); // taken from the run

        const QString base = page->outputText(0);
        const QString tuned = page->outputText(1);
        QVERIFY2(!base.startsWith(QStringLiteral("Error")), qPrintable(base));
        QVERIFY2(!tuned.startsWith(QStringLiteral("Error")), qPrintable(tuned));
        QVERIFY(page->outputText(2).isEmpty());
        const std::filesystem::path adapterDir = fixture.workspace / "runs" / std::to_string(runId) / "adapter";
        // Shown with control characters as visible escapes (the tiny model's bytes may be any).
        QCOMPARE(base, userText(expectedText(fixture, nullptr, prompt, 12), /*multiLine=*/true));
        QCOMPARE(tuned, userText(expectedText(fixture, &adapterDir, prompt, 12), /*multiLine=*/true));

        // Sampling with a seed is repeatable.
        page->findChild<QDoubleSpinBox*>(QStringLiteral("temperature"))->setValue(1.0);
        QVERIFY(page->generate());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        const QString sampled = page->outputText(1);
        QVERIFY(page->generate());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        QCOMPARE(page->outputText(1), sampled);

        const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
        QDir().mkpath(folder);
        QVERIFY(window.grab().save(folder + QStringLiteral("playground.png")));

        // With a chat template in the folder the prompt goes in as a user message; the toggle turns it off.
        QVERIFY(writeTextFile(fixture.modelPath() + QStringLiteral("/chat_template.jinja"),
            "{% for m in messages %}<|user|>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% "
            "endif %}"));
        QVERIFY(page->generate());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        auto* output = page->findChild<QPlainTextEdit*>(QStringLiteral("output0"));
        QVERIFY2(shownToolTip(output).contains(QStringLiteral("<|user|>say something<|assistant|>")),
            qPrintable(output->toolTip()));
        page->findChild<QCheckBox*>(QStringLiteral("useChatTemplate"))->setChecked(false);
        QVERIFY(page->generate());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        QVERIFY(!shownToolTip(output).contains(QStringLiteral("<|user|>")));
        QVERIFY(shownToolTip(output).contains(QStringLiteral("say something")));

        // A base model folder that does not load is reported in its column.
        page->setBaseModel(fixture.dir.path() + QStringLiteral("/nowhere"));
        QVERIFY(page->generate());
        QTRY_VERIFY_WITH_TIMEOUT(!page->isGenerating(), 60000);
        QVERIFY(page->outputText(0).startsWith(QStringLiteral("Error")));
        QVERIFY(page->outputText(0).contains(QStringLiteral("nowhere")));
    }
};

QTEST_MAIN(TestPlayground)
#include "test_playground.moc"
