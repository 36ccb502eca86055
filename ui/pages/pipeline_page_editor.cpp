#include "ui/pages/pipeline_page_editor.h"

#include "ui/widgets/user_text.h"

#include "ui/workspace_session.h"

#include "core/method/plugin_registry.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/store/datasets.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/util/error.h"
#include "core/util/yaml_json.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSaveFile>
#include <QSpinBox>
#include <QVBoxLayout>

#include <limits>

namespace tunebench::ui {

namespace {

using nlohmann::json;

bool allDigits(const QString& s)
{
    if (s.isEmpty())
        return false;
    for (const QChar c : s) {
        if (!c.isDigit())
            return false;
    }
    return true;
}

QString textOf(const json& v)
{
    if (v.is_string())
        return QString::fromStdString(v.get<std::string>());
    if (v.is_null())
        return QString();
    return QString::fromStdString(v.dump());
}

// A named plugin with optional parameters: "lora" or {type: lora, r: 8} -> ("lora", "{"r":8}").
void splitNamed(const json& v, QString* name, QString* params)
{
    if (v.is_object() && (v.contains("type") || v.contains("name"))) {
        json rest = v;
        const char* key = v.contains("type") ? "type" : "name";
        *name = textOf(v[key]);
        rest.erase(key);
        *params = rest.empty() ? QString() : QString::fromStdString(rest.dump());
    } else {
        *name = textOf(v);
        params->clear();
    }
}

PipelineEditor::StageDraft draftOf(const json& s)
{
    PipelineEditor::StageDraft d;
    if (!s.is_object())
        return d;
    if (s.contains("name"))
        d.name = textOf(s["name"]);
    if (s.contains("objective"))
        splitNamed(s["objective"], &d.objective, &d.objectiveParams);
    if (s.contains("adapter"))
        splitNamed(s["adapter"], &d.adapter, &d.adapterParams);
    if (s.contains("dataset"))
        d.dataset = textOf(s["dataset"]);
    if (s.contains("training"))
        d.training = s["training"].is_object() ? QString::fromStdString(jsonToYaml(s["training"])).trimmed()
                                               : textOf(s["training"]);
    if (s.contains("from"))
        d.from = textOf(s["from"]);
    if (s.contains("merge") && s["merge"].is_boolean())
        d.merge = s["merge"].get<bool>() ? PipelineEditor::MergeTrue : PipelineEditor::MergeFalse;
    if (s.contains("replay") && s["replay"].is_object()) {
        const json& r = s["replay"];
        d.replay = true;
        if (r.contains("share") && r["share"].is_number())
            d.replayShare = r["share"].get<double>();
        if (r.contains("seed") && r["seed"].is_number_integer())
            d.replaySeed = r["seed"].get<qint64>();
    }
    if (s.contains("evaluation") && s["evaluation"].is_object()) {
        d.evaluationExtra = s["evaluation"];
        if (d.evaluationExtra.contains("tasks"))
            d.evaluationTasks = textOf(d.evaluationExtra["tasks"]);
        d.evaluationExtra.erase("tasks");
    }
    return d;
}

// A YAML mapping typed into the form; empty text is none.
json mappingOf(const QString& text, const std::string& where, const std::string& key)
{
    if (text.trimmed().isEmpty())
        return nullptr;
    json v;
    try {
        v = yamlToJson(text.toStdString(), key);
    } catch (const std::exception& e) {
        throw InputError(where + ": key '" + key + "': not a YAML mapping: " + e.what());
    }
    if (!v.is_object())
        throw InputError(where + ": key '" + key + "': must be a mapping of keys to values, got " + v.dump());
    return v;
}

json namedOf(const QString& name, const QString& params, const std::string& where, const std::string& key)
{
    const json p = mappingOf(params, where, key + " parameters");
    if (name.trimmed().isEmpty()) {
        if (!p.is_null())
            throw InputError(where + ": key '" + key + "': parameters without a name");
        return nullptr;
    }
    if (p.is_null())
        return name.trimmed().toStdString();
    json out = p;
    out["type"] = name.trimmed().toStdString();
    return out;
}

json stageJson(const PipelineEditor::StageDraft& d, const std::string& where)
{
    json s = json::object();
    if (!d.name.trimmed().isEmpty())
        s["name"] = d.name.trimmed().toStdString();
    if (json o = namedOf(d.objective, d.objectiveParams, where, "objective"); !o.is_null())
        s["objective"] = o;
    const QString dataset = d.dataset.trimmed();
    if (allDigits(dataset))
        s["dataset"] = dataset.toLongLong();
    else if (!dataset.isEmpty())
        s["dataset"] = dataset.toStdString();
    if (json a = namedOf(d.adapter, d.adapterParams, where, "adapter"); !a.is_null())
        s["adapter"] = a;
    if (json t = mappingOf(d.training, where, "training"); !t.is_null())
        s["training"] = t;
    json evaluation = d.evaluationExtra.is_object() ? d.evaluationExtra : json::object();
    if (!d.evaluationTasks.trimmed().isEmpty())
        evaluation["tasks"] = d.evaluationTasks.trimmed().toStdString();
    if (!evaluation.empty())
        s["evaluation"] = evaluation;
    const QString from = d.from.trimmed();
    if (allDigits(from))
        s["from"] = from.toLongLong();
    else if (!from.isEmpty())
        s["from"] = from.toStdString();
    if (d.merge != PipelineEditor::MergeDefault)
        s["merge"] = d.merge == PipelineEditor::MergeTrue;
    if (d.replay)
        s["replay"] = { { "share", d.replayShare }, { "seed", d.replaySeed } };
    return s;
}

} // namespace

PipelineEditor::PipelineEditor(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_name(new QLineEdit)
    , m_heldOut(new QDoubleSpinBox)
    , m_baseLabel(new QLabel)
    , m_baseRun(new QComboBox)
    , m_stageList(new QListWidget)
    , m_stageName(new QLineEdit)
    , m_objective(new QComboBox)
    , m_objectiveParams(new QLineEdit)
    , m_dataset(new QComboBox)
    , m_adapter(new QComboBox)
    , m_adapterParams(new QLineEdit)
    , m_training(new QPlainTextEdit)
    , m_merge(new QComboBox)
    , m_from(new QComboBox)
    , m_replay(new QCheckBox(tr("Replay earlier stages' data")))
    , m_replayShare(new QDoubleSpinBox)
    , m_replaySeed(new QSpinBox)
    , m_evalTasks(new QLineEdit)
    , m_message(new QLabel)
    , m_start(new QPushButton(tr("Start")))
{
    setObjectName(QStringLiteral("pipelineEditor"));
    m_message->setObjectName(QStringLiteral("pipelineEditorMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_baseLabel->setWordWrap(true);
    m_heldOut->setRange(0, 0.9);
    m_heldOut->setDecimals(3);
    m_heldOut->setSingleStep(0.05);
    m_heldOut->setSpecialValueText(tr("default (0.1)"));
    m_name->setPlaceholderText(tr("the file's name"));
    for (QComboBox* c : { m_objective, m_dataset, m_adapter, m_from })
        c->setEditable(true);
    m_objective->setToolTip(tr("Empty: the base's objective; clm: continued pretraining on raw text"));
    m_objectiveParams->setPlaceholderText(tr("parameters, e.g. {teacher: /models/big, alpha: 0.5}"));
    m_adapterParams->setPlaceholderText(tr("parameters, e.g. {r: 8, target_modules: [q_proj, v_proj]}"));
    m_training->setPlaceholderText(tr("trainer keys, e.g.\nlearning_rate: 1.0e-4\nmax_steps: 200"));
    m_training->setMaximumHeight(110);
    m_merge->addItems(
        { tr("(default: merge)"), tr("merge the source's adapter"), tr("continue the source's adapter") });
    m_replayShare->setRange(0.001, 1.0);
    m_replayShare->setDecimals(3);
    m_replayShare->setSingleStep(0.05);
    m_replaySeed->setRange(0, std::numeric_limits<int>::max());
    m_evalTasks->setPlaceholderText(tr("evaluation tasks file (else the stage's held-out loss)"));

    // Pipeline: name, held-out share, base.
    auto* top = new QFormLayout;
    top->addRow(tr("Name"), m_name);
    top->addRow(tr("Held out"), m_heldOut);
    auto* baseButtons = new QHBoxLayout;
    auto* baseFile = new QPushButton(tr("Run file…"));
    auto* useRun = new QPushButton(tr("Use run"));
    baseButtons->addWidget(baseFile);
    baseButtons->addWidget(m_baseRun, 1);
    baseButtons->addWidget(useRun);
    top->addRow(tr("Base"), m_baseLabel);
    top->addRow(QString(), baseButtons);

    // Stages: the list and its buttons, the selected stage's form beside it.
    auto* add = new QPushButton(tr("Add"));
    auto* remove = new QPushButton(tr("Remove"));
    auto* up = new QPushButton(tr("Up"));
    auto* down = new QPushButton(tr("Down"));
    auto* listButtons = new QHBoxLayout;
    for (QPushButton* b : { add, remove, up, down })
        listButtons->addWidget(b);
    auto* listBox = new QVBoxLayout;
    listBox->addWidget(m_stageList, 1);
    listBox->addLayout(listButtons);

    auto* datasetRow = new QHBoxLayout;
    auto* datasetFile = new QPushButton(tr("File…"));
    datasetRow->addWidget(m_dataset, 1);
    datasetRow->addWidget(datasetFile);
    auto* replayRow = new QHBoxLayout;
    replayRow->addWidget(m_replay);
    replayRow->addWidget(new QLabel(tr("share")));
    replayRow->addWidget(m_replayShare);
    replayRow->addWidget(new QLabel(tr("seed")));
    replayRow->addWidget(m_replaySeed);
    replayRow->addStretch(1);
    auto* form = new QFormLayout;
    form->addRow(tr("Stage name"), m_stageName);
    form->addRow(tr("Objective"), m_objective);
    form->addRow(QString(), m_objectiveParams);
    form->addRow(tr("Dataset"), datasetRow);
    form->addRow(tr("Adapter"), m_adapter);
    form->addRow(QString(), m_adapterParams);
    form->addRow(tr("Training"), m_training);
    form->addRow(tr("From"), m_from);
    form->addRow(tr("Source adapter"), m_merge);
    form->addRow(tr("Replay"), replayRow);
    form->addRow(tr("Evaluation"), m_evalTasks);
    auto* stages = new QGroupBox(tr("Stages"));
    auto* stagesLayout = new QHBoxLayout(stages);
    stagesLayout->addLayout(listBox, 1);
    stagesLayout->addLayout(form, 3);

    auto* load = new QPushButton(tr("Open file…"));
    auto* save = new QPushButton(tr("Save"));
    auto* saveAs = new QPushButton(tr("Save as…"));
    auto* check = new QPushButton(tr("Check"));
    auto* actions = new QHBoxLayout;
    for (QPushButton* b : { load, save, saveAs, check, m_start })
        actions->addWidget(b);
    actions->addStretch(1);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(actions);
    layout->addLayout(top);
    layout->addWidget(stages, 1);
    layout->addWidget(m_message);

    auto edited = [this] {
        if (!m_filling)
            storeForm();
    };
    connect(m_name, &QLineEdit::textChanged, this, [this] { updateBaseLabel(); });
    for (QLineEdit* e : { m_stageName, m_objectiveParams, m_adapterParams, m_evalTasks })
        connect(e, &QLineEdit::textChanged, this, edited);
    for (QComboBox* c : { m_objective, m_dataset, m_adapter, m_from })
        connect(c, &QComboBox::currentTextChanged, this, edited);
    connect(m_merge, &QComboBox::currentIndexChanged, this, edited);
    connect(m_training, &QPlainTextEdit::textChanged, this, edited);
    connect(m_replay, &QCheckBox::toggled, this, edited);
    connect(m_replayShare, &QDoubleSpinBox::valueChanged, this, edited);
    connect(m_replaySeed, &QSpinBox::valueChanged, this, edited);
    connect(m_stageList, &QListWidget::currentRowChanged, this, [this](int row) {
        if (!m_filling && row >= 0)
            selectStage(row);
    });
    connect(add, &QPushButton::clicked, this, &PipelineEditor::addStage);
    connect(remove, &QPushButton::clicked, this, [this] { removeStage(m_current); });
    connect(up, &QPushButton::clicked, this, [this] { moveStage(m_current, m_current - 1); });
    connect(down, &QPushButton::clicked, this, [this] { moveStage(m_current, m_current + 1); });
    connect(baseFile, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Base run configuration"), QString(), tr("Run files (*.yaml *.yml *.json)"));
        if (!path.isEmpty())
            setBaseFile(path);
    });
    connect(useRun, &QPushButton::clicked, this, [this] {
        if (m_baseRun->currentIndex() >= 0)
            setBaseFromRun(m_baseRun->currentData().toLongLong());
    });
    connect(datasetFile, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Stage dataset"));
        if (!path.isEmpty())
            m_dataset->setEditText(path);
    });
    connect(load, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open a pipeline file"), QString(), tr("Pipeline files (*.yaml *.yml *.json)"));
        QString error;
        if (!path.isEmpty() && !loadFile(path, &error))
            showMessage(error, true);
    });
    connect(save, &QPushButton::clicked, this, [this] {
        QString error;
        if (!saveFile(targetPath(), &error))
            showMessage(error, true);
    });
    connect(saveAs, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Save the pipeline"), targetPath(), tr("Pipeline files (*.yaml *.yml)"));
        QString error;
        if (!path.isEmpty() && !saveFile(path, &error))
            showMessage(error, true);
    });
    connect(check, &QPushButton::clicked, this, &PipelineEditor::validate);
    connect(m_start, &QPushButton::clicked, this, [this] {
        if (!validate().isEmpty())
            return;
        const QString path = targetPath();
        QDir().mkpath(QFileInfo(path).absolutePath());
        QString error;
        if (!saveFile(path, &error)) {
            showMessage(error, true);
            return;
        }
        Q_EMIT startRequested(path);
    });
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &PipelineEditor::refreshPickers);
    refreshPickers();
    clear();
}

void PipelineEditor::refreshPickers()
{
    const QSignalBlocker blockDataset(m_dataset);
    const QString datasetText = m_dataset->currentText();
    m_dataset->clear();
    m_baseRun->clear();
    m_dataset->addItem(QString());
    if (Workspace* ws = m_session->workspace()) {
        try {
            for (const DatasetRecord& d : DatasetStore(ws->db()).list())
                m_dataset->addItem(QStringLiteral("#%1 %2 (%3, %4 records)")
                                       .arg(d.id)
                                       .arg(userText(d.name), userText(d.format))
                                       .arg(d.records),
                    static_cast<qlonglong>(d.id));
            for (const RunRecord& r : RunStore(ws->db()).list())
                m_baseRun->addItem(QStringLiteral("#%1 %2 (%3)")
                                       .arg(r.id)
                                       .arg(userText(r.name), QString::fromUtf8(toString(r.status).data())),
                    static_cast<qlonglong>(r.id));
        } catch (const std::exception& e) {
            showMessage(QString::fromUtf8(e.what()), true);
        }
    }
    m_dataset->setEditText(datasetText);
    QStringList objectives { QString(), QStringLiteral("clm") };
    QStringList adapters { QString() };
    for (const PluginInfo& p : defaultPluginRegistry().plugins()) {
        if (p.kind == PluginKind::Objective)
            objectives << QString::fromStdString(p.name);
        else if (p.kind == PluginKind::Adapter)
            adapters << QString::fromStdString(p.name);
    }
    for (auto [combo, items] : { std::pair { m_objective, objectives }, std::pair { m_adapter, adapters } }) {
        const QSignalBlocker block(combo);
        const QString text = combo->currentText();
        combo->clear();
        combo->addItems(items);
        combo->setEditText(text);
    }
}

void PipelineEditor::clear()
{
    m_path.clear();
    m_base = nullptr;
    m_stages.assign(1, StageDraft {});
    m_current = -1;
    {
        const QSignalBlocker block(m_name);
        m_name->clear();
    }
    m_heldOut->setValue(0);
    m_message->clear();
    updateStageList();
    selectStage(0);
    updateBaseLabel();
}

void PipelineEditor::setDocument(const json& doc)
{
    clear();
    if (!doc.is_object())
        return;
    if (doc.contains("name")) {
        const QSignalBlocker block(m_name);
        m_name->setText(textOf(doc["name"]));
    }
    m_heldOut->setValue(doc.contains("held_out") && doc["held_out"].is_number() ? doc["held_out"].get<double>() : 0);
    m_base = doc.contains("base") ? doc["base"] : json();
    m_stages.clear();
    if (doc.contains("stages") && doc["stages"].is_array()) {
        for (const json& s : doc["stages"])
            m_stages.push_back(draftOf(s));
    }
    if (m_stages.empty())
        m_stages.emplace_back();
    m_current = -1;
    updateStageList();
    selectStage(0);
    updateBaseLabel();
}

json PipelineEditor::document() const
{
    json doc = json::object();
    if (!m_name->text().trimmed().isEmpty())
        doc["name"] = m_name->text().trimmed().toStdString();
    if (!m_base.is_null())
        doc["base"] = m_base;
    if (m_heldOut->value() > 0)
        doc["held_out"] = m_heldOut->value();
    json stages = json::array();
    const std::string file = targetPath().toStdString();
    for (std::size_t i = 0; i < m_stages.size(); ++i) {
        const QString name = m_stages[i].name.trimmed();
        const std::string where
            = file + ": stage '" + (name.isEmpty() ? "stage-" + std::to_string(i + 1) : name.toStdString()) + "'";
        stages.push_back(stageJson(m_stages[i], where));
    }
    doc["stages"] = stages;
    return doc;
}

QString PipelineEditor::targetPath() const
{
    if (!m_path.isEmpty())
        return m_path;
    const QString name = m_name->text().trimmed();
    const QString file = (name.isEmpty() ? QStringLiteral("pipeline") : name) + QStringLiteral(".yaml");
    const QString root = m_session->rootPath();
    return root.isEmpty() ? QDir::current().absoluteFilePath(file) : root + QStringLiteral("/pipelines/") + file;
}

QString PipelineEditor::validate()
{
    try {
        const PipelineSpec spec = PipelineSpec::fromJson(document(), targetPath().toStdString());
        checkStages(spec, defaultPluginRegistry());
        showMessage(tr("The pipeline is fine: %n stage(s).", nullptr, static_cast<int>(spec.stages.size())), false);
        return QString();
    } catch (const std::exception& e) {
        const QString message = QString::fromUtf8(e.what());
        showMessage(message, true);
        return message;
    }
}

bool PipelineEditor::loadFile(const QString& path, QString* error)
{
    json doc;
    try {
        doc = readYamlOrJsonFile(path.toStdString());
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
    setDocument(doc);
    m_path = QFileInfo(path).absoluteFilePath();
    updateBaseLabel();
    showMessage(tr("Opened %1.").arg(m_path), false);
    return true;
}

bool PipelineEditor::saveFile(const QString& path, QString* error)
{
    std::string text;
    try {
        text = jsonToYaml(document());
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
    QSaveFile f(path);
    if (!f.open(QIODevice::WriteOnly) || f.write(text.data(), static_cast<qint64>(text.size())) < 0 || !f.commit()) {
        if (error)
            *error = tr("Could not write %1: %2").arg(path, f.errorString());
        return false;
    }
    m_path = QFileInfo(path).absoluteFilePath();
    updateBaseLabel();
    showMessage(tr("Saved %1.").arg(m_path), false);
    return true;
}

void PipelineEditor::setBaseFile(const QString& runFile)
{
    m_base = QFileInfo(runFile).absoluteFilePath().toStdString();
    updateBaseLabel();
}

bool PipelineEditor::setBaseFromRun(qint64 runId)
{
    Workspace* ws = m_session->workspace();
    if (!ws)
        return false;
    try {
        const auto run = RunStore(ws->db()).find(runId);
        if (!run)
            return false;
        json config = json::parse(run->configJson, nullptr, false);
        if (!config.is_object()) {
            showMessage(tr("Run #%1's configuration is not a mapping.").arg(runId), true);
            return false;
        }
        // What made that run that run: the pipeline names its stages' runs and sets their init_adapter.
        for (const char* key : { "name", "init_adapter" })
            config.erase(key);
        m_base = config;
    } catch (const std::exception& e) {
        showMessage(QString::fromUtf8(e.what()), true);
        return false;
    }
    updateBaseLabel();
    return true;
}

void PipelineEditor::updateBaseLabel()
{
    QString text;
    if (m_base.is_string())
        text = tr("run file %1").arg(QString::fromStdString(m_base.get<std::string>()));
    else if (m_base.is_object())
        text = tr("inline configuration (model %1)").arg(textOf(m_base.value("model", json())));
    else
        text = tr("none: pick a run file or a run");
    m_baseLabel->setText(text + QStringLiteral("\n") + tr("Saved as %1").arg(targetPath()));
}

void PipelineEditor::showMessage(const QString& text, bool error)
{
    m_message->setText(text);
    m_message->setStyleSheet(error ? QStringLiteral("color: #b00020;") : QString());
}

void PipelineEditor::storeForm()
{
    if (m_current < 0 || m_current >= stageCount())
        return;
    StageDraft& d = m_stages[static_cast<std::size_t>(m_current)];
    d.name = m_stageName->text();
    d.objective = m_objective->currentText();
    d.objectiveParams = m_objectiveParams->text();
    const int datasetIndex = m_dataset->findText(m_dataset->currentText());
    d.dataset
        = datasetIndex > 0 ? QString::number(m_dataset->itemData(datasetIndex).toLongLong()) : m_dataset->currentText();
    d.adapter = m_adapter->currentText();
    d.adapterParams = m_adapterParams->text();
    d.training = m_training->toPlainText();
    d.from = m_from->currentText();
    d.merge = m_merge->currentIndex();
    d.replay = m_replay->isChecked();
    d.replayShare = m_replayShare->value();
    d.replaySeed = m_replaySeed->value();
    d.evaluationTasks = m_evalTasks->text();
    if (QListWidgetItem* it = m_stageList->item(m_current))
        it->setText(QStringLiteral("%1. %2").arg(m_current + 1).arg(d.name.isEmpty() ? tr("(unnamed)") : d.name));
}

void PipelineEditor::updateStageList()
{
    const QSignalBlocker block(m_stageList);
    m_stageList->clear();
    for (std::size_t i = 0; i < m_stages.size(); ++i)
        m_stageList->addItem(
            QStringLiteral("%1. %2").arg(i + 1).arg(m_stages[i].name.isEmpty() ? tr("(unnamed)") : m_stages[i].name));
    if (m_current >= 0 && m_current < stageCount())
        m_stageList->setCurrentRow(m_current);
}

void PipelineEditor::updateFromChoices()
{
    QStringList choices { QString(), QStringLiteral("previous"), QStringLiteral("base") };
    for (int i = 0; i < m_current; ++i) {
        const QString name = m_stages[static_cast<std::size_t>(i)].name.trimmed();
        choices << (name.isEmpty() ? QStringLiteral("stage-%1").arg(i + 1) : name);
    }
    m_from->clear();
    m_from->addItems(choices);
}

void PipelineEditor::selectStage(int index)
{
    if (index < 0 || index >= stageCount())
        return;
    m_current = index;
    const StageDraft& d = m_stages[static_cast<std::size_t>(index)];
    m_filling = true;
    m_stageName->setText(d.name);
    m_objective->setEditText(d.objective);
    m_objectiveParams->setText(d.objectiveParams);
    int datasetIndex = -1;
    if (allDigits(d.dataset))
        datasetIndex = m_dataset->findData(static_cast<qlonglong>(d.dataset.toLongLong()));
    if (datasetIndex > 0)
        m_dataset->setCurrentIndex(datasetIndex);
    else
        m_dataset->setEditText(d.dataset);
    m_adapter->setEditText(d.adapter);
    m_adapterParams->setText(d.adapterParams);
    m_training->setPlainText(d.training);
    updateFromChoices();
    m_from->setEditText(d.from);
    m_merge->setCurrentIndex(d.merge);
    m_replay->setChecked(d.replay);
    m_replayShare->setValue(d.replayShare);
    m_replaySeed->setValue(static_cast<int>(d.replaySeed));
    m_evalTasks->setText(d.evaluationTasks);
    m_filling = false;
    const QSignalBlocker block(m_stageList);
    m_stageList->setCurrentRow(index);
}

void PipelineEditor::addStage()
{
    storeForm();
    StageDraft d;
    d.name = QStringLiteral("stage-%1").arg(stageCount() + 1);
    const auto at = static_cast<std::size_t>(m_current + 1);
    m_stages.insert(m_stages.begin() + static_cast<std::ptrdiff_t>(std::min(at, m_stages.size())), d);
    m_current = static_cast<int>(std::min(at, m_stages.size() - 1));
    updateStageList();
    selectStage(m_current);
}

void PipelineEditor::removeStage(int index)
{
    if (index < 0 || index >= stageCount() || stageCount() == 1)
        return;
    m_stages.erase(m_stages.begin() + index);
    m_current = std::min(index, stageCount() - 1);
    updateStageList();
    selectStage(m_current);
}

void PipelineEditor::moveStage(int from, int to)
{
    if (from < 0 || to < 0 || from >= stageCount() || to >= stageCount() || from == to)
        return;
    storeForm();
    std::swap(m_stages[static_cast<std::size_t>(from)], m_stages[static_cast<std::size_t>(to)]);
    m_current = to;
    updateStageList();
    selectStage(to);
}

} // namespace tunebench::ui
