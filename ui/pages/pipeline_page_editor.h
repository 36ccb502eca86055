#pragma once

#include <QString>
#include <QWidget>

#include <nlohmann/json.hpp>

#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QListWidget;
class QPlainTextEdit;
class QPushButton;
class QSpinBox;

namespace tunebench::ui {

class WorkspaceSession;

// The Pipelines page's editor: a pipeline file (core/pipeline/pipeline_spec.h) as a base configuration and a list
// of stages. The base is a run file or an existing run's configuration (inline); each stage has its name,
// objective and adapter (a name and optional parameters as a YAML mapping), dataset (a workspace dataset or a
// file), trainer overrides (YAML), merge or continue, `from`, replay and evaluation tasks. Stages are added,
// removed and moved; the document is checked with the code `tunebench-cli pipeline` runs (PipelineSpec::fromJson
// and checkStages), whose messages name the stage and the key, and saved as YAML that the command line reads.
// Keys the form does not show (an evaluation's limit) are kept as loaded.
class PipelineEditor : public QWidget {
    Q_OBJECT

public:
    explicit PipelineEditor(WorkspaceSession* session, QWidget* parent = nullptr);

    // Empties the editor: no base, one stage.
    void clear();
    // Reads a pipeline file (YAML or JSON) into the form; it is saved there again. False with the reason.
    bool loadFile(const QString& path, QString* error = nullptr);
    // Writes the document as YAML (not checked). False with the reason.
    bool saveFile(const QString& path, QString* error = nullptr);
    // Fills the form from a pipeline document.
    void setDocument(const nlohmann::json& doc);
    // The pipeline document the form holds. Throws InputError naming the stage and the key for a trainer or
    // parameter mapping that is not YAML.
    nlohmann::json document() const;
    // Checks the document as `tunebench-cli pipeline` does; empty when it is fine, else the message (also shown).
    QString validate();
    // The file the document is saved to and checked against (its folder resolves relative paths): the loaded or
    // saved file, else <workspace>/pipelines/<name>.yaml.
    QString targetPath() const;

    void setBaseFile(const QString& runFile);
    // The run's configuration inline, without what belongs to that run alone (name, init_adapter). False if unknown.
    bool setBaseFromRun(qint64 runId);

    int stageCount() const { return static_cast<int>(m_stages.size()); }
    int currentStage() const { return m_current; }
    void selectStage(int index);
    void addStage();
    void removeStage(int index);
    void moveStage(int from, int to);

    QLineEdit* nameEdit() const { return m_name; }
    QDoubleSpinBox* heldOutSpin() const { return m_heldOut; }
    QLabel* baseLabel() const { return m_baseLabel; }
    QComboBox* baseRunPicker() const { return m_baseRun; }
    QListWidget* stageList() const { return m_stageList; }
    QLineEdit* stageNameEdit() const { return m_stageName; }
    QComboBox* objectiveCombo() const { return m_objective; }
    QLineEdit* objectiveParamsEdit() const { return m_objectiveParams; }
    QComboBox* datasetCombo() const { return m_dataset; }
    QComboBox* adapterCombo() const { return m_adapter; }
    QLineEdit* adapterParamsEdit() const { return m_adapterParams; }
    QPlainTextEdit* trainingEdit() const { return m_training; }
    QComboBox* mergeCombo() const { return m_merge; }
    QComboBox* fromCombo() const { return m_from; }
    QCheckBox* replayCheck() const { return m_replay; }
    QDoubleSpinBox* replayShareSpin() const { return m_replayShare; }
    QSpinBox* replaySeedSpin() const { return m_replaySeed; }
    QLineEdit* evaluationTasksEdit() const { return m_evalTasks; }
    QLabel* messageLabel() const { return m_message; }
    QPushButton* startButton() const { return m_start; }

    // The form's values for one stage, as shown (texts as typed, so a half-typed mapping is not lost).
    struct StageDraft {
        QString name;
        QString objective;
        QString objectiveParams;
        QString dataset; // a file, or a workspace dataset id as digits
        QString adapter;
        QString adapterParams;
        QString training; // YAML mapping
        QString from; // empty: not set (previous)
        int merge = 0; // MergeChoice
        bool replay = false;
        double replayShare = 0.2;
        qint64 replaySeed = 0;
        QString evaluationTasks;
        nlohmann::json evaluationExtra = nlohmann::json::object(); // the evaluation's other keys
    };
    enum MergeChoice { MergeDefault, MergeTrue, MergeFalse };

Q_SIGNALS:
    // Start was pressed and the document checked and saved to this file.
    void startRequested(const QString& file);

public Q_SLOTS:
    // Lists the workspace's datasets and runs in the pickers.
    void refreshPickers();

private:
    void storeForm();
    void showStage();
    void updateStageList();
    void updateFromChoices();
    void updateBaseLabel();
    void showMessage(const QString& text, bool error);

    WorkspaceSession* m_session;
    QString m_path;
    nlohmann::json m_base; // null, a run file's path, or an inline configuration
    std::vector<StageDraft> m_stages;
    int m_current = -1;
    bool m_filling = false;

    QLineEdit* m_name;
    QDoubleSpinBox* m_heldOut;
    QLabel* m_baseLabel;
    QComboBox* m_baseRun;
    QListWidget* m_stageList;
    QLineEdit* m_stageName;
    QComboBox* m_objective;
    QLineEdit* m_objectiveParams;
    QComboBox* m_dataset;
    QComboBox* m_adapter;
    QLineEdit* m_adapterParams;
    QPlainTextEdit* m_training;
    QComboBox* m_merge;
    QComboBox* m_from;
    QCheckBox* m_replay;
    QDoubleSpinBox* m_replayShare;
    QSpinBox* m_replaySeed;
    QLineEdit* m_evalTasks;
    QLabel* m_message;
    QPushButton* m_start;
};

} // namespace tunebench::ui
