#include "ui/pages/run_setup/run_setup_form.h"

#include "core/method/plugin_registry.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/train/train_config.h"
#include "core/train/trainer_schema.h"
#include "ui/dialogs/import_dialog.h"
#include "ui/pages/run_setup/model_folder_panel.h"
#include "ui/pages/run_setup/processes_panel.h"
#include "ui/pages/run_setup/rewards_panel.h"
#include "ui/widgets/schema_form.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>

#include <exception>
#include <set>

namespace tunebench::ui {

namespace {

const std::set<std::string> kSetupKeys
    = { "name", "model", "dataset", "dataset_id", "dataset_format", "adapter", "objective" };
const std::set<std::string> kMeasureKeys = { "sample_prompts", "sample_steps", "samples_per_prompt",
    "sample_max_new_tokens", "sample_temperature", "sample_top_p", "forgetting_reference", "forgetting_steps",
    "weight_analysis", "measure_time_budget", "evaluation_tasks", "evaluation_steps", "evaluation_limit" };
// Shown in the YAML even at their defaults: what a reader of a run configuration looks for first.
const std::set<std::string> kAlwaysShown
    = { "learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps",
          "lr_scheduler_type", "warmup_ratio", "seed", "cutoff_len" };

std::set<std::string> trainingSkip()
{
    std::set<std::string> skip = kSetupKeys;
    skip.insert(kMeasureKeys.begin(), kMeasureKeys.end());
    return skip;
}

} // namespace

QGroupBox* titledGroup(const QString& title, QWidget* content)
{
    auto* box = new QGroupBox(title);
    auto* layout = new QVBoxLayout(box);
    layout->addWidget(content);
    return box;
}

RunSetupForm::RunSetupForm(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
{
    const PluginRegistry& plugins = defaultPluginRegistry(); // loaded here, on the GUI thread, once

    m_nameEdit = new QLineEdit;
    m_nameEdit->setObjectName(QStringLiteral("runName"));
    m_nameEdit->setPlaceholderText(tr("adapter-objective"));
    m_modelPanel = new ModelFolderPanel;

    // Dataset.
    m_datasetCombo = new QComboBox;
    m_datasetCombo->setObjectName(QStringLiteral("datasetCombo"));
    m_datasetCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    auto* import = new QPushButton(tr("Import\u2026"));
    import->setObjectName(QStringLiteral("importDatasetButton"));
    connect(import, &QPushButton::clicked, this, &RunSetupForm::importDataset);
    auto* dataBox = new QWidget;
    auto* dataRow = new QHBoxLayout(dataBox);
    dataRow->setContentsMargins(0, 0, 0, 0);
    dataRow->addWidget(m_datasetCombo, 1);
    dataRow->addWidget(import);

    // Method: adapter and objective, each with its generated form.
    m_adapterCombo = new QComboBox;
    m_adapterCombo->setObjectName(QStringLiteral("adapterCombo"));
    m_objectiveCombo = new QComboBox;
    m_objectiveCombo->setObjectName(QStringLiteral("objectiveCombo"));
    for (const PluginInfo& p : plugins.plugins()) {
        if (p.kind == PluginKind::Reward)
            continue; // rewards are listed in a run's rewards, not chosen as its method
        QComboBox* combo = p.kind == PluginKind::Adapter ? m_adapterCombo : m_objectiveCombo;
        combo->addItem(qs(p.name), qs(p.name));
        combo->setItemData(combo->count() - 1, qs(p.summary), Qt::ToolTipRole);
    }
    m_adapterSummary = new QLabel;
    m_adapterSummary->setWordWrap(true);
    m_objectiveSummary = new QLabel;
    m_objectiveSummary->setWordWrap(true);
    m_adapterForm = new SchemaForm;
    m_adapterForm->setObjectName(QStringLiteral("adapterForm"));
    m_objectiveForm = new SchemaForm;
    m_objectiveForm->setObjectName(QStringLiteral("objectiveForm"));
    auto* methodBox = new QWidget;
    auto* methodLayout = new QFormLayout(methodBox);
    methodLayout->setContentsMargins(0, 0, 0, 0);
    methodLayout->addRow(tr("&Adapter:"), m_adapterCombo);
    methodLayout->addRow(QString(), m_adapterSummary);
    methodLayout->addRow(m_adapterForm);
    methodLayout->addRow(tr("&Objective:"), m_objectiveCombo);
    methodLayout->addRow(QString(), m_objectiveSummary);
    methodLayout->addRow(m_objectiveForm);

    m_trainingForm = new SchemaForm;
    m_trainingForm->setObjectName(QStringLiteral("trainingForm"));
    m_trainingForm->setSchema(trainerParameterSchema(), {}, trainingSkip());
    m_measuresForm = new SchemaForm;
    m_measuresForm->setObjectName(QStringLiteral("measuresForm"));
    m_measuresForm->setSchema(trainerParameterSchema(), kMeasureKeys);
    m_processesPanel = new ProcessesPanel;
    m_processesPanel->setObjectName(QStringLiteral("processesPanel"));
    m_rewardsPanel = new RewardsPanel;
    m_rewardsPanel->setObjectName(QStringLiteral("rewardsPanel"));
    m_rewardsGroup = titledGroup(tr("Rewards (scored completions of an online objective)"), m_rewardsPanel);
    m_rewardsGroup->setObjectName(QStringLiteral("rewardsGroup"));

    auto* layout = new QVBoxLayout(this);
    layout->addWidget(titledGroup(tr("Model"), m_modelPanel));
    layout->addWidget(titledGroup(tr("Dataset"), dataBox));
    layout->addWidget(titledGroup(tr("Method"), methodBox));
    layout->addWidget(m_rewardsGroup);
    layout->addWidget(titledGroup(tr("Training"), m_trainingForm));
    layout->addWidget(titledGroup(tr("Measures (samples and diversity, forgetting, weight analysis)"), m_measuresForm));
    layout->addWidget(titledGroup(tr("Processes (data-parallel training)"), m_processesPanel));
    layout->addStretch();

    connect(m_modelPanel, &ModelFolderPanel::pathChanged, this, &RunSetupForm::editedUnlessUpdating);
    connect(m_adapterCombo, &QComboBox::currentIndexChanged, this, [this] {
        buildAdapterForm();
        editedUnlessUpdating();
    });
    connect(m_objectiveCombo, &QComboBox::currentIndexChanged, this, [this] {
        buildObjectiveForm();
        editedUnlessUpdating();
    });
    for (SchemaForm* form : { m_adapterForm, m_objectiveForm, m_trainingForm, m_measuresForm })
        connect(form, &SchemaForm::edited, this, &RunSetupForm::edited);
    connect(m_processesPanel, &ProcessesPanel::edited, this, &RunSetupForm::edited);
    connect(m_rewardsPanel, &RewardsPanel::edited, this, [this] {
        updateRewardsShown();
        Q_EMIT edited();
    });
    connect(m_datasetCombo, &QComboBox::currentIndexChanged, this, &RunSetupForm::editedUnlessUpdating);
    connect(m_nameEdit, &QLineEdit::textEdited, this, &RunSetupForm::edited);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &RunSetupForm::reloadDatasets);
    connect(m_session, &WorkspaceSession::changed, this, &RunSetupForm::reloadDatasets);

    {
        const QSignalBlocker a(m_adapterCombo);
        const QSignalBlocker o(m_objectiveCombo);
        const int lora = m_adapterCombo->findData(QStringLiteral("lora"));
        m_adapterCombo->setCurrentIndex(lora >= 0 ? lora : 0);
        const int sft = m_objectiveCombo->findData(QStringLiteral("sft"));
        m_objectiveCombo->setCurrentIndex(sft >= 0 ? sft : 0);
    }
    buildAdapterForm();
    buildObjectiveForm();
    reloadDatasets();
}

void RunSetupForm::editedUnlessUpdating()
{
    if (!m_updating)
        Q_EMIT edited();
}

void RunSetupForm::buildAdapterForm()
{
    const PluginInfo* p
        = defaultPluginRegistry().find(PluginKind::Adapter, m_adapterCombo->currentData().toString().toStdString());
    m_adapterForm->setSchema(p ? p->schema : ParameterSchema());
    m_adapterSummary->setText(p ? qs(p->summary) : QString());
    m_adapterSummary->setVisible(p && !p->summary.empty());
}

void RunSetupForm::buildObjectiveForm()
{
    const PluginInfo* p
        = defaultPluginRegistry().find(PluginKind::Objective, m_objectiveCombo->currentData().toString().toStdString());
    m_objectiveForm->setSchema(p ? p->schema : ParameterSchema());
    m_objectiveSummary->setText(p ? qs(p->summary) : QString());
    m_objectiveSummary->setVisible(p && !p->summary.empty());
    updateRewardsShown();
}

void RunSetupForm::updateRewardsShown()
{
    // Only online objectives score completions; a list given for another stays shown, so it can be removed.
    m_rewardsGroup->setVisible(
        m_objectiveCombo->currentData().toString() == QLatin1String("grpo") || m_rewardsPanel->count() > 0);
}

void RunSetupForm::reloadDatasets()
{
    const QVariant current = m_datasetCombo->currentData();
    std::vector<DatasetRecord> datasets;
    if (Workspace* ws = m_session->workspace()) {
        try {
            datasets = DatasetStore(ws->db()).list();
        } catch (const std::exception& e) {
            m_session->reportError(tr("Cannot read the datasets: %1").arg(QString::fromUtf8(e.what())));
            return;
        }
    }
    // The store changes often while runs train: rebuild only when the datasets did.
    QStringList labels { m_session->isOpen() ? tr("(choose a dataset)") : tr("(open a workspace first)") };
    for (const DatasetRecord& d : datasets)
        labels << tr("#%1 %2 (%3, %4 records)")
                      .arg(QString::number(d.id), userText(d.name), userText(d.format), QString::number(d.records));
    QStringList shown;
    for (int i = 0; i < m_datasetCombo->count() && m_datasetCombo->itemData(i).typeId() != QMetaType::QString; ++i)
        shown << m_datasetCombo->itemText(i);
    if (shown == labels)
        return;
    const bool was = m_updating;
    m_updating = true;
    // Files named in a YAML stay offered beside the workspace's datasets.
    QList<QPair<QString, QVariant>> files;
    for (int i = 0; i < m_datasetCombo->count(); ++i) {
        if (m_datasetCombo->itemData(i).typeId() == QMetaType::QString)
            files.append({ m_datasetCombo->itemText(i), m_datasetCombo->itemData(i) });
    }
    m_datasetCombo->clear();
    m_datasetCombo->addItem(labels.first());
    for (std::size_t i = 0; i < datasets.size(); ++i)
        m_datasetCombo->addItem(labels[qsizetype(i) + 1], QVariant::fromValue<qint64>(datasets[i].id));
    for (const auto& [text, data] : files)
        m_datasetCombo->addItem(text, data);
    const int index = current.isValid() ? m_datasetCombo->findData(current) : -1;
    m_datasetCombo->setCurrentIndex(std::max(index, 0));
    m_updating = was;
    if (index < 0 && current.isValid() && !m_updating)
        Q_EMIT edited(); // the chosen dataset went away
}

bool RunSetupForm::selectDataset(std::int64_t datasetId)
{
    const int index = m_datasetCombo->findData(QVariant::fromValue<qint64>(datasetId));
    if (index < 0)
        return false;
    m_datasetCombo->setCurrentIndex(index);
    return true;
}

bool RunSetupForm::selectAdapter(const QString& name)
{
    const int index = m_adapterCombo->findData(name);
    if (index >= 0)
        m_adapterCombo->setCurrentIndex(index);
    return index >= 0;
}

bool RunSetupForm::selectObjective(const QString& name)
{
    const int index = m_objectiveCombo->findData(name);
    if (index >= 0)
        m_objectiveCombo->setCurrentIndex(index);
    return index >= 0;
}

void RunSetupForm::importDataset()
{
    if (!m_session->isOpen()) {
        Q_EMIT message(tr("Open or create a workspace first."), true);
        return;
    }
    ImportDialog dialog(m_session, this);
    dialog.exec();
    if (const auto& result = dialog.lastResult(); result && result->imported && result->id) {
        m_session->notifyChanged();
        reloadDatasets();
        selectDataset(*result->id);
    }
}

nlohmann::json RunSetupForm::configuration() const
{
    nlohmann::json c = nlohmann::json::object();
    if (!m_nameEdit->text().trimmed().isEmpty())
        c["name"] = m_nameEdit->text().trimmed().toStdString();
    if (const QString model = m_modelPanel->absolutePath(); !model.isEmpty())
        c["model"] = model.toStdString();
    const QVariant dataset = m_datasetCombo->currentData();
    if (dataset.typeId() == QMetaType::QString)
        c["dataset"] = dataset.toString().toStdString();
    else if (dataset.isValid())
        c["dataset"] = dataset.value<qint64>();
    nlohmann::json adapter = { { "type", m_adapterCombo->currentData().toString().toStdString() } };
    adapter.update(m_adapterForm->changedValues());
    c["adapter"] = adapter;
    nlohmann::json objective = { { "type", m_objectiveCombo->currentData().toString().toStdString() } };
    objective.update(m_objectiveForm->changedValues());
    c["objective"] = objective;
    nlohmann::json training = m_trainingForm->changedValues();
    const nlohmann::json all = m_trainingForm->values();
    for (const std::string& key : kAlwaysShown) {
        if (auto it = all.find(key); it != all.end())
            training[key] = *it;
    }
    training.update(m_measuresForm->changedValues());
    c["training"] = training;
    if (nlohmann::json rewards = m_rewardsPanel->rewards(); !rewards.empty())
        c["rewards"] = std::move(rewards);
    if (nlohmann::json distributed = m_processesPanel->section(); !distributed.is_null())
        c["distributed"] = std::move(distributed);
    return c;
}

bool RunSetupForm::applyConfiguration(const nlohmann::json& parsed, QString* datasetError)
{
    nlohmann::json patched = parsed;
    const bool hasModel = patched.contains("model") || patched.contains("model_name_or_path");
    if (!hasModel)
        patched["model"] = "";
    bool hasDataset = false;
    for (const char* key : { "dataset", "dataset_id", "data_path", "train_file" }) {
        hasDataset = hasDataset || patched.contains(key);
        for (const char* section : { "training", "train", "trainer" }) {
            if (auto it = patched.find(section); it != patched.end() && it->is_object())
                hasDataset = hasDataset || it->contains(key);
        }
    }
    if (!hasDataset)
        patched["dataset_id"] = 0;
    TrainConfig c;
    try {
        c = TrainConfig::fromJson(patched, defaultPluginRegistry(), "YAML");
    } catch (const std::exception&) {
        return false; // the YAML view's message says what is wrong
    }
    const bool was = m_updating;
    m_updating = true;
    if (m_nameEdit->text() != qs(c.name))
        m_nameEdit->setText(qs(c.name));
    if (hasModel && m_modelPanel->path() != qs(c.model))
        m_modelPanel->setPath(qs(c.model));
    if (!hasModel && !m_modelPanel->path().isEmpty())
        m_modelPanel->setPath(QString());
    if (!hasDataset) {
        m_datasetCombo->setCurrentIndex(0);
    } else if (c.datasetId) {
        const int index = m_datasetCombo->findData(QVariant::fromValue<qint64>(*c.datasetId));
        if (index >= 0) {
            m_datasetCombo->setCurrentIndex(index);
        } else {
            m_datasetCombo->setCurrentIndex(0);
            if (datasetError)
                *datasetError = tr("YAML: there is no dataset #%1 in this workspace.").arg(*c.datasetId);
        }
    } else if (!c.dataset.empty()) {
        const QString file = qs(c.dataset);
        int index = m_datasetCombo->findData(file);
        if (index < 0) {
            m_datasetCombo->addItem(tr("File: %1").arg(file), file);
            index = m_datasetCombo->count() - 1;
        }
        m_datasetCombo->setCurrentIndex(index);
    }
    if (m_adapterCombo->currentData().toString() != qs(c.adapter))
        selectAdapter(qs(c.adapter)); // rebuilds the form
    m_adapterForm->setValues(c.adapterParams);
    if (m_objectiveCombo->currentData().toString() != qs(c.objective))
        selectObjective(qs(c.objective));
    m_objectiveForm->setValues(c.objectiveParams);
    const nlohmann::json flat = c.toJson();
    m_trainingForm->setValues(flat);
    m_measuresForm->setValues(flat);
    m_processesPanel->setSettings(c.distributed);
    m_rewardsPanel->setRewards(c.rewards);
    updateRewardsShown();
    m_updating = was;
    return true;
}

EstimateInputs RunSetupForm::estimateInputs() const
{
    EstimateInputs in;
    const auto& inspection = m_modelPanel->inspection();
    in.model = inspection ? &*inspection : nullptr;
    in.modelCurrent = m_modelPanel->inspectionCurrent();
    const nlohmann::json training = m_trainingForm->values();
    in.method.adapter = m_adapterCombo->currentData().toString().toStdString();
    in.method.adapterParams = m_adapterForm->values();
    in.method.objective = m_objectiveCombo->currentData().toString().toStdString();
    in.method.objectiveParams = m_objectiveForm->values();
    in.method.seed = training.value("seed", std::uint64_t(42));
    in.settings.batchSize = training.value("per_device_train_batch_size", std::int64_t(8));
    in.settings.cutoffLen = training.value("cutoff_len", std::int64_t(1024));
    in.settings.optim = training.value("optim", std::string("adamw_torch"));
    in.settings.sgdMomentum = training.value("sgd_momentum", 0.0);
    in.settings.precomputeRefLogProbs = training.value("precompute_ref_log_probs", false);
    in.settings.packing = training.value("packing", false);
    in.settings.gradientCheckpointing = training.value("gradient_checkpointing", false);
    in.settings.lossChunkTokens = MemorySettings::lossChunkFor(in.method.objective, in.method.objectiveParams);
    in.session = m_session;
    if (const QVariant dataset = m_datasetCombo->currentData();
        dataset.isValid() && dataset.typeId() != QMetaType::QString)
        in.datasetId = dataset.value<qint64>();
    in.key = m_modelPanel->path() + QLatin1Char('|') + qs(in.method.adapter) + QLatin1Char('|')
        + qs(in.method.adapterParams.dump()) + QLatin1Char('|') + qs(in.method.objective) + QLatin1Char('|')
        + qs(in.method.objectiveParams.dump()) + QLatin1Char('|') + QString::number(in.method.seed);
    return in;
}

} // namespace tunebench::ui
