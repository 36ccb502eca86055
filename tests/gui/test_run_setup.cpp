// The Run Setup page through its real widgets: forms generated from the
// plugins' schemas, presets, the model folder check, the YAML view kept in
// step both ways with the configuration check's messages, the trainable
// estimate compared with what training reports, and Start running the run in
// a worker process until the runs table shows it finished.

#include "core/data/dataset_select.h"
#include "core/method/plugin_registry.h"
#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/train_config.h"
#include "core/util/yaml_json.h"
#include "gui/run_test_support.h"
#include "ui/main_window.h"
#include "ui/models/run_table_model.h"
#include "ui/pages/run_setup_page.h"
#include "ui/pages/runs_page.h"
#include "ui/run_queue.h"
#include "ui/widgets/schema_form.h"
#include "ui/workspace_session.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFile>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <algorithm>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

void saveScreenshot(QWidget& widget, const QString& name)
{
    const QString folder = QStringLiteral(TUNEBENCH_BINARY_DIR "/screenshots/");
    QDir().mkpath(folder);
    QVERIFY(widget.grab().save(folder + name));
}

template <typename T> T* editorOf(SchemaForm* form, const char* name)
{
    auto* w = qobject_cast<T*>(form->editor(QString::fromLatin1(name)));
    if (!w)
        qWarning("no editor %s of the expected type", name);
    return w;
}

} // namespace

class TestRunSetup : public QObject {
    Q_OBJECT

    QTemporaryDir m_settingsDir;

private Q_SLOTS:
    void initTestCase() { gui_test::isolateSettings(m_settingsDir.path(), QStringLiteral("TunebenchRunSetupTest")); }

    void schemaFormFollowsTheSchema()
    {
        const ParameterSchema schema = ParameterSchema::fromJson(nlohmann::json::parse(R"([
            {"name": "r", "aliases": ["lora_r"], "type": "integer", "default": 8, "minimum": 1, "maximum": 64,
             "help": "rank of the update"},
            {"name": "alpha", "type": "number", "default": 0.0002, "minimum": 0, "help": "scale"},
            {"name": "bias", "type": "boolean", "default": false, "help": "train biases"},
            {"name": "mode", "type": "choice", "default": "b", "choices": ["a", "b", "c"], "help": "the mode"},
            {"name": "targets", "type": "string_list", "default": ["q_proj", "v_proj"], "help": "modules"},
            {"name": "label", "type": "string", "default": "", "help": "a label"}
        ])"),
            "test");
        SchemaForm form;
        form.setSchema(schema);
        QCOMPARE(form.fieldNames(), QStringList({ "r", "alpha", "bias", "mode", "targets", "label" }));
        auto* r = editorOf<QSpinBox>(&form, "r");
        QVERIFY(r);
        QCOMPARE(r->minimum(), 1);
        QCOMPARE(r->maximum(), 64);
        QCOMPARE(r->value(), 8);
        QVERIFY(r->toolTip().contains("rank of the update"));
        QVERIFY(r->toolTip().contains("lora_r"));
        auto* alpha = editorOf<QDoubleSpinBox>(&form, "alpha");
        QVERIFY(alpha);
        QCOMPARE(alpha->text(), QStringLiteral("0.0002")); // not 0.00020000
        QCOMPARE(alpha->minimum(), 0.0);
        auto* mode = editorOf<QComboBox>(&form, "mode");
        QVERIFY(mode);
        QCOMPARE(mode->count(), 3);
        QCOMPARE(mode->currentText(), QStringLiteral("b"));
        QVERIFY(editorOf<QCheckBox>(&form, "bias"));
        auto* targets = editorOf<QPlainTextEdit>(&form, "targets");
        QVERIFY(targets);
        QCOMPARE(targets->toPlainText(), QStringLiteral("q_proj\nv_proj"));
        QVERIFY(form.changedValues() == nlohmann::json::object());

        int edits = 0;
        connect(&form, &SchemaForm::edited, this, [&edits] { ++edits; });
        r->setValue(99); // clamped to the range
        QCOMPARE(r->value(), 64);
        mode->setCurrentIndex(2);
        targets->setPlainText(QStringLiteral("q_proj\n\no_proj\n"));
        QVERIFY(edits >= 3);
        const nlohmann::json changed = form.changedValues();
        QVERIFY2(changed == nlohmann::json::parse(R"({"r": 64, "mode": "c", "targets": ["q_proj", "o_proj"]})"),
            changed.dump().c_str());
        // The same values pass the schema's own check.
        nlohmann::json all = form.values();
        QVERIFY(schema.resolve(all, "test")["targets"] == nlohmann::json::parse(R"(["q_proj", "o_proj"])"));

        edits = 0;
        form.setValues(nlohmann::json::parse(R"({"lora_r": 16, "alpha": 1e-5})"));
        QCOMPARE(edits, 0); // programmatic
        QCOMPARE(r->value(), 16);
        QCOMPARE(alpha->value(), 1e-5);
        QCOMPARE(mode->currentText(), QStringLiteral("b")); // back to its default
    }

    void presetsAreValidConfigurations()
    {
        const QStringList names = RunSetupPage::presetNames();
        for (const char* expected : { "lora-sft", "full-sft", "dpo-lora", "ia3-sft", "prompt-tuning", "dora-sft" })
            QVERIFY2(names.contains(QLatin1String(expected)), expected);
        for (const QString& name : names) {
            QFile file(QStringLiteral(":/presets/%1.yaml").arg(name));
            QVERIFY(file.open(QIODevice::ReadOnly));
            nlohmann::json config = yamlToJson(file.readAll().toStdString(), name.toStdString());
            config["model"] = "/models/any";
            config["dataset"] = 1;
            try {
                TrainConfig::fromJson(config, defaultPluginRegistry(), name.toStdString());
            } catch (const std::exception& e) {
                QFAIL(qPrintable(name + ": " + QString::fromUtf8(e.what())));
            }
        }
    }

    void modelFolderIsChecked()
    {
        gui_test::RunFixture fixture;
        WorkspaceSession session;
        QVERIFY(session.open(fixture.workspacePath()));
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);

        QTemporaryDir bad;
        QFile config(bad.path() + "/config.json");
        QVERIFY(config.open(QIODevice::WriteOnly));
        config.write(R"({"model_type": "llama", "vocab_size": 10})");
        config.close();
        page.setModelPath(bad.path());
        QTRY_VERIFY(page.modelInspection().has_value() && !page.modelCheckPending());
        QVERIFY2(page.modelInspection()->error.contains("config.json"), qPrintable(page.modelInspection()->error));
        auto* info = page.findChild<QLabel*>(QStringLiteral("modelInfo"));
        QCOMPARE(info->text(), page.modelInspection()->error);
        QString error;
        QVERIFY(!page.start(&error));
        QVERIFY(error.contains("config.json"));

        page.setModelPath(fixture.modelPath());
        QTRY_VERIFY(!page.modelCheckPending() && page.modelInspection()->error.isEmpty());
        QVERIFY2(info->text().contains("LlamaForCausalLM"), qPrintable(info->text()));
        QVERIFY(info->text().contains(QStringLiteral("2 layers")));
        QVERIFY(info->text().contains(QStringLiteral("vocabulary 264")));
        QVERIFY(page.modelInspection()->parameters > 0);
    }

    void configureStartAndFinishARun()
    {
        gui_test::RunFixture fixture;
        MainWindow window;
        QVERIFY(window.openWorkspace(fixture.workspacePath()));
        window.session()->setPollInterval(100);
        window.runQueue()->setCliPath(QStringLiteral(TUNEBENCH_CLI));
        window.runQueue()->setCheckInterval(100);
        window.showPage(MainWindow::RunSetupPageIndex);
        window.show();
        RunSetupPage* page = window.runSetupPage();

        // The form, as a user fills it.
        page->findChild<QLineEdit*>(QStringLiteral("modelPath"))->setText(fixture.modelPath());
        QVERIFY(page->selectDataset(fixture.datasetId));
        auto* adapterCombo = page->findChild<QComboBox*>(QStringLiteral("adapterCombo"));
        adapterCombo->setCurrentIndex(adapterCombo->findText(QStringLiteral("lora")));
        QVERIFY(page->adapterForm()->fieldNames().contains("lora_alpha"));
        editorOf<QSpinBox>(page->adapterForm(), "r")->setValue(4);
        editorOf<QPlainTextEdit>(page->adapterForm(), "target_modules")
            ->setPlainText(QStringLiteral("q_proj\nv_proj\no_proj"));
        editorOf<QDoubleSpinBox>(page->trainingForm(), "learning_rate")->setValue(0.01);
        editorOf<QSpinBox>(page->trainingForm(), "max_steps")->setValue(12);
        editorOf<QSpinBox>(page->trainingForm(), "per_device_train_batch_size")->setValue(4);
        editorOf<QSpinBox>(page->trainingForm(), "cutoff_len")->setValue(64);
        editorOf<QSpinBox>(page->trainingForm(), "threads")->setValue(1);
        editorOf<QSpinBox>(page->trainingForm(), "save_steps")->setValue(6);
        editorOf<QPlainTextEdit>(page->measuresForm(), "sample_prompts")->setPlainText(QStringLiteral("say something"));
        editorOf<QSpinBox>(page->measuresForm(), "samples_per_prompt")->setValue(2);
        editorOf<QSpinBox>(page->measuresForm(), "sample_max_new_tokens")->setValue(6);
        page->findChild<QLineEdit*>(QStringLiteral("runName"))->setText(QStringLiteral("gui-lora"));
        QTest::keyClick(page->findChild<QLineEdit*>(QStringLiteral("runName")), Qt::Key_Space);
        QTest::keyClick(page->findChild<QLineEdit*>(QStringLiteral("runName")), Qt::Key_Backspace);

        // The YAML follows the form.
        QString yaml = page->yamlText();
        for (const char* part : { "type: lora", "r: 4", "o_proj", "max_steps: 12", "learning_rate: 0.01",
                 "samples_per_prompt: 2", "name: gui-lora", "cutoff_len: 64" })
            QVERIFY2(yaml.contains(QLatin1String(part)), qPrintable(part + QStringLiteral(" not in\n") + yaml));
        QVERIFY2(page->yamlError().isEmpty(), qPrintable(page->yamlError()));

        // And the form follows the YAML, after the debounce.
        auto* yamlEdit = page->findChild<QPlainTextEdit*>(QStringLiteral("yamlEdit"));
        yamlEdit->setPlainText(yaml.replace(QStringLiteral("r: 4"), QStringLiteral("r: 6")));
        QTRY_COMPARE(editorOf<QSpinBox>(page->adapterForm(), "r")->value(), 6);
        // Errors of the configuration check are shown inline, naming the field.
        auto* status = page->findChild<QLabel*>(QStringLiteral("yamlStatus"));
        yamlEdit->setPlainText(
            yaml.replace(QStringLiteral("learning_rate: 0.01"), QStringLiteral("learning_rate: 20")));
        QTRY_VERIFY(status->text().contains(QStringLiteral("learning_rate")));
        QVERIFY(page->yamlError().contains(QStringLiteral("learning_rate")));
        yamlEdit->setPlainText(yaml.replace(QStringLiteral("learning_rate: 20"), QStringLiteral("learning_rate: 0.01"))
                                   .replace(QStringLiteral("max_steps: 12"), QStringLiteral("max_stepz: 12")));
        QTRY_VERIFY(status->text().contains(QStringLiteral("max_stepz")));
        QVERIFY2(status->text().contains(QStringLiteral("did you mean 'max_steps'")), qPrintable(status->text()));
        yamlEdit->setPlainText(yaml.replace(QStringLiteral("max_stepz: 12"), QStringLiteral("max_steps: 12")));
        QTRY_VERIFY(page->yamlError().isEmpty());
        yamlEdit->setPlainText(yaml + QStringLiteral("  : [unclosed\n"));
        QTRY_VERIFY(page->yamlError().contains(QStringLiteral("YAML:")));
        yamlEdit->setPlainText(yaml);
        QTRY_VERIFY(page->yamlError().isEmpty());
        QCOMPARE(editorOf<QSpinBox>(page->trainingForm(), "max_steps")->value(), 12);

        // Trainable parameters from the adapter attached for real: LoRA r 6 on q, v, o of a
        // hidden-32 model with 2 key/value heads of 8: (6*32 + 32*6) + (6*32 + 16*6) + (6*32 + 32*6) per layer.
        QTRY_VERIFY_WITH_TIMEOUT(page->trainableParameters().has_value(), 20000);
        QCOMPARE(*page->trainableParameters(), std::int64_t(2 * (384 + 288 + 384)));
        // Activations at the dataset's longest example as the run encodes it (capped at cutoff_len), counted off
        // the GUI thread, and the label says which length it used.
        QTRY_VERIFY_WITH_TIMEOUT(page->estimateSequenceLength()
                && page->estimateSequenceLength()->basis == EstimateSequenceLength::Basis::LongestExample,
            20000);
        const EstimateSequenceLength sequence = *page->estimateSequenceLength();
        {
            const Tokenizer tokenizer = Tokenizer::fromFolder(fixture.model);
            Workspace ws = Workspace::open(fixture.workspace);
            const LoadedDataset data = loadDataset(ws, fixture.datasetId);
            const std::optional<ChatTemplate> chat = ChatTemplate::fromFolderIfPresent(fixture.model);
            const std::vector<std::int64_t> lengths
                = encodedExampleLengths(data.records, data.format, tokenizer, chat ? &*chat : nullptr);
            QCOMPARE(sequence.longest, *std::max_element(lengths.begin(), lengths.end()));
            QCOMPARE(sequence.tokens, std::min<std::int64_t>(64, sequence.longest));
        }
        const QString estimateText = page->findChild<QLabel*>(QStringLiteral("estimateLabel"))->text();
        QVERIFY2(estimateText.contains(QStringLiteral("longest example")), qPrintable(estimateText));
        QVERIFY2(
            estimateText.contains(QStringLiteral("\u00d7 %1 tokens").arg(sequence.tokens)), qPrintable(estimateText));
        const MemoryEstimate memory = *page->memoryEstimate();
        QVERIFY(memory.weights >= double(page->modelInspection()->parameters) * 4);
        QCOMPARE(memory.gradients, double(2112) * 4);
        QCOMPARE(memory.optimizer, double(2112) * 8);
        QVERIFY(memory.activations > 0);
        QVERIFY(page->findChild<QLabel*>(QStringLiteral("estimateLabel"))->text().contains(QStringLiteral("2,112")));
        saveScreenshot(window, QStringLiteral("run_setup.png"));

        // Start: the run is recorded, queued, and its worker trains it.
        page->findChild<QPushButton*>(QStringLiteral("startButton"))->click();
        QCOMPARE(window.currentPage(), MainWindow::RunsPageIndex);
        const std::optional<std::int64_t> runId = window.runsPage()->selectedRunId();
        QVERIFY(runId.has_value());
        RunTableModel* model = window.runsPage()->model();
        auto statusOf = [&] {
            const int row = model->rowOf(*runId);
            return row < 0 ? QString() : model->index(row, RunTableModel::StatusColumn).data().toString();
        };
        QTRY_VERIFY_WITH_TIMEOUT(
            statusOf() == QStringLiteral("running") || statusOf() == QStringLiteral("finished"), 30000);
        QTRY_VERIFY_WITH_TIMEOUT(statusOf() != QStringLiteral("running"), 60000);
        QCOMPARE(statusOf(), QStringLiteral("finished"));
        const int row = model->rowOf(*runId);
        QVERIFY(model->index(row, RunTableModel::FinalLossColumn).data(kSortRole).isValid());
        QCOMPARE(model->index(row, RunTableModel::DatasetColumn).data().toString(), QStringLiteral("data"));

        Workspace ws = Workspace::open(fixture.workspace);
        const auto run = RunStore(ws.db()).find(*runId);
        QCOMPARE(run->name, std::string("gui-lora"));
        QVERIFY(run->workerPid.has_value());
        const nlohmann::json stored = nlohmann::json::parse(run->configJson);
        QCOMPARE(stored["r"].get<int>(), 6);
        QCOMPARE(stored["max_steps"].get<int>(), 12);
        QCOMPARE(MetricQuery(ws.db()).series(*runId, "loss").size(), std::size_t(12));
        bool sawStart = false;
        for (const EventRecord& e : RunStore(ws.db()).events(*runId)) {
            if (e.kind != "start")
                continue;
            sawStart = true;
            // The estimate is what training reports.
            QCOMPARE(
                nlohmann::json::parse(e.payloadJson)["trainable_parameters"].get<std::int64_t>(), std::int64_t(2112));
            QCOMPARE(double(nlohmann::json::parse(e.payloadJson)["total_parameters"].get<std::int64_t>()) * 4,
                memory.weights);
        }
        QVERIFY(sawStart);
        QVERIFY(QFile::exists(QString::fromStdString((ws.runDir(*runId) / "worker.log").string())));
        window.runsPage()->selectRun(*runId);
        saveScreenshot(window, QStringLiteral("runs_finished.png"));
    }

    void presetFillsTheForm()
    {
        gui_test::RunFixture fixture;
        WorkspaceSession session;
        QVERIFY(session.open(fixture.workspacePath()));
        RunQueue queue(&session);
        RunSetupPage page(&session, &queue);
        page.setModelPath(fixture.modelPath());
        QVERIFY(page.selectDataset(fixture.datasetId));
        QVERIFY(page.loadPreset(QStringLiteral("dpo-lora")));
        QCOMPARE(page.findChild<QComboBox*>(QStringLiteral("objectiveCombo"))->currentText(), QStringLiteral("dpo"));
        QCOMPARE(page.findChild<QComboBox*>(QStringLiteral("adapterCombo"))->currentText(), QStringLiteral("lora"));
        QCOMPARE(editorOf<QSpinBox>(page.adapterForm(), "r")->value(), 16);
        QCOMPARE(editorOf<QDoubleSpinBox>(page.objectiveForm(), "beta")->value(), 0.1);
        QCOMPARE(editorOf<QSpinBox>(page.trainingForm(), "gradient_accumulation_steps")->value(), 4);
        QVERIFY(page.yamlText().contains(QStringLiteral("type: dpo")));
        QVERIFY(page.yamlText().contains(fixture.modelPath())); // the model stays
        QVERIFY(page.findChild<QLineEdit*>(QStringLiteral("modelPath"))->text() == fixture.modelPath());
        QVERIFY(!page.loadPreset(QStringLiteral("no-such-preset")));
    }
};

QTEST_MAIN(TestRunSetup)
#include "test_run_setup.moc"
