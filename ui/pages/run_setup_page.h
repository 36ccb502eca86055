#pragma once

#include "core/train/run_estimate.h"
#include "ui/pages/run_setup/model_folder_panel.h"

#include <QWidget>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

class QComboBox;
class QLabel;
class QPushButton;

namespace tunebench::ui {

class EstimatePanel;
class ProcessesPanel;
class RewardsPanel;
class RunQueue;
class RunSetupForm;
class RunYamlView;
class SchemaForm;
class WorkspaceSession;

// Configures a run. Its parts, each in ui/pages/run_setup/: the form (RunSetupForm: model folder, dataset,
// adapter and objective with forms from their parameter schemas, training and measures from the trainer's
// schema, the run's name), the model folder check (ModelFolderPanel), the YAML view kept in step both ways
// (RunYamlView) and the Estimate box (EstimatePanel: the trainable parameters and the memory they need, from
// core/train/run_estimate). The page adds presets, wires the parts together, and Start: it records the run
// (queued) and hands it to the RunQueue.
class RunSetupPage : public QWidget {
    Q_OBJECT

public:
    RunSetupPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent = nullptr);
    ~RunSetupPage() override;

    // The configuration the form describes, sectioned as a user writes it.
    nlohmann::json configFromForm() const;
    QString yamlText() const;
    // Replaces the YAML text as typing would (the form follows after the debounce).
    void setYamlText(const QString& text);
    // Applies the YAML text to the form now (what the debounce timer does).
    bool applyYaml();
    // The YAML parser's or the configuration check's message, empty when valid.
    QString yamlError() const;

    void setModelPath(const QString& dir);
    // Selects a workspace dataset; false when there is none with that id.
    bool selectDataset(std::int64_t datasetId);
    bool selectAdapter(const QString& name);
    bool selectObjective(const QString& name);
    SchemaForm* adapterForm() const;
    SchemaForm* objectiveForm() const;
    SchemaForm* trainingForm() const;
    SchemaForm* measuresForm() const;
    ProcessesPanel* processesPanel() const;
    RewardsPanel* rewardsPanel() const;

    // The last inspection of the model folder (nullopt while none finished).
    const std::optional<ModelInspection>& modelInspection() const;
    bool modelCheckPending() const;
    // Trainable parameters of the current adapter on the current model, once computed.
    std::optional<std::int64_t> trainableParameters() const;
    bool estimatePending() const;
    std::optional<MemoryEstimate> memoryEstimate() const;
    // The sequence length that memory estimate used (from the dataset's lengths when counted).
    std::optional<EstimateSequenceLength> estimateSequenceLength() const;

    // Presets compiled in from resources/presets (names without .yaml).
    static QStringList presetNames();
    // Fills the form from a preset, keeping the model, dataset and name. False when unknown.
    bool loadPreset(const QString& name);
    // Fills the form from a recorded run's configuration (duplicate as a new run).
    void loadConfiguration(const std::string& configJson, const QString& name);

    // Validates, records the run (queued) and queues it. Returns its id, or
    // nullopt with the reason (also shown on the page).
    std::optional<std::int64_t> start(QString* error = nullptr);

Q_SIGNALS:
    void runQueued(qint64 runId);

private:
    void formEdited();
    void rewriteYaml();
    void modelInspected();
    void showStatus(const QString& text, bool error);

    WorkspaceSession* m_session;
    RunQueue* m_queue;
    RunSetupForm* m_form;
    RunYamlView* m_yaml;
    EstimatePanel* m_estimate;
    QComboBox* m_presetCombo;
    QPushButton* m_startButton;
    QLabel* m_status;
};

} // namespace tunebench::ui
