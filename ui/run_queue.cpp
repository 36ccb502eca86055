#include "ui/run_queue.h"

#include "core/store/run_workers.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/workspace_session.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QProcess>
#include <QSettings>
#include <QStandardPaths>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <exception>
#include <filesystem>

#include <signal.h>

namespace tunebench::ui {

namespace {

const QString kMaxActiveKey = QStringLiteral("runs/maxConcurrent"); // the Settings dialog edits it too
constexpr int kCheckMs = 1000;
constexpr qint64 kTailBytes = 64 * 1024;

QString defaultCliPath()
{
    const QString beside = QCoreApplication::applicationDirPath() + QStringLiteral("/tunebench-cli");
    if (QFileInfo(beside).isExecutable())
        return beside;
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("tunebench-cli"));
    return onPath.isEmpty() ? beside : onPath;
}

} // namespace

RunQueue::RunQueue(WorkspaceSession* session, QObject* parent)
    : QObject(parent)
    , m_session(session)
    , m_cliPath(defaultCliPath())
{
    m_maxActive = std::max(1, QSettings().value(kMaxActiveKey, 1).toInt());
    m_timer.setInterval(kCheckMs);
    connect(&m_timer, &QTimer::timeout, this, &RunQueue::check);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &RunQueue::onWorkspaceChanged);
    connect(m_session, &WorkspaceSession::changed, this, &RunQueue::check);
    m_timer.start();
}

// Workers are detached: nothing to wait for or kill here.
RunQueue::~RunQueue() = default;

void RunQueue::setMaxActive(int count)
{
    m_maxActive = std::max(1, count);
    QSettings().setValue(kMaxActiveKey, m_maxActive);
    check();
}

QString RunQueue::logPath(qint64 runId) const
{
    if (!m_session->workspace())
        return {};
    return QString::fromStdString((m_session->workspace()->runDir(runId) / "worker.log").string());
}

QString RunQueue::tail(const QString& path, int lines)
{
    QFile f(path);
    if (!f.open(QIODevice::ReadOnly))
        return {};
    if (f.size() > kTailBytes)
        f.seek(f.size() - kTailBytes);
    QStringList all = QString::fromUtf8(f.readAll()).split(QLatin1Char('\n'));
    while (!all.isEmpty() && all.last().trimmed().isEmpty())
        all.removeLast();
    if (all.size() > lines)
        all = all.mid(all.size() - lines);
    return all.join(QLatin1Char('\n'));
}

bool RunQueue::processAlive(qint64 pid)
{
    return tunebench::processAlive(pid);
}

bool RunQueue::isPending(qint64 runId) const
{
    for (const Pending& p : m_pending) {
        if (p.runId == runId)
            return true;
    }
    return false;
}

QList<qint64> RunQueue::pending() const
{
    QList<qint64> ids;
    for (const Pending& p : m_pending)
        ids << p.runId;
    return ids;
}

int RunQueue::activeCount() const
{
    Workspace* ws = m_session->workspace();
    if (!ws)
        return 0;
    int active = 0;
    QSet<qint64> counted;
    try {
        for (const RunRecord& run : RunStore(ws->db()).list()) {
            if (checkWorker(run).verdict == WorkerCheck::Verdict::Alive) {
                ++active;
                counted.insert(run.id);
            }
        }
    } catch (const std::exception&) {
        return m_maxActive; // cannot tell: start nothing more now
    }
    for (auto it = m_launched.cbegin(); it != m_launched.cend(); ++it) {
        if (!counted.contains(it.key()) && processAlive(it->pid))
            ++active;
    }
    return active;
}

bool RunQueue::enqueue(qint64 runId, bool resume, QString* error)
{
    auto fail = [error](const QString& message) {
        if (error)
            *error = message;
        return false;
    };
    Workspace* ws = m_session->workspace();
    if (!ws)
        return fail(tr("No workspace is open."));
    std::optional<RunRecord> run;
    try {
        run = RunStore(ws->db()).find(runId);
    } catch (const std::exception& e) {
        return fail(tr("Cannot read run #%1: %2").arg(runId).arg(QString::fromUtf8(e.what())));
    }
    if (!run)
        return fail(tr("There is no run #%1 in this workspace.").arg(runId));
    if (!ws->isWritable())
        return fail(
            tr("Runs cannot be started in this workspace: %1.").arg(QString::fromStdString(ws->readOnlyReason())));
    if (isPending(runId) || m_launched.contains(runId))
        return fail(tr("Run #%1 is already in the queue.").arg(runId));
    if (run->status == RunStatus::Running)
        return fail(
            tr("Run #%1 is already running (worker %2).").arg(runId).arg(QString::fromStdString(describeWorker(*run))));
    if (!resume && run->status != RunStatus::Queued)
        return fail(tr("Run #%1 has already been trained (%2): resume it, or duplicate it to train it again.")
                        .arg(runId)
                        .arg(QString::fromUtf8(toString(run->status).data())));
    if (resume && run->status == RunStatus::Queued)
        return fail(tr("Run #%1 has not started yet: start it instead of resuming it.").arg(runId));
    if (resume && run->status == RunStatus::Finished)
        return fail(tr("Run #%1 has finished: there is nothing to resume.").arg(runId));
    m_pending.append({ runId, resume });
    Q_EMIT queueChanged();
    check();
    return true;
}

bool RunQueue::stop(qint64 runId, QString* error)
{
    for (int i = 0; i < m_pending.size(); ++i) {
        if (m_pending[i].runId == runId) {
            m_pending.removeAt(i);
            Q_EMIT queueChanged();
            return true;
        }
    }
    std::optional<qint64> pid;
    if (Workspace* ws = m_session->workspace()) {
        try {
            if (auto run = RunStore(ws->db()).find(runId); run && run->status == RunStatus::Running && run->workerPid) {
                // Only a live worker of this host is signalled: the pid of a gone worker may be another process's now.
                const WorkerCheck worker = checkWorker(*run);
                if (worker.verdict == WorkerCheck::Verdict::OtherHost
                    || worker.verdict == WorkerCheck::Verdict::Stale) {
                    if (error)
                        *error = worker.verdict == WorkerCheck::Verdict::OtherHost
                            ? tr("Run #%1 runs on another host (worker %2): stop it there.")
                                  .arg(runId)
                                  .arg(QString::fromStdString(worker.reason))
                            : tr("The worker of run #%1 is gone: %2.")
                                  .arg(runId)
                                  .arg(QString::fromStdString(worker.reason));
                    return false;
                }
                if (worker.verdict == WorkerCheck::Verdict::Alive)
                    pid = *run->workerPid;
            }
        } catch (const std::exception& e) {
            if (error)
                *error = tr("Cannot read run #%1: %2").arg(runId).arg(QString::fromUtf8(e.what()));
            return false;
        }
    }
    if (auto it = m_launched.find(runId); it != m_launched.end()) {
        it->stopRequested = true;
        if (!pid)
            pid = it->pid;
    }
    if (!pid || !processAlive(*pid)) {
        if (error)
            *error = tr("Run #%1 is neither waiting nor running.").arg(runId);
        return false;
    }
    // The trainer finishes the current step, writes a checkpoint and marks the run cancelled.
    if (::kill(static_cast<pid_t>(*pid), SIGTERM) != 0) {
        if (error)
            *error = tr("Cannot signal the worker of run #%1 (pid %2): %3")
                         .arg(runId)
                         .arg(*pid)
                         .arg(QString::fromLocal8Bit(std::strerror(errno)));
        return false;
    }
    return true;
}

void RunQueue::markFailed(qint64 runId, const QString& error)
{
    Workspace* ws = m_session->workspace();
    if (!ws)
        return;
    try {
        RunStore store(ws->db());
        store.setStatus(runId, RunStatus::Failed, error.toStdString());
        store.addEvent(runId, "failed",
            nlohmann::json({ { "event", "failed" }, { "error", error.toStdString() }, { "source", "gui" } }).dump());
    } catch (const std::exception& e) {
        m_session->reportError(tr("Cannot mark run #%1 failed: %2").arg(runId).arg(QString::fromUtf8(e.what())));
        return;
    }
    Q_EMIT runFailed(runId, error);
}

void RunQueue::check()
{
    Workspace* ws = m_session->workspace();
    // A read-only workspace is only looked at: nothing can be marked or started in it.
    if (!ws || m_checking || !ws->isWritable())
        return;
    m_checking = true;
    bool wrote = false;
    try {
        RunStore store(ws->db());
        // Runs marked running whose worker is gone: killed, crashed, or the machine restarted
        // (core/store/run_workers.h judges them, as tunebench-cli does).
        for (const RunRecord& run : store.list()) {
            if (run.status != RunStatus::Running || checkWorker(run).verdict != WorkerCheck::Verdict::Stale)
                continue;
            // Read again: the worker may have finished between list() and its exit.
            const auto fresh = store.find(run.id);
            if (!fresh || fresh->workerPid != run.workerPid)
                continue;
            const WorkerCheck worker = checkWorker(*fresh);
            if (worker.verdict != WorkerCheck::Verdict::Stale)
                continue;
            QString message = tr("The worker (pid %1) ended without finishing the run: %2.")
                                  .arg(*run.workerPid)
                                  .arg(QString::fromStdString(worker.reason));
            const QString last = tail(logPath(run.id));
            if (!last.isEmpty())
                message += QStringLiteral("\n") + tr("Last lines of %1:").arg(logPath(run.id)) + QStringLiteral("\n")
                    + last;
            markFailed(run.id, message);
            m_launched.remove(run.id);
            wrote = true;
        }
        // Runs this queue started that never reached "running".
        for (auto it = m_launched.begin(); it != m_launched.end();) {
            const auto run = store.find(it.key());
            if (!run) {
                it = m_launched.erase(it); // deleted
                continue;
            }
            const bool began = run->startedAt != it->startedAtBefore;
            if (began) {
                if (run->status == RunStatus::Running)
                    ++it;
                else
                    it = m_launched.erase(it);
                continue;
            }
            if (processAlive(it->pid)) {
                ++it;
                continue;
            }
            const qint64 id = it.key();
            const bool stopped = it->stopRequested;
            it = m_launched.erase(it);
            if (stopped)
                continue; // stopped before it began: it keeps its status
            QString message = tr("The worker exited before the run started.");
            const QString last = tail(logPath(id));
            if (!last.isEmpty())
                message += QStringLiteral("\n") + last;
            markFailed(id, message);
            wrote = true;
        }
    } catch (const std::exception& e) {
        m_session->reportError(tr("Cannot check the running runs: %1").arg(QString::fromUtf8(e.what())));
    }
    while (!m_pending.isEmpty() && activeCount() < m_maxActive) {
        launch(m_pending.takeFirst());
        Q_EMIT queueChanged();
        wrote = true;
    }
    m_checking = false;
    if (wrote)
        m_session->notifyChanged();
}

void RunQueue::launch(const Pending& next)
{
    Workspace* ws = m_session->workspace();
    if (!ws)
        return;
    std::optional<double> startedBefore;
    try {
        const auto run = RunStore(ws->db()).find(next.runId);
        if (!run)
            return; // deleted while waiting
        startedBefore = run->startedAt;
        std::filesystem::create_directories(ws->runDir(next.runId));
    } catch (const std::exception& e) {
        markFailed(next.runId, tr("Could not prepare the run folder: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    if (!QFileInfo(m_cliPath).isExecutable()) {
        markFailed(next.runId,
            tr("Could not start the worker: %1 is not an executable program (install tunebench-cli beside tunebench).")
                .arg(m_cliPath));
        return;
    }
    const QString log = logPath(next.runId);
    QStringList args { QStringLiteral("train"), next.resume ? QStringLiteral("--resume") : QStringLiteral("--run"),
        QString::number(next.runId), QStringLiteral("--workspace"), m_session->rootPath() };
    {
        QFile f(log);
        if (f.open(QIODevice::Append)) {
            f.write(QStringLiteral("--- %1: tunebench-cli %2\n")
                        .arg(QDateTime::currentDateTime().toString(Qt::ISODate), args.join(QLatin1Char(' ')))
                        .toUtf8());
        }
    }
    QString program = m_cliPath;
    // A session of its own: the terminal's Ctrl+C and hang-up do not reach the worker.
    const QString setsid = QStandardPaths::findExecutable(QStringLiteral("setsid"));
    if (!setsid.isEmpty()) {
        args.prepend(program);
        program = setsid;
    }
    QProcess process;
    process.setProgram(program);
    process.setArguments(args);
    process.setWorkingDirectory(QString::fromStdString(ws->runDir(next.runId).string()));
    process.setStandardInputFile(QProcess::nullDevice());
    process.setStandardOutputFile(log, QIODevice::Append);
    process.setStandardErrorFile(log, QIODevice::Append);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("TUNEBENCH_WORKSPACE"));
    process.setProcessEnvironment(env);
    qint64 pid = 0;
    if (!process.startDetached(&pid)) {
        markFailed(next.runId, tr("Could not start %1: %2").arg(m_cliPath, process.errorString()));
        return;
    }
    m_launched.insert(next.runId, { pid, startedBefore, false });
    Q_EMIT runStarted(next.runId, pid);
}

void RunQueue::onWorkspaceChanged()
{
    // Waiting runs belonged to the workspace open before; their workers carry on by themselves.
    m_pending.clear();
    m_launched.clear();
    Q_EMIT queueChanged();
    check();
}

} // namespace tunebench::ui
