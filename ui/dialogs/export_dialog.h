#pragma once

#include "ui/dialogs/run_choice.h"

#include <QDialog>
#include <QStringList>

class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace tunebench::ui {

// Asks what to export and where, and turns the answer into a tunebench-cli call
// (the Exports page runs it as a child process):
//   Run:     export --run ID --format merged|peft|gguf [--gguf-type T] --out DIR
//   Merge:   merge --runs ID,ID,... --method M [parameters as typed]
//   Metrics: metrics --run ID[,ID...] --format csv|json --out FILE
class ExportDialog : public QDialog {
    Q_OBJECT

public:
    enum Mode { ExportRun, MergeRuns, ExportMetrics };

    // workspace: the folder default output paths are proposed in.
    ExportDialog(Mode mode, const QList<RunChoice>& runs, const QString& workspace, QWidget* parent = nullptr);

    Mode mode() const { return m_mode; }
    // The tunebench-cli arguments after "--workspace DIR"'s insertion; empty while the form is incomplete.
    QStringList arguments() const;
    // What the form lacks ("choose a run"), empty when arguments() is complete.
    QString problem() const;
    // One line for the busy indicator, e.g. "Exporting run #3 as merged".
    QString description() const;

    void setRunsChecked(const QList<qint64>& ids);
    QList<qint64> checkedRuns() const;

private:
    void updateState();
    void proposeOutput();
    void browse();

    Mode m_mode;
    QString m_workspace;
    QComboBox* m_run = nullptr; // ExportRun
    QListWidget* m_runs = nullptr; // MergeRuns, ExportMetrics
    QComboBox* m_format = nullptr; // ExportRun, ExportMetrics
    QComboBox* m_ggufType = nullptr;
    QComboBox* m_method = nullptr;
    QLineEdit* m_parameters = nullptr;
    QLineEdit* m_out = nullptr;
    QLabel* m_problem;
    bool m_outEdited = false;
};

} // namespace tunebench::ui
