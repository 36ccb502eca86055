#pragma once

#include "ui/pages/run_setup/estimate_panel.h"

#include <QWidget>

#include <nlohmann/json.hpp>

#include <cstdint>

class QComboBox;
class QGroupBox;
class QLabel;
class QLineEdit;

namespace tunebench::ui {

class ModelFolderPanel;
class ProcessesPanel;
class RewardsPanel;
class SchemaForm;
class WorkspaceSession;

// The Run Setup page's pieces share these: a titled box around a widget, and a UTF-8 string as a QString.
QGroupBox* titledGroup(const QString& title, QWidget* content);
inline QString qs(const std::string& s)
{
    return QString::fromStdString(s);
}

// The Run Setup page's form column: the model folder, a workspace dataset (or one imported on the spot), an
// adapter and an objective from the plugin registry with forms generated from their parameter schemas, and the
// training hyperparameters and measures (forms from the trainer's schema); and the run's name, which the page
// places beside Start. It reads and writes the configuration a user would write. An online objective's reward
// functions are in RewardsPanel.
class RunSetupForm : public QWidget {
    Q_OBJECT

public:
    explicit RunSetupForm(WorkspaceSession* session, QWidget* parent = nullptr);

    QLineEdit* nameEdit() const { return m_nameEdit; }
    ModelFolderPanel* modelPanel() const { return m_modelPanel; }
    SchemaForm* adapterForm() const { return m_adapterForm; }
    SchemaForm* objectiveForm() const { return m_objectiveForm; }
    SchemaForm* trainingForm() const { return m_trainingForm; }
    SchemaForm* measuresForm() const { return m_measuresForm; }
    ProcessesPanel* processesPanel() const { return m_processesPanel; }
    // The reward functions of an online objective (grpo); shown for such an objective or a list already given.
    RewardsPanel* rewardsPanel() const { return m_rewardsPanel; }

    // The configuration the form describes, sectioned as a user writes it.
    nlohmann::json configuration() const;
    // Fills the form from a parsed configuration, a missing model or dataset standing for none, so a
    // half-written configuration already shows. False when even so it does not pass the configuration check.
    // datasetError: set when it names a workspace dataset that is not there.
    bool applyConfiguration(const nlohmann::json& parsed, QString* datasetError);
    // The model, method and training settings the estimate is of.
    EstimateInputs estimateInputs() const;

    // Selects a workspace dataset; false when there is none with that id.
    bool selectDataset(std::int64_t datasetId);
    bool selectAdapter(const QString& name);
    bool selectObjective(const QString& name);
    void reloadDatasets();

Q_SIGNALS:
    // A user edited a field (programmatic changes do not count).
    void edited();
    // Something to tell the user on the page's status line.
    void message(const QString& text, bool error);

private:
    void buildAdapterForm();
    void buildObjectiveForm();
    void updateRewardsShown();
    void importDataset();
    void editedUnlessUpdating();

    WorkspaceSession* m_session;
    QLineEdit* m_nameEdit;
    ModelFolderPanel* m_modelPanel;
    QComboBox* m_datasetCombo;
    QComboBox* m_adapterCombo;
    QLabel* m_adapterSummary;
    SchemaForm* m_adapterForm;
    QComboBox* m_objectiveCombo;
    QLabel* m_objectiveSummary;
    SchemaForm* m_objectiveForm;
    SchemaForm* m_trainingForm;
    SchemaForm* m_measuresForm;
    ProcessesPanel* m_processesPanel;
    RewardsPanel* m_rewardsPanel;
    QGroupBox* m_rewardsGroup;
    bool m_updating = false;
};

} // namespace tunebench::ui
