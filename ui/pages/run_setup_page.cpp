#include "ui/pages/run_setup_page.h"

#include "core/method/plugin_registry.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/train/train_config.h"
#include "core/util/yaml_json.h"
#include "ui/pages/run_setup/estimate_panel.h"
#include "ui/pages/run_setup/processes_panel.h"
#include "ui/pages/run_setup/run_setup_form.h"
#include "ui/pages/run_setup/yaml_view.h"
#include "ui/run_queue.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QStyle>
#include <QVBoxLayout>

#include <exception>

namespace tunebench::ui {

RunSetupPage::RunSetupPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_queue(queue)
{
    m_form = new RunSetupForm(session);
    auto* scroll = new QScrollArea;
    scroll->setWidget(m_form);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);

    // Right column: presets, YAML, estimates, name and Start.
    m_presetCombo = new QComboBox;
    m_presetCombo->setObjectName(QStringLiteral("presetCombo"));
    m_presetCombo->addItems(presetNames());
    auto* loadPresetButton = new QPushButton(tr("Load Preset"));
    loadPresetButton->setObjectName(QStringLiteral("loadPresetButton"));
    connect(loadPresetButton, &QPushButton::clicked, this, [this] {
        if (!m_presetCombo->currentText().isEmpty())
            loadPreset(m_presetCombo->currentText());
    });
    auto* presetRow = new QHBoxLayout;
    presetRow->addWidget(new QLabel(tr("Preset:")));
    presetRow->addWidget(m_presetCombo, 1);
    presetRow->addWidget(loadPresetButton);

    m_yaml = new RunYamlView;
    m_estimate = new EstimatePanel([this] { return m_form->estimateInputs(); });

    m_startButton = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Start"));
    m_startButton->setObjectName(QStringLiteral("startButton"));
    m_startButton->setDefault(true);
    connect(m_startButton, &QPushButton::clicked, this, [this] { start(); });
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("setupStatus"));
    m_status->setWordWrap(true);
    makePlainLabel(m_status); // errors quote names and files
    auto* startRow = new QHBoxLayout;
    auto* nameLabel = new QLabel(tr("Run &name:"));
    nameLabel->setBuddy(m_form->nameEdit());
    startRow->addWidget(nameLabel);
    startRow->addWidget(m_form->nameEdit(), 1);
    startRow->addWidget(m_startButton);

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->addLayout(presetRow);
    rightLayout->addWidget(m_yaml, 1);
    rightLayout->addWidget(titledGroup(tr("Estimate"), m_estimate));
    rightLayout->addLayout(startRow);
    rightLayout->addWidget(m_status);

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(scroll);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    connect(m_form, &RunSetupForm::edited, this, &RunSetupPage::formEdited);
    connect(m_form, &RunSetupForm::message, this, &RunSetupPage::showStatus);
    connect(m_form->modelPanel(), &ModelFolderPanel::inspected, this, &RunSetupPage::modelInspected);
    connect(m_yaml, &RunYamlView::settled, this, &RunSetupPage::applyYaml);
    rewriteYaml();
    m_estimate->refresh();
}

RunSetupPage::~RunSetupPage() = default;

QStringList RunSetupPage::presetNames()
{
    QStringList names;
    for (const QFileInfo& f : QDir(QStringLiteral(":/presets")).entryInfoList({ QStringLiteral("*.yaml") }))
        names << f.completeBaseName();
    names.sort();
    return names;
}

nlohmann::json RunSetupPage::configFromForm() const
{
    return m_form->configuration();
}

QString RunSetupPage::yamlText() const
{
    return m_yaml->text();
}

void RunSetupPage::setYamlText(const QString& text)
{
    m_yaml->setText(text);
}

QString RunSetupPage::yamlError() const
{
    return m_yaml->error();
}

void RunSetupPage::setModelPath(const QString& dir)
{
    m_form->modelPanel()->setPath(dir);
}

bool RunSetupPage::selectDataset(std::int64_t datasetId)
{
    return m_form->selectDataset(datasetId);
}

bool RunSetupPage::selectAdapter(const QString& name)
{
    return m_form->selectAdapter(name);
}

bool RunSetupPage::selectObjective(const QString& name)
{
    return m_form->selectObjective(name);
}

SchemaForm* RunSetupPage::adapterForm() const
{
    return m_form->adapterForm();
}

SchemaForm* RunSetupPage::objectiveForm() const
{
    return m_form->objectiveForm();
}

SchemaForm* RunSetupPage::trainingForm() const
{
    return m_form->trainingForm();
}

SchemaForm* RunSetupPage::measuresForm() const
{
    return m_form->measuresForm();
}

ProcessesPanel* RunSetupPage::processesPanel() const
{
    return m_form->processesPanel();
}

RewardsPanel* RunSetupPage::rewardsPanel() const
{
    return m_form->rewardsPanel();
}

const std::optional<ModelInspection>& RunSetupPage::modelInspection() const
{
    return m_form->modelPanel()->inspection();
}

bool RunSetupPage::modelCheckPending() const
{
    return m_form->modelPanel()->checkPending();
}

std::optional<std::int64_t> RunSetupPage::trainableParameters() const
{
    return m_estimate->trainableParameters();
}

bool RunSetupPage::estimatePending() const
{
    return m_estimate->pending();
}

std::optional<MemoryEstimate> RunSetupPage::memoryEstimate() const
{
    return m_estimate->memoryEstimate();
}

std::optional<EstimateSequenceLength> RunSetupPage::estimateSequenceLength() const
{
    return m_estimate->sequenceLength();
}

void RunSetupPage::formEdited()
{
    rewriteYaml();
    m_estimate->schedule();
    m_estimate->refresh();
}

void RunSetupPage::modelInspected()
{
    m_estimate->schedule();
    m_estimate->refresh();
}

void RunSetupPage::rewriteYaml()
{
    m_yaml->showConfiguration(m_form->configuration());
}

bool RunSetupPage::applyYaml()
{
    const std::optional<nlohmann::json> parsed = m_yaml->parse();
    if (!parsed)
        return false;
    QString datasetError;
    if (!m_form->applyConfiguration(*parsed, &datasetError))
        return false;
    if (!datasetError.isEmpty())
        m_yaml->showError(datasetError);
    m_estimate->schedule();
    m_estimate->refresh();
    return true;
}

bool RunSetupPage::loadPreset(const QString& name)
{
    QFile file(QStringLiteral(":/presets/%1.yaml").arg(name));
    if (!file.open(QIODevice::ReadOnly)) {
        showStatus(tr("There is no preset %1.").arg(name), true);
        return false;
    }
    nlohmann::json preset;
    try {
        preset = yamlToJson(file.readAll().toStdString(), "preset " + name.toStdString());
    } catch (const std::exception& e) {
        showStatus(QString::fromUtf8(e.what()), true);
        return false;
    }
    // The preset gives the method and hyperparameters; model, dataset and name stay.
    const nlohmann::json current = configFromForm();
    for (const char* key : { "model", "dataset", "name" }) {
        if (auto it = current.find(key); it != current.end())
            preset[key] = *it;
    }
    m_yaml->replaceText(qs(jsonToYaml(preset)));
    applyYaml();
    rewriteYaml();
    showStatus(tr("Loaded preset %1.").arg(name), false);
    return true;
}

void RunSetupPage::loadConfiguration(const std::string& configJson, const QString& name)
{
    nlohmann::json config = nlohmann::json::parse(configJson, nullptr, false);
    if (!config.is_object()) {
        showStatus(tr("The run's configuration is not a JSON object."), true);
        return;
    }
    config["name"] = name.toStdString();
    if (config.contains("dataset_id") && config.contains("dataset"))
        config.erase("dataset");
    m_yaml->replaceText(qs(jsonToYaml(config)));
    applyYaml();
    rewriteYaml();
    showStatus(tr("Configuration copied: change what you like and press Start."), false);
}

void RunSetupPage::showStatus(const QString& text, bool error)
{
    m_status->setText(userText(text, /*multiLine=*/true));
    m_status->setStyleSheet(error ? QStringLiteral("color: #c62828;") : QString());
}

std::optional<std::int64_t> RunSetupPage::start(QString* error)
{
    auto fail = [&](const QString& message) -> std::optional<std::int64_t> {
        showStatus(message, true);
        if (error)
            *error = message;
        return std::nullopt;
    };
    if (m_yaml->pending() && !applyYaml())
        return fail(tr("The YAML has an error: %1").arg(m_yaml->error()));
    Workspace* ws = m_session->workspace();
    if (!ws)
        return fail(tr("Open or create a workspace first."));
    if (!ws->isWritable())
        return fail(
            tr("Runs cannot be started in this workspace: %1.").arg(QString::fromStdString(ws->readOnlyReason())));
    if (const QString problem = m_form->processesPanel()->problem(); !problem.isEmpty())
        return fail(problem);
    ModelFolderPanel* model = m_form->modelPanel();
    if (model->path().isEmpty())
        return fail(tr("Choose a model folder."));
    if (!model->inspection() || model->inspection()->dir != model->absolutePath())
        model->inspectNow(); // not checked yet: a short load for the small models this is done for
    if (model->inspection() && !model->inspection()->error.isEmpty())
        return fail(tr("The model folder does not load: %1").arg(model->inspection()->error));
    const nlohmann::json config = configFromForm();
    TrainConfig parsed;
    try {
        parsed = TrainConfig::fromJson(config, defaultPluginRegistry(), "configuration");
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    if (parsed.name.empty())
        parsed.name = parsed.adapter + "-" + parsed.objective;
    NewRun run;
    run.name = parsed.name;
    run.configJson = parsed.toJson().dump();
    run.adapter = parsed.adapter;
    run.objective = parsed.objective;
    run.modelPath = parsed.model;
    run.datasetId = parsed.datasetId;
    std::int64_t id = 0;
    try {
        id = RunStore(ws->db()).create(run);
    } catch (const std::exception& e) {
        return fail(tr("Could not record the run: %1").arg(QString::fromUtf8(e.what())));
    }
    m_session->notifyChanged();
    QString queueError;
    if (!m_queue->enqueue(id, false, &queueError))
        return fail(tr("Run #%1 is recorded but could not be queued: %2").arg(id).arg(queueError));
    showStatus(tr("Run #%1 (%2) is queued.").arg(id).arg(qs(parsed.name)), false);
    Q_EMIT runQueued(id);
    return id;
}

} // namespace tunebench::ui
