#pragma once

#include <QObject>
#include <QString>
#include <QTimer>

#include <cstdint>
#include <memory>

namespace tunebench {
class Workspace;
}

namespace tunebench::ui {

// The open workspace, shared by every page. Lives on the GUI thread, which
// only ever does short reads through it.
//
// Other processes write the same database (a run's worker, tunebench-cli), so
// the session polls SQLite's data_version, which changes only when another
// connection commits, and emits changed() when it moved. Writes made through
// this session's own connection are not seen that way: call notifyChanged().
class WorkspaceSession : public QObject {
    Q_OBJECT

public:
    explicit WorkspaceSession(QObject* parent = nullptr);
    ~WorkspaceSession() override;

    // Opens an existing workspace. On failure returns false, sets *error to a
    // message naming the folder and the reason, and keeps the workspace that
    // was open before. Never throws.
    bool open(const QString& dir, QString* error = nullptr);
    // Creates a workspace (or opens the one already there); same contract as open().
    bool create(const QString& dir, QString* error = nullptr);
    void close();

    bool isOpen() const { return m_workspace != nullptr; }
    // The workspace's absolute folder; empty when none is open.
    QString rootPath() const;
    // nullptr when no workspace is open. Valid until workspaceChanged().
    Workspace* workspace() const { return m_workspace.get(); }

    // How often the database is polled for commits by other processes.
    void setPollInterval(int milliseconds);
    int pollInterval() const { return m_pollTimer.interval(); }

    // For writes through this session's connection, which data_version does not report.
    void notifyChanged();
    // Pages report failed reads here, so one place shows them.
    void reportError(const QString& message);

Q_SIGNALS:
    // A workspace was opened or closed; everything read before is stale.
    void workspaceChanged();
    // The store changed (another process committed, or notifyChanged()).
    void changed();
    void errorOccurred(const QString& message);

private:
    bool adopt(const QString& dir, bool create, QString* error);
    void poll();

    std::unique_ptr<Workspace> m_workspace;
    QTimer m_pollTimer;
    std::int64_t m_dataVersion = 0;
    bool m_pollFailing = false;
};

} // namespace tunebench::ui
