#pragma once

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>
#include <QTimer>

#include <optional>

namespace tunebench::ui {

class WorkspaceSession;

// Runs the workspace's runs as worker processes, a few at a time.
//
// A run executes as `tunebench-cli train --run ID --workspace W` (or
// `--resume ID`), started detached in a session of its own (setsid) with
// stdout and stderr appended to runs/<id>/worker.log: closing or killing the
// GUI does not stop it, and a terminal's Ctrl+C or hang-up does not reach it.
// The worker records its pid and status in the store; the queue follows every
// run through the store, so runs started from the command line or by an
// earlier GUI session are followed too. A run marked running whose worker is
// gone (killed, crashed), or a run this queue started whose worker exited
// before it began, is marked failed with the tail of its log as the error.
//
// The queue of pending runs lives in this object: runs still waiting when the
// GUI closes stay "queued" in the store and are started again with Start.
class RunQueue : public QObject {
    Q_OBJECT

public:
    explicit RunQueue(WorkspaceSession* session, QObject* parent = nullptr);
    ~RunQueue() override;

    // tunebench-cli; default: beside this program, else on PATH.
    void setCliPath(const QString& path) { m_cliPath = path; }
    QString cliPath() const { return m_cliPath; }
    // Runs executing at once (default 1, kept in QSettings "runs/maxConcurrent", which the Settings dialog edits).
    void setMaxActive(int count);
    int maxActive() const { return m_maxActive; }
    // How often workers are checked (default 1000 ms).
    void setCheckInterval(int milliseconds) { m_timer.setInterval(milliseconds); }

    // Queues a recorded run: from the start, or resumed from its newest
    // checkpoint. Starts it at once when there is room. Refuses (false, with
    // the reason) a run that is unknown, already queued or running.
    bool enqueue(qint64 runId, bool resume = false, QString* error = nullptr);
    // Stops a run: a waiting one leaves the queue (marked cancelled), a
    // running one gets SIGTERM, on which the trainer stops after the current
    // step with a checkpoint and marks it cancelled. False with the reason
    // when the run is neither.
    bool stop(qint64 runId, QString* error = nullptr);

    bool isPending(qint64 runId) const;
    QList<qint64> pending() const;
    // Runs of this workspace with a live worker (whoever started them), and
    // runs this queue started whose worker has not marked them running yet.
    int activeCount() const;

    // Checks the workers now and starts waiting runs when there is room
    // (also done every check interval and when the store changes).
    void check();

    // runs/<id>/worker.log of the open workspace.
    QString logPath(qint64 runId) const;
    // The last `lines` lines of a file (empty when it cannot be read).
    static QString tail(const QString& path, int lines = 20);
    // Whether a process with this pid exists and is not a zombie.
    static bool processAlive(qint64 pid);

Q_SIGNALS:
    void runStarted(qint64 runId, qint64 pid);
    // A run was marked failed by the queue (its worker died or could not start).
    void runFailed(qint64 runId, const QString& error);
    void queueChanged();

private:
    struct Pending {
        qint64 runId = 0;
        bool resume = false;
    };
    struct Launched {
        qint64 pid = 0;
        std::optional<double> startedAtBefore; // the run's started_at when it was launched
        bool stopRequested = false;
    };
    void launch(const Pending& next);
    void markFailed(qint64 runId, const QString& error);
    void onWorkspaceChanged();

    WorkspaceSession* m_session;
    QString m_cliPath;
    int m_maxActive = 1;
    QTimer m_timer;
    QList<Pending> m_pending;
    QHash<qint64, Launched> m_launched;
    bool m_checking = false;
};

} // namespace tunebench::ui
