#include "ui/workspace_session.h"

#include "core/store/workspace.h"

#include <exception>

namespace tunebench::ui {

namespace {

constexpr int kDefaultPollMs = 1000;

std::filesystem::path toPath(const QString& dir)
{
    return std::filesystem::path(dir.toStdString());
}

} // namespace

WorkspaceSession::WorkspaceSession(QObject* parent)
    : QObject(parent)
{
    m_pollTimer.setInterval(kDefaultPollMs);
    connect(&m_pollTimer, &QTimer::timeout, this, &WorkspaceSession::poll);
}

WorkspaceSession::~WorkspaceSession() = default;

bool WorkspaceSession::open(const QString& dir, QString* error)
{
    return adopt(dir, false, error);
}

bool WorkspaceSession::create(const QString& dir, QString* error)
{
    return adopt(dir, true, error);
}

bool WorkspaceSession::adopt(const QString& dir, bool create, QString* error)
{
    std::unique_ptr<Workspace> next;
    std::int64_t version = 0;
    try {
        next = std::make_unique<Workspace>(create ? Workspace::create(toPath(dir)) : Workspace::open(toPath(dir)));
        version = next->db().dataVersion();
    } catch (const std::exception& e) {
        // Core's messages already name the file; the folder is repeated so the
        // user sees which choice failed even when core names the database file.
        if (error)
            *error = tr("Could not %1 the workspace %2:\n%3")
                         .arg(create ? tr("create") : tr("open"), dir, QString::fromStdString(e.what()));
        return false;
    }
    m_workspace = std::move(next);
    m_dataVersion = version;
    m_pollFailing = false;
    m_pollTimer.start();
    Q_EMIT workspaceChanged();
    return true;
}

void WorkspaceSession::close()
{
    if (!m_workspace)
        return;
    m_pollTimer.stop();
    m_workspace.reset();
    Q_EMIT workspaceChanged();
}

QString WorkspaceSession::rootPath() const
{
    return m_workspace ? QString::fromStdString(m_workspace->root().string()) : QString();
}

void WorkspaceSession::setPollInterval(int milliseconds)
{
    m_pollTimer.setInterval(milliseconds);
}

void WorkspaceSession::notifyChanged()
{
    if (m_workspace)
        Q_EMIT changed();
}

void WorkspaceSession::reportError(const QString& message)
{
    Q_EMIT errorOccurred(message);
}

void WorkspaceSession::poll()
{
    if (!m_workspace)
        return;
    std::int64_t version = 0;
    try {
        version = m_workspace->db().dataVersion();
    } catch (const std::exception& e) {
        // Report once per failing stretch, not once a second.
        if (!m_pollFailing)
            reportError(tr("Cannot read the workspace database: %1").arg(QString::fromStdString(e.what())));
        m_pollFailing = true;
        return;
    }
    m_pollFailing = false;
    if (version == m_dataVersion)
        return;
    m_dataVersion = version;
    Q_EMIT changed();
}

} // namespace tunebench::ui
