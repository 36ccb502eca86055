#pragma once

#include "core/distributed/distributed_config.h"

#include <QWidget>

#include <nlohmann/json.hpp>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace tunebench::ui {

// Run Setup's "Processes" group: how many processes train the run data-parallel (per host, and hosts), this
// host's place among them and where they meet. The run configuration's `distributed:` section; the worker
// (`tunebench-cli train --run ID`) reads it and starts this host's processes itself.
class ProcessesPanel : public QWidget {
    Q_OBJECT

public:
    explicit ProcessesPanel(QWidget* parent = nullptr);

    DistributedConfig settings() const;
    // The `distributed:` section; null for a single process, which needs none.
    nlohmann::json section() const;
    void setSettings(const DistributedConfig& settings);
    // What keeps these settings from starting a run (empty when nothing), as the form's messages say it.
    QString problem() const;
    // A setting that starts but will probably not do what is meant (empty when none).
    QString warning() const;

    QSpinBox* processesSpin() const { return m_processes; }
    QSpinBox* hostsSpin() const { return m_hosts; }
    QSpinBox* hostRankSpin() const { return m_hostRank; }
    QLineEdit* masterAddressEdit() const { return m_masterAddress; }
    QSpinBox* masterPortSpin() const { return m_masterPort; }
    QComboBox* backendCombo() const { return m_backend; }
    QDoubleSpinBox* timeoutSpin() const { return m_timeout; }

Q_SIGNALS:
    // A user edited a field (setSettings does not count).
    void edited();

private:
    void updateState();
    void editedUnlessUpdating();

    QSpinBox* m_processes;
    QSpinBox* m_hosts;
    QSpinBox* m_hostRank;
    QLineEdit* m_masterAddress;
    QSpinBox* m_masterPort;
    QComboBox* m_backend;
    QDoubleSpinBox* m_timeout;
    QLabel* m_summary;
    QLabel* m_message;
    QList<QWidget*> m_groupOnly; // fields that mean nothing for a single process
    bool m_updating = false;
};

} // namespace tunebench::ui
