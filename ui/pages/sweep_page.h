#pragma once

#include <QWidget>

#include <nlohmann/json.hpp>

class QLabel;
class QPushButton;
class QTableWidget;

namespace tunebench::ui {

class RunQueue;
class WorkspaceSession;

// The workspace's sweeps (core/sweep) and, for the selected one, its points: params, runs, the sweep's
// metric as mean +- std over the finished seeds with its 95% t-interval, the best point marked. Start reads a
// sweep file, records the sweep (or finds the same one recorded) and queues its runs on the run queue, as
// `tunebench-cli sweep` does; Resume queues the selected sweep's runs that are not done (from their checkpoint
// where they have one); Stop stops its queued and running runs through the queue. The queue's concurrency
// setting applies; early stopping is the command line's (`tunebench-cli sweep`).
class SweepPage : public QWidget {
    Q_OBJECT

public:
    enum PointColumn { PointColumnIndex, ParamsColumn, RunsColumn, MeanColumn, CiColumn, BestColumn, PointColumnCount };

    SweepPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent = nullptr);

    QTableWidget* sweepTable() const { return m_sweeps; }
    QTableWidget* pointTable() const { return m_points; }
    qint64 selectedSweep() const;
    bool selectSweep(qint64 sweepId);
    // The selected sweep's summary (core/sweep/sweep_summary.h); null without one.
    const nlohmann::json& summary() const { return m_summary; }

    // Records the sweep of a file and queues its runs. False with the reason (a bad file names it).
    bool startSweepFile(const QString& path, QString* error = nullptr);
    // Queues the runs of a sweep that are neither finished nor stopped early; returns how many.
    int resumeSweep(qint64 sweepId, QString* error = nullptr);
    // Stops the sweep's queued and running runs; returns how many.
    int stopSweep(qint64 sweepId);

public Q_SLOTS:
    void refresh();

private:
    void showSummary();
    void chooseFile();
    void report(const QString& message);

    WorkspaceSession* m_session;
    RunQueue* m_queue;
    QTableWidget* m_sweeps;
    QTableWidget* m_points;
    QLabel* m_heading;
    QLabel* m_message;
    QPushButton* m_start;
    QPushButton* m_resume;
    QPushButton* m_stop;
    nlohmann::json m_summary;
};

} // namespace tunebench::ui
