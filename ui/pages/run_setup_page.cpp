#include "ui/pages/run_setup_page.h"

#include "core/method/adapter.h"
#include "core/method/objective.h"
#include "core/method/plugin_registry.h"
#include "core/model/model_loader.h"
#include "core/model/model_weights.h"
#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "core/train/train_config.h"
#include "core/train/trainer_schema.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"
#include "ui/dialogs/import_dialog.h"
#include "ui/run_queue.h"
#include "ui/widgets/schema_form.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QDir>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QFontDatabase>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QLocale>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QStyle>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>
#include <filesystem>
#include <set>

namespace tunebench::ui {

namespace {

namespace fs = std::filesystem;

constexpr int kYamlDebounceMs = 400;
constexpr int kModelDebounceMs = 400;
constexpr int kEstimateDebounceMs = 300;
// Folders whose weights take more than this are not loaded here for the estimate
// (float32 weights are mapped, not copied, but other dtypes are converted).
constexpr std::uintmax_t kLoadLimitBytes = 2ull << 30;

const std::set<std::string> kSetupKeys
    = { "name", "model", "dataset", "dataset_id", "dataset_format", "adapter", "objective" };
const std::set<std::string> kMeasureKeys
    = { "sample_prompts", "sample_steps", "samples_per_prompt", "sample_max_new_tokens", "sample_temperature",
          "sample_top_p", "forgetting_reference", "forgetting_steps", "weight_analysis", "measure_time_budget" };
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

QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

QString formatCount(std::int64_t n)
{
    if (n >= 1'000'000'000)
        return QStringLiteral("%1B").arg(double(n) / 1e9, 0, 'f', 2);
    if (n >= 1'000'000)
        return QStringLiteral("%1M").arg(double(n) / 1e6, 0, 'f', 2);
    if (n >= 10'000)
        return QStringLiteral("%1K").arg(double(n) / 1e3, 0, 'f', 1);
    return QString::number(n);
}

QString formatBytes(double bytes)
{
    return QLocale::system().formattedDataSize(static_cast<qint64>(bytes), 1, QLocale::DataSizeTraditionalFormat);
}

ModelInspection inspectModelFolder(const QString& dir)
{
    ModelInspection out;
    out.dir = dir;
    try {
        const fs::path path(dir.toStdString());
        if (!fs::is_directory(path))
            throw InputError(path.string() + ": not a folder (choose a Hugging Face model folder)");
        out.config = readModelConfig(path / "config.json");
        validateModelConfig(out.config, (path / "config.json").string());
        const ModelWeights weights = ModelWeights::open(path);
        std::uintmax_t bytes = 0;
        for (const fs::path& f : weights.files())
            bytes += fs::file_size(f);
        out.loadable = bytes <= kLoadLimitBytes;
        if (out.loadable) {
            out.parameters = loadCausalLM(path)->parameterCount();
        } else {
            // Counted from the headers; a stored copy of tied output weights is not a parameter.
            for (const std::string& name : weights.names()) {
                if (out.config.tieWordEmbeddings && name == "lm_head.weight")
                    continue;
                out.parameters += weights.tensor(name).numel();
            }
        }
        Tokenizer::fromFolder(path); // the trainer needs one: refuse the folder now if it has none
        out.chatTemplate = QFile::exists(dir + QStringLiteral("/chat_template.jinja"));
        if (!out.chatTemplate) {
            QFile config(dir + QStringLiteral("/tokenizer_config.json"));
            out.chatTemplate = config.open(QIODevice::ReadOnly) && config.readAll().contains("\"chat_template\"");
        }
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

struct EstimateRequest {
    QString key;
    QString modelDir;
    std::string adapter;
    nlohmann::json adapterParams;
    std::string objective;
    nlohmann::json objectiveParams;
    std::uint64_t seed = 42;
    bool load = true;
    std::int64_t parameters = 0;
};

// Attaches the adapter as the trainer does and counts what it trains.
TrainableEstimate estimateTrainable(const EstimateRequest& request)
{
    TrainableEstimate out;
    out.key = request.key;
    try {
        const PluginRegistry& plugins = defaultPluginRegistry();
        nlohmann::json objectiveConfig = request.objectiveParams;
        const nlohmann::json objectiveParams = plugins.require(PluginKind::Objective, request.objective)
                                                   .schema.resolve(objectiveConfig, "objective " + request.objective);
        auto objective = plugins.createObjective(request.objective);
        objective->configure(objectiveParams);
        out.objectiveNeedsReference = objective->needsReference();
        out.pairwise = objective->data() == ObjectiveData::PreferencePairs;
        nlohmann::json adapterConfig = request.adapterParams;
        const nlohmann::json adapterParams = plugins.require(PluginKind::Adapter, request.adapter)
                                                 .schema.resolve(adapterConfig, "adapter " + request.adapter);
        if (!request.load) {
            if (request.adapter != "full")
                throw InputError("the model is too large to attach the adapter here; the trainable count is "
                                 "reported when the run starts");
            out.trainable = out.total = request.parameters;
            out.adapterCanDisable = false;
            return out;
        }
        const fs::path dir(request.modelDir.toStdString());
        auto model = loadCausalLM(dir);
        model->setRequiresGrad(false);
        std::optional<Tokenizer> tokenizer;
        try {
            tokenizer.emplace(Tokenizer::fromFolder(dir));
        } catch (const std::exception&) { }
        TextEncoder encode;
        if (tokenizer) {
            encode = [&tokenizer](const std::string& text) { return tokenizer->encode(text, true); };
        }
        auto adapter = plugins.createAdapter(request.adapter);
        adapter->attach({ *model, adapterParams, request.seed, encode });
        for (const auto& group : adapter->parameterGroups(0.0)) {
            for (const auto& p : group.parameters)
                out.trainable += p.tensor.numel();
        }
        out.total = model->parameterCount();
        out.adapterCanDisable = adapter->canDisable();
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

QGroupBox* group(const QString& title, QWidget* content)
{
    auto* box = new QGroupBox(title);
    auto* layout = new QVBoxLayout(box);
    layout->addWidget(content);
    return box;
}

} // namespace

RunSetupPage::RunSetupPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_queue(queue)
{
    const PluginRegistry& plugins = defaultPluginRegistry(); // loaded here, on the GUI thread, once

    // Model.
    m_modelEdit = new QLineEdit;
    m_modelEdit->setObjectName(QStringLiteral("modelPath"));
    m_modelEdit->setPlaceholderText(tr("A Hugging Face model folder (config.json, *.safetensors, tokenizer.json)"));
    auto* browse = new QPushButton(tr("Browse\u2026"));
    connect(browse, &QPushButton::clicked, this, &RunSetupPage::browseModel);
    m_modelInfo = new QLabel(tr("No model chosen."));
    m_modelInfo->setObjectName(QStringLiteral("modelInfo"));
    m_modelInfo->setWordWrap(true);
    m_modelInfo->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* modelBox = new QWidget;
    auto* modelLayout = new QVBoxLayout(modelBox);
    modelLayout->setContentsMargins(0, 0, 0, 0);
    auto* modelRow = new QHBoxLayout;
    modelRow->addWidget(m_modelEdit, 1);
    modelRow->addWidget(browse);
    modelLayout->addLayout(modelRow);
    modelLayout->addWidget(m_modelInfo);

    // Dataset.
    m_datasetCombo = new QComboBox;
    m_datasetCombo->setObjectName(QStringLiteral("datasetCombo"));
    m_datasetCombo->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    auto* import = new QPushButton(tr("Import\u2026"));
    import->setObjectName(QStringLiteral("importDatasetButton"));
    connect(import, &QPushButton::clicked, this, &RunSetupPage::importDataset);
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

    auto* formColumn = new QWidget;
    auto* formLayout = new QVBoxLayout(formColumn);
    formLayout->addWidget(group(tr("Model"), modelBox));
    formLayout->addWidget(group(tr("Dataset"), dataBox));
    formLayout->addWidget(group(tr("Method"), methodBox));
    formLayout->addWidget(group(tr("Training"), m_trainingForm));
    formLayout->addWidget(group(tr("Measures (samples and diversity, forgetting, weight analysis)"), m_measuresForm));
    formLayout->addStretch();
    auto* scroll = new QScrollArea;
    scroll->setWidget(formColumn);
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

    m_yaml = new QPlainTextEdit;
    m_yaml->setObjectName(QStringLiteral("yamlEdit"));
    m_yaml->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_yaml->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_yaml->setTabChangesFocus(false);
    m_yamlStatus = new QLabel;
    m_yamlStatus->setObjectName(QStringLiteral("yamlStatus"));
    m_yamlStatus->setWordWrap(true);
    m_yamlStatus->setTextInteractionFlags(Qt::TextSelectableByMouse);

    m_estimateLabel = new QLabel;
    m_estimateLabel->setObjectName(QStringLiteral("estimateLabel"));
    m_estimateLabel->setWordWrap(true);
    m_estimateLabel->setTextFormat(Qt::RichText);

    m_nameEdit = new QLineEdit;
    m_nameEdit->setObjectName(QStringLiteral("runName"));
    m_nameEdit->setPlaceholderText(tr("adapter-objective"));
    m_startButton = new QPushButton(style()->standardIcon(QStyle::SP_MediaPlay), tr("&Start"));
    m_startButton->setObjectName(QStringLiteral("startButton"));
    m_startButton->setDefault(true);
    connect(m_startButton, &QPushButton::clicked, this, [this] { start(); });
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("setupStatus"));
    m_status->setWordWrap(true);
    auto* startRow = new QHBoxLayout;
    auto* nameLabel = new QLabel(tr("Run &name:"));
    nameLabel->setBuddy(m_nameEdit);
    startRow->addWidget(nameLabel);
    startRow->addWidget(m_nameEdit, 1);
    startRow->addWidget(m_startButton);

    auto* right = new QWidget;
    auto* rightLayout = new QVBoxLayout(right);
    rightLayout->addLayout(presetRow);
    rightLayout->addWidget(new QLabel(tr("Configuration (YAML, kept in step with the form):")));
    rightLayout->addWidget(m_yaml, 1);
    rightLayout->addWidget(m_yamlStatus);
    rightLayout->addWidget(group(tr("Estimate"), m_estimateLabel));
    rightLayout->addLayout(startRow);
    rightLayout->addWidget(m_status);

    auto* split = new QSplitter(Qt::Horizontal);
    split->addWidget(scroll);
    split->addWidget(right);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split);

    // Wiring.
    m_yamlTimer.setSingleShot(true);
    m_yamlTimer.setInterval(kYamlDebounceMs);
    connect(&m_yamlTimer, &QTimer::timeout, this, &RunSetupPage::applyYaml);
    connect(m_yaml, &QPlainTextEdit::textChanged, this, [this] {
        if (!m_updating)
            m_yamlTimer.start();
    });
    m_modelTimer.setSingleShot(true);
    m_modelTimer.setInterval(kModelDebounceMs);
    connect(&m_modelTimer, &QTimer::timeout, this, &RunSetupPage::inspectModel);
    connect(m_modelEdit, &QLineEdit::textChanged, this, [this] {
        m_modelTimer.start();
        if (!m_updating)
            formEdited();
    });
    m_estimateTimer.setSingleShot(true);
    m_estimateTimer.setInterval(kEstimateDebounceMs);
    connect(&m_estimateTimer, &QTimer::timeout, this, &RunSetupPage::startEstimate);
    connect(&m_modelWatcher, &QFutureWatcher<ModelInspection>::finished, this, &RunSetupPage::modelInspected);
    connect(&m_estimateWatcher, &QFutureWatcher<TrainableEstimate>::finished, this, &RunSetupPage::estimateFinished);

    connect(m_adapterCombo, &QComboBox::currentIndexChanged, this, [this] {
        buildAdapterForm();
        if (!m_updating)
            formEdited();
    });
    connect(m_objectiveCombo, &QComboBox::currentIndexChanged, this, [this] {
        buildObjectiveForm();
        if (!m_updating)
            formEdited();
    });
    for (SchemaForm* form : { m_adapterForm, m_objectiveForm, m_trainingForm, m_measuresForm })
        connect(form, &SchemaForm::edited, this, &RunSetupPage::formEdited);
    connect(m_datasetCombo, &QComboBox::currentIndexChanged, this, [this] {
        if (!m_updating)
            formEdited();
    });
    connect(m_nameEdit, &QLineEdit::textEdited, this, &RunSetupPage::formEdited);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &RunSetupPage::reloadDatasets);
    connect(m_session, &WorkspaceSession::changed, this, &RunSetupPage::reloadDatasets);

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
    rewriteYaml();
    updateEstimateLabel();
}

RunSetupPage::~RunSetupPage()
{
    // The jobs hold no pointer to the page; their results are just dropped.
    m_modelWatcher.disconnect(this);
    m_estimateWatcher.disconnect(this);
}

QStringList RunSetupPage::presetNames()
{
    QStringList names;
    for (const QFileInfo& f : QDir(QStringLiteral(":/presets")).entryInfoList({ QStringLiteral("*.yaml") }))
        names << f.completeBaseName();
    names.sort();
    return names;
}

void RunSetupPage::buildAdapterForm()
{
    const PluginInfo* p
        = defaultPluginRegistry().find(PluginKind::Adapter, m_adapterCombo->currentData().toString().toStdString());
    m_adapterForm->setSchema(p ? p->schema : ParameterSchema());
    m_adapterSummary->setText(p ? qs(p->summary) : QString());
    m_adapterSummary->setVisible(p && !p->summary.empty());
}

void RunSetupPage::buildObjectiveForm()
{
    const PluginInfo* p
        = defaultPluginRegistry().find(PluginKind::Objective, m_objectiveCombo->currentData().toString().toStdString());
    m_objectiveForm->setSchema(p ? p->schema : ParameterSchema());
    m_objectiveSummary->setText(p ? qs(p->summary) : QString());
    m_objectiveSummary->setVisible(p && !p->summary.empty());
}

void RunSetupPage::reloadDatasets()
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
        labels << tr("#%1 %2 (%3, %4 records)").arg(d.id).arg(qs(d.name), qs(d.format)).arg(d.records);
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
        formEdited(); // the chosen dataset went away
}

bool RunSetupPage::selectDataset(std::int64_t datasetId)
{
    const int index = m_datasetCombo->findData(QVariant::fromValue<qint64>(datasetId));
    if (index < 0)
        return false;
    m_datasetCombo->setCurrentIndex(index);
    return true;
}

bool RunSetupPage::selectAdapter(const QString& name)
{
    const int index = m_adapterCombo->findData(name);
    if (index >= 0)
        m_adapterCombo->setCurrentIndex(index);
    return index >= 0;
}

bool RunSetupPage::selectObjective(const QString& name)
{
    const int index = m_objectiveCombo->findData(name);
    if (index >= 0)
        m_objectiveCombo->setCurrentIndex(index);
    return index >= 0;
}

void RunSetupPage::setModelPath(const QString& dir)
{
    m_modelEdit->setText(dir);
}

void RunSetupPage::importDataset()
{
    if (!m_session->isOpen()) {
        showStatus(tr("Open or create a workspace first."), true);
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

void RunSetupPage::browseModel()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose a model folder"), m_modelEdit->text());
    if (!dir.isEmpty())
        setModelPath(dir);
}

nlohmann::json RunSetupPage::configFromForm() const
{
    nlohmann::json c = nlohmann::json::object();
    if (!m_nameEdit->text().trimmed().isEmpty())
        c["name"] = m_nameEdit->text().trimmed().toStdString();
    if (const QString model = m_modelEdit->text().trimmed(); !model.isEmpty())
        c["model"] = QFileInfo(model).absoluteFilePath().toStdString();
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
    return c;
}

QString RunSetupPage::yamlText() const
{
    return m_yaml->toPlainText();
}

void RunSetupPage::setYamlText(const QString& text)
{
    m_yaml->setPlainText(text);
}

void RunSetupPage::formEdited()
{
    rewriteYaml();
    scheduleEstimate();
    updateEstimateLabel();
}

void RunSetupPage::rewriteYaml()
{
    const nlohmann::json config = configFromForm();
    const QString text = qs(jsonToYaml(config));
    m_yamlTimer.stop();
    if (text != m_yaml->toPlainText()) {
        const bool was = m_updating;
        m_updating = true;
        m_yaml->setPlainText(text);
        m_updating = was;
    }
    // The form's own configuration still goes through the check Start does.
    try {
        TrainConfig::fromJson(config, defaultPluginRegistry(), "configuration");
        m_yamlError.clear();
        m_yamlStatus->setText(tr("\u2714 Valid configuration."));
        m_yamlStatus->setStyleSheet(QString());
    } catch (const std::exception& e) {
        m_yamlError = QString::fromUtf8(e.what());
        m_yamlStatus->setText(m_yamlError);
        m_yamlStatus->setStyleSheet(QStringLiteral("color: #c62828;"));
    }
}

bool RunSetupPage::applyYaml()
{
    m_yamlTimer.stop();
    nlohmann::json parsed;
    try {
        parsed = yamlToJson(m_yaml->toPlainText().toStdString(), "YAML");
        if (parsed.is_null())
            parsed = nlohmann::json::object();
        TrainConfig::fromJson(parsed, defaultPluginRegistry(), "YAML");
        m_yamlError.clear();
        m_yamlStatus->setText(tr("\u2714 Valid configuration."));
        m_yamlStatus->setStyleSheet(QString());
    } catch (const std::exception& e) {
        m_yamlError = QString::fromUtf8(e.what());
        m_yamlStatus->setText(m_yamlError);
        m_yamlStatus->setStyleSheet(QStringLiteral("color: #c62828;"));
        if (!parsed.is_object())
            return false;
    }
    // The form follows whatever parses, with a model and dataset still missing
    // stood in for, so the rest of a half-written configuration already shows.
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
        return false; // the message above says what is wrong
    }
    const bool was = m_updating;
    m_updating = true;
    if (m_nameEdit->text() != qs(c.name))
        m_nameEdit->setText(qs(c.name));
    if (hasModel && m_modelEdit->text() != qs(c.model))
        m_modelEdit->setText(qs(c.model));
    if (!hasModel && !m_modelEdit->text().isEmpty())
        m_modelEdit->clear();
    if (!hasDataset) {
        m_datasetCombo->setCurrentIndex(0);
    } else if (c.datasetId) {
        const int index = m_datasetCombo->findData(QVariant::fromValue<qint64>(*c.datasetId));
        if (index >= 0) {
            m_datasetCombo->setCurrentIndex(index);
        } else {
            m_datasetCombo->setCurrentIndex(0);
            m_yamlStatus->setText(tr("YAML: there is no dataset #%1 in this workspace.").arg(*c.datasetId));
            m_yamlStatus->setStyleSheet(QStringLiteral("color: #c62828;"));
            m_yamlError = m_yamlStatus->text();
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
    m_updating = was;
    scheduleEstimate();
    updateEstimateLabel();
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
    m_updating = true;
    m_yaml->setPlainText(qs(jsonToYaml(preset)));
    m_updating = false;
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
    m_updating = true;
    m_yaml->setPlainText(qs(jsonToYaml(config)));
    m_updating = false;
    applyYaml();
    rewriteYaml();
    showStatus(tr("Configuration copied: change what you like and press Start."), false);
}

bool RunSetupPage::modelCheckPending() const
{
    return m_modelTimer.isActive() || m_modelWatcher.isRunning();
}

void RunSetupPage::inspectModel()
{
    const QString dir = m_modelEdit->text().trimmed();
    if (dir.isEmpty()) {
        m_model.reset();
        m_modelRequested.clear();
        m_modelInfo->setText(tr("No model chosen."));
        m_modelInfo->setStyleSheet(QString());
        updateEstimateLabel();
        return;
    }
    const QString absolute = QFileInfo(dir).absoluteFilePath();
    if (m_model && m_model->dir == absolute && !m_modelWatcher.isRunning())
        return;
    m_modelRequested = absolute;
    m_modelInfo->setText(tr("Checking %1\u2026").arg(QDir::toNativeSeparators(absolute)));
    m_modelInfo->setStyleSheet(QString());
    m_modelWatcher.setFuture(QtConcurrent::run(inspectModelFolder, absolute));
}

void RunSetupPage::modelInspected()
{
    const ModelInspection result = m_modelWatcher.result();
    if (result.dir != m_modelRequested)
        return; // an older request
    showInspection(result);
}

void RunSetupPage::showInspection(const ModelInspection& result)
{
    m_model = result;
    if (!result.error.isEmpty()) {
        m_modelInfo->setText(result.error);
        m_modelInfo->setStyleSheet(QStringLiteral("color: #c62828;"));
    } else {
        const ModelConfig& c = result.config;
        const std::string_view arch = architectureClassName(c.architecture);
        const std::string_view dtype = storageDtypeName(c.torchDtype);
        m_modelInfo->setText(
            tr("%1 \u00b7 %2 parameters \u00b7 %3 \u00b7 vocabulary %4 \u00b7 %5 layers \u00b7 "
               "hidden %6 \u00b7 %7 heads (%8 key/value)%9")
                .arg(QString::fromUtf8(arch.data(), qsizetype(arch.size())), formatCount(result.parameters),
                    QString::fromUtf8(dtype.data(), qsizetype(dtype.size())))
                .arg(c.vocabSize)
                .arg(c.numLayers)
                .arg(c.hiddenSize)
                .arg(c.numHeads)
                .arg(c.numKvHeads)
                .arg(result.chatTemplate ? tr(" \u00b7 chat template") : QString()));
        m_modelInfo->setStyleSheet(QString());
    }
    scheduleEstimate();
    updateEstimateLabel();
}

QString RunSetupPage::estimateKey() const
{
    return m_modelEdit->text().trimmed() + QLatin1Char('|') + m_adapterCombo->currentData().toString()
        + QLatin1Char('|') + qs(m_adapterForm->values().dump()) + QLatin1Char('|')
        + m_objectiveCombo->currentData().toString() + QLatin1Char('|') + qs(m_objectiveForm->values().dump())
        + QLatin1Char('|') + QString::number(m_trainingForm->values().value("seed", 42));
}

void RunSetupPage::scheduleEstimate()
{
    m_estimateTimer.start();
}

bool RunSetupPage::estimatePending() const
{
    return m_estimateTimer.isActive() || m_estimateWatcher.isRunning();
}

std::optional<std::int64_t> RunSetupPage::trainableParameters() const
{
    if (!m_estimate || !m_estimate->error.isEmpty() || m_estimate->key != estimateKey())
        return std::nullopt;
    return m_estimate->trainable;
}

void RunSetupPage::startEstimate()
{
    if (!m_model || !m_model->error.isEmpty() || m_modelWatcher.isRunning()
        || m_model->dir != QFileInfo(m_modelEdit->text().trimmed()).absoluteFilePath())
        return;
    const QString key = estimateKey();
    if (m_estimate && m_estimate->key == key)
        return;
    if (m_estimateRequested == key && m_estimateWatcher.isRunning())
        return;
    EstimateRequest request;
    request.key = key;
    request.modelDir = m_model->dir;
    request.adapter = m_adapterCombo->currentData().toString().toStdString();
    request.adapterParams = m_adapterForm->values();
    request.objective = m_objectiveCombo->currentData().toString().toStdString();
    request.objectiveParams = m_objectiveForm->values();
    request.seed = m_trainingForm->values().value("seed", std::uint64_t(42));
    request.load = m_model->loadable;
    request.parameters = m_model->parameters;
    m_estimateRequested = key;
    m_estimateWatcher.setFuture(QtConcurrent::run(estimateTrainable, request));
    updateEstimateLabel();
}

void RunSetupPage::estimateFinished()
{
    const TrainableEstimate result = m_estimateWatcher.result();
    if (result.key != m_estimateRequested)
        return;
    m_estimate = result;
    updateEstimateLabel();
    if (m_estimate->key != estimateKey())
        scheduleEstimate(); // the form moved on meanwhile
}

MemoryEstimate RunSetupPage::estimateMemory(const MemoryInputs& in)
{
    MemoryEstimate m;
    const auto p = static_cast<double>(in.parameters);
    const auto t = static_cast<double>(in.trainable);
    const double f32 = 4.0;
    m.weights = p * in.weightBytes;
    m.gradients = t * f32;
    if (in.optim == "sgd")
        m.optimizer = in.sgdMomentum > 0 ? t * f32 : 0.0;
    else
        m.optimizer = 2.0 * t * f32; // AdamW: first and second moments
    m.reference = in.frozenReference ? p * in.weightBytes : 0.0;
    const ModelConfig& c = in.model;
    const double sequences = static_cast<double>(in.batchSize) * (in.pairwise ? 2.0 : 1.0);
    const auto s = static_cast<double>(in.cutoffLen);
    const auto h = static_cast<double>(c.hiddenSize);
    const auto inter = static_cast<double>(c.intermediateSize);
    const auto layers = static_cast<double>(c.numLayers);
    const auto heads = static_cast<double>(c.numHeads);
    const auto vocab = static_cast<double>(c.vocabSize);
    // Saved for backward, float32, per token and layer: norm inputs, q/k/v,
    // attention output and o_proj input (about 8 H), the MLP's gate, up,
    // activation and down input (about 3 I); per layer the attention scores
    // and probabilities (2 x heads x S x S); the logits and their gradient (2 V).
    m.activations = sequences * s * (layers * (8.0 * h + 3.0 * inter) + 2.0 * vocab) * f32
        + sequences * layers * heads * s * s * 2.0 * f32;
    return m;
}

void RunSetupPage::updateEstimateLabel()
{
    m_memory.reset();
    if (!m_model) {
        m_estimateLabel->setText(tr("Choose a model folder to see the trainable parameters and the memory needed."));
        return;
    }
    if (!m_model->error.isEmpty()) {
        m_estimateLabel->setText(tr("The model folder does not load (see above)."));
        return;
    }
    QString text;
    const bool current = m_estimate && m_estimate->key == estimateKey();
    if (!current) {
        m_estimateLabel->setText(tr("Attaching the adapter to count its parameters\u2026"));
        return;
    }
    if (!m_estimate->error.isEmpty()) {
        m_estimateLabel->setText(tr("Trainable parameters: %1").arg(m_estimate->error.toHtmlEscaped()));
        return;
    }
    const nlohmann::json training = m_trainingForm->values();
    MemoryInputs in;
    in.model = m_model->config;
    in.parameters = m_estimate->total;
    in.trainable = m_estimate->trainable;
    in.batchSize = training.value("per_device_train_batch_size", std::int64_t(8));
    in.cutoffLen = training.value("cutoff_len", std::int64_t(1024));
    in.optim = training.value("optim", std::string("adamw_torch"));
    in.sgdMomentum = training.value("sgd_momentum", 0.0);
    in.pairwise = m_estimate->pairwise;
    in.frozenReference = m_estimate->objectiveNeedsReference && !m_estimate->adapterCanDisable
        && !training.value("precompute_ref_log_probs", false);
    const MemoryEstimate m = estimateMemory(in);
    m_memory = m;
    const double share = in.parameters > 0 ? 100.0 * double(in.trainable) / double(in.parameters) : 0.0;
    text = tr("<b>Trainable parameters: %1</b> of %2 (%3%)<br>"
              "<b>Memory \u2248 %4</b>: weights %5, gradients %6, optimiser state %7%8, activations %9 "
              "(batch %10 \u00d7 %11 tokens%12)")
               .arg(QLocale::system().toString(qlonglong(in.trainable)),
                   QLocale::system().toString(qlonglong(in.parameters)))
               .arg(share, 0, 'g', 3)
               .arg(formatBytes(m.total()), formatBytes(m.weights), formatBytes(m.gradients), formatBytes(m.optimizer),
                   m.reference > 0 ? tr(", reference copy %1").arg(formatBytes(m.reference)) : QString(),
                   formatBytes(m.activations))
               .arg(in.batchSize)
               .arg(in.cutoffLen)
               .arg(in.pairwise ? tr(", chosen and rejected") : QString());
    m_estimateLabel->setText(text);
}

void RunSetupPage::showStatus(const QString& text, bool error)
{
    m_status->setText(text);
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
    if (m_yamlTimer.isActive() && !applyYaml())
        return fail(tr("The YAML has an error: %1").arg(m_yamlError));
    Workspace* ws = m_session->workspace();
    if (!ws)
        return fail(tr("Open or create a workspace first."));
    if (m_modelEdit->text().trimmed().isEmpty())
        return fail(tr("Choose a model folder."));
    if (const QString absolute = QFileInfo(m_modelEdit->text().trimmed()).absoluteFilePath();
        !m_model || m_model->dir != absolute) {
        // Not checked yet: check now (a short load for the small models this is done for).
        m_modelTimer.stop();
        m_modelRequested = absolute;
        showInspection(inspectModelFolder(absolute));
    }
    if (m_model && !m_model->error.isEmpty())
        return fail(tr("The model folder does not load: %1").arg(m_model->error));
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
