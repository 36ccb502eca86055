#pragma once

#include "ui/dialogs/run_choice.h"

#include <QProcess>
#include <QWidget>

class QLabel;
class QProgressBar;
class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace tunebench::ui {

class ArtifactTableModel;
class EmptyState;
class WorkspaceSession;

// What the runs produced (checkpoints, adapters, merged models, reports), with
// a way to open the folder that holds the selected one, and the actions that
// produce more: export a run (merged, PEFT, GGUF), merge runs, write a report,
// export metrics. Each action runs `tunebench-cli` as a child process (the one
// beside the GUI executable, else on PATH), so a long export never blocks the
// window; a busy bar shows while it runs, its stderr is shown when it fails,
// and the list refreshes when it ends. One action at a time.
class ExportsPage : public QWidget {
    Q_OBJECT

public:
    explicit ExportsPage(WorkspaceSession* session, QWidget* parent = nullptr);
    ~ExportsPage() override;

    ArtifactTableModel* model() const { return m_model; }
    // The folder "Open folder" opens for the selected row: the artifact itself
    // when it is a folder, else the folder holding it. Empty without a selection.
    QString selectedFolder() const;

    // The tunebench-cli the actions run; found beside this executable or on PATH by default.
    void setCliProgram(const QString& program) { m_cli = program; }
    QString cliProgram() const { return m_cli; }

    // Runs `tunebench-cli ARGS --workspace <open workspace>` in the background.
    // Returns false (and does nothing) while another action runs or without a workspace.
    bool startTask(const QStringList& args, const QString& description);
    bool isBusy() const { return m_process != nullptr; }
    // What the last finished action printed, and its error text ("" after a success).
    QString lastOutput() const { return m_lastOutput; }
    QString lastError() const { return m_lastError; }

    // The workspace's runs as the dialogs offer them.
    QList<RunChoice> runChoices() const;

public Q_SLOTS:
    // Opens the report dialog with these runs checked (the Compare page's "Report..." calls this).
    void writeReport(const QList<qint64>& runIds);
    void exportRun(qint64 runId = 0);
    void mergeRuns(const QList<qint64>& runIds = {});
    void exportMetrics(const QList<qint64>& runIds = {});
    void cancelTask();

Q_SIGNALS:
    // An action ended: ok when tunebench-cli exited 0; message is its stderr (or why it could not run).
    void taskFinished(bool ok, const QString& message);

private:
    void reload();
    void refresh();
    void updateButtons();
    void openFolder();
    void taskEnded(int exitCode, QProcess::ExitStatus status);
    void failTask(const QString& message);
    QList<qint64> selectedRunIds() const;

    WorkspaceSession* m_session;
    ArtifactTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_table;
    QPushButton* m_openFolder;
    QPushButton* m_exportRun;
    QPushButton* m_merge;
    QPushButton* m_report;
    QPushButton* m_metrics;
    QWidget* m_busy;
    QLabel* m_busyLabel;
    QProgressBar* m_busyBar;
    QPushButton* m_cancel;
    QLabel* m_message;
    EmptyState* m_state;
    QProcess* m_process = nullptr;
    QString m_cli;
    QString m_description;
    QString m_lastOutput;
    QString m_lastError;
};

} // namespace tunebench::ui
