#pragma once

#include "core/model/config.h"

#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>

class QComboBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QPushButton;

namespace tunebench::ui {

class RunQueue;
class SchemaForm;
class WorkspaceSession;

// What a model folder holds, as the Run Setup page shows it.
struct ModelInspection {
    QString dir;
    QString error; // empty: the folder loads
    ModelConfig config;
    std::int64_t parameters = 0;
    bool loadable = false; // small enough to load here for the trainable estimate
    bool chatTemplate = false;
};

// Trainable parameters from attaching the adapter to the model for real.
struct TrainableEstimate {
    QString key; // what it was computed for
    QString error;
    std::int64_t trainable = 0;
    std::int64_t total = 0;
    bool adapterCanDisable = true;
    bool objectiveNeedsReference = false;
    bool pairwise = false; // chosen and rejected per example
};

// The memory a run needs, by part (bytes). See docs/architecture.md ("Run Setup").
struct MemoryEstimate {
    double weights = 0;
    double gradients = 0;
    double optimizer = 0;
    double reference = 0;
    double activations = 0;
    double total() const { return weights + gradients + optimizer + reference + activations; }
};

struct MemoryInputs {
    ModelConfig model;
    std::int64_t parameters = 0;
    std::int64_t trainable = 0;
    std::int64_t batchSize = 1;
    std::int64_t cutoffLen = 1;
    std::string optim = "adamw_torch";
    double sgdMomentum = 0;
    bool pairwise = false;
    bool frozenReference = false; // a second copy of the weights for the objective's reference
    int weightBytes = 4; // float32 on the CPU
};

// Configures a run: a model folder (validated by loading it), a workspace
// dataset (or one imported on the spot), an adapter and an objective from the
// plugin registry with forms generated from their parameter schemas, the
// training hyperparameters and the measures to record (forms from the
// trainer's schema), presets, the trainable parameters (the adapter attached
// to the model for real, off the GUI thread) and the memory they need, and a
// YAML view kept in step both ways. Start records the run (queued) and hands
// it to the RunQueue.
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
    QString yamlError() const { return m_yamlError; }

    void setModelPath(const QString& dir);
    // Selects a workspace dataset; false when there is none with that id.
    bool selectDataset(std::int64_t datasetId);
    bool selectAdapter(const QString& name);
    bool selectObjective(const QString& name);
    SchemaForm* adapterForm() const { return m_adapterForm; }
    SchemaForm* objectiveForm() const { return m_objectiveForm; }
    SchemaForm* trainingForm() const { return m_trainingForm; }
    SchemaForm* measuresForm() const { return m_measuresForm; }

    // The last inspection of the model folder (nullopt while none finished).
    const std::optional<ModelInspection>& modelInspection() const { return m_model; }
    bool modelCheckPending() const;
    // Trainable parameters of the current adapter on the current model, once computed.
    std::optional<std::int64_t> trainableParameters() const;
    bool estimatePending() const;
    std::optional<MemoryEstimate> memoryEstimate() const { return m_memory; }
    static MemoryEstimate estimateMemory(const MemoryInputs& inputs);

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
    void buildAdapterForm();
    void buildObjectiveForm();
    void reloadDatasets();
    void importDataset();
    void browseModel();
    void formEdited();
    void rewriteYaml();
    void inspectModel();
    void modelInspected();
    void showInspection(const ModelInspection& result);
    void scheduleEstimate();
    void startEstimate();
    void estimateFinished();
    void updateEstimateLabel();
    void showStatus(const QString& text, bool error);
    QString estimateKey() const;

    WorkspaceSession* m_session;
    RunQueue* m_queue;
    QLineEdit* m_nameEdit;
    QLineEdit* m_modelEdit;
    QLabel* m_modelInfo;
    QComboBox* m_datasetCombo;
    QComboBox* m_adapterCombo;
    QLabel* m_adapterSummary;
    SchemaForm* m_adapterForm;
    QComboBox* m_objectiveCombo;
    QLabel* m_objectiveSummary;
    SchemaForm* m_objectiveForm;
    SchemaForm* m_trainingForm;
    SchemaForm* m_measuresForm;
    QComboBox* m_presetCombo;
    QPlainTextEdit* m_yaml;
    QLabel* m_yamlStatus;
    QLabel* m_estimateLabel;
    QPushButton* m_startButton;
    QLabel* m_status;

    QTimer m_yamlTimer;
    QTimer m_modelTimer;
    QTimer m_estimateTimer;
    bool m_updating = false;
    QString m_yamlError;
    std::optional<ModelInspection> m_model;
    QFutureWatcher<ModelInspection> m_modelWatcher;
    QString m_modelRequested;
    std::optional<TrainableEstimate> m_estimate;
    QFutureWatcher<TrainableEstimate> m_estimateWatcher;
    QString m_estimateRequested;
    std::optional<MemoryEstimate> m_memory;
};

} // namespace tunebench::ui
