#include "ui/pages/sweep_page.h"

#include "ui/run_queue.h"
#include "ui/workspace_session.h"

#include "core/method/plugin_registry.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "core/sweep/sweep_spec.h"
#include "core/sweep/sweep_store.h"
#include "core/sweep/sweep_summary.h"

#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QPushButton>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <cmath>
#include <filesystem>

namespace tunebench::ui {

namespace {

enum SweepColumn { SweepIdColumn, SweepNameColumn, SweepStatusColumn, SweepRunsColumn, SweepColumnCount };

QString number(const nlohmann::json& v)
{
    return v.is_number() ? QString::number(v.get<double>(), 'g', 5) : QStringLiteral("-");
}

QTableWidgetItem* item(const QString& text)
{
    auto* it = new QTableWidgetItem(text);
    it->setFlags(it->flags() & ~Qt::ItemIsEditable);
    return it;
}

} // namespace

SweepPage::SweepPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_queue(queue)
    , m_sweeps(new QTableWidget(0, SweepColumnCount))
    , m_points(new QTableWidget(0, PointColumnCount))
    , m_heading(new QLabel)
    , m_message(new QLabel)
    , m_start(new QPushButton(tr("Start sweep file…")))
    , m_resume(new QPushButton(tr("Resume")))
    , m_stop(new QPushButton(tr("Stop")))
{
    m_sweeps->setObjectName(QStringLiteral("sweepTable"));
    m_points->setObjectName(QStringLiteral("sweepPoints"));
    m_start->setObjectName(QStringLiteral("sweepStart"));
    m_resume->setObjectName(QStringLiteral("sweepResume"));
    m_stop->setObjectName(QStringLiteral("sweepStop"));
    m_message->setObjectName(QStringLiteral("sweepMessage"));
    m_message->setWordWrap(true);
    m_sweeps->setHorizontalHeaderLabels({ tr("Id"), tr("Name"), tr("Status"), tr("Runs done") });
    m_points->setHorizontalHeaderLabels(
        { tr("Point"), tr("Params"), tr("Runs"), tr("Mean ± std"), tr("95% CI (t)"), tr("Best") });
    for (QTableWidget* t : { m_sweeps, m_points }) {
        t->setSelectionBehavior(QAbstractItemView::SelectRows);
        t->setSelectionMode(QAbstractItemView::SingleSelection);
        t->verticalHeader()->hide();
        t->horizontalHeader()->setStretchLastSection(true);
    }
    m_points->horizontalHeader()->setSectionResizeMode(ParamsColumn, QHeaderView::Stretch);

    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_start);
    buttons->addWidget(m_resume);
    buttons->addWidget(m_stop);
    buttons->addStretch(1);
    auto* lower = new QWidget;
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addWidget(m_heading);
    lowerLayout->addWidget(m_points);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_sweeps);
    split->addWidget(lower);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_message);
    layout->addWidget(split, 1);

    connect(m_start, &QPushButton::clicked, this, &SweepPage::chooseFile);
    connect(m_resume, &QPushButton::clicked, this, [this] {
        QString error;
        const int n = resumeSweep(selectedSweep(), &error);
        report(error.isEmpty() ? tr("%n run(s) queued.", nullptr, n) : error);
    });
    connect(m_stop, &QPushButton::clicked, this, [this] {
        report(tr(
            "%n run(s) stopped; Resume continues them from their checkpoints.", nullptr, stopSweep(selectedSweep())));
    });
    connect(m_sweeps, &QTableWidget::itemSelectionChanged, this, &SweepPage::showSummary);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &SweepPage::refresh);
    connect(m_session, &WorkspaceSession::changed, this, &SweepPage::refresh);
    refresh();
}

qint64 SweepPage::selectedSweep() const
{
    const auto rows = m_sweeps->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return 0;
    return m_sweeps->item(rows.first().row(), SweepIdColumn)->data(Qt::UserRole).toLongLong();
}

bool SweepPage::selectSweep(qint64 sweepId)
{
    for (int r = 0; r < m_sweeps->rowCount(); ++r) {
        if (m_sweeps->item(r, SweepIdColumn)->data(Qt::UserRole).toLongLong() == sweepId) {
            m_sweeps->selectRow(r);
            return true;
        }
    }
    return false;
}

void SweepPage::refresh()
{
    const qint64 selected = selectedSweep();
    const QSignalBlocker block(m_sweeps);
    m_sweeps->setRowCount(0);
    Workspace* ws = m_session->workspace();
    m_start->setEnabled(ws != nullptr);
    if (ws) {
        try {
            SweepStore sweeps(ws->db());
            RunStore runs(ws->db());
            for (const SweepRecord& s : sweeps.list()) {
                const auto links = sweeps.runs(s.id);
                int done = 0;
                for (const SweepRunLink& l : links) {
                    const auto run = runs.find(l.runId);
                    done += l.stoppedEarly || (run && run->status == RunStatus::Finished);
                }
                const int row = m_sweeps->rowCount();
                m_sweeps->insertRow(row);
                auto* id = item(QString::number(s.id));
                id->setData(Qt::UserRole, static_cast<qlonglong>(s.id));
                m_sweeps->setItem(row, SweepIdColumn, id);
                m_sweeps->setItem(row, SweepNameColumn, item(QString::fromStdString(s.name)));
                m_sweeps->setItem(row, SweepStatusColumn, item(QString::fromStdString(s.status)));
                m_sweeps->setItem(row, SweepRunsColumn, item(QStringLiteral("%1 / %2").arg(done).arg(links.size())));
            }
        } catch (const std::exception& e) {
            report(QString::fromUtf8(e.what()));
        }
    }
    if (selected && !selectSweep(selected) && m_sweeps->rowCount() > 0)
        m_sweeps->selectRow(0);
    else if (!selected && m_sweeps->rowCount() > 0)
        m_sweeps->selectRow(0);
    showSummary();
}

void SweepPage::showSummary()
{
    m_points->setRowCount(0);
    m_summary = nullptr;
    const qint64 id = selectedSweep();
    m_resume->setEnabled(id != 0);
    m_stop->setEnabled(id != 0);
    Workspace* ws = m_session->workspace();
    if (!id || !ws) {
        m_heading->setText(
            ws ? tr("No sweeps yet: start one from a sweep file, or with `tunebench-cli sweep`.") : QString());
        return;
    }
    try {
        m_summary = sweepSummary(ws->db(), id);
    } catch (const std::exception& e) {
        report(QString::fromUtf8(e.what()));
        return;
    }
    const std::string metric = m_summary["metric"];
    m_heading->setText(
        tr("%1: %2 (%3 is best), over each point's finished runs")
            .arg(QString::fromStdString(m_summary["name"].get<std::string>()), QString::fromStdString(metric),
                m_summary["direction"] == "max" ? tr("higher") : tr("lower")));
    const nlohmann::json& best = m_summary["best"];
    for (const nlohmann::json& p : m_summary["points"]) {
        const int row = m_points->rowCount();
        m_points->insertRow(row);
        QStringList params;
        for (auto it = p["params"].begin(); it != p["params"].end(); ++it)
            params << QStringLiteral("%1=%2").arg(
                QString::fromStdString(it.key()), QString::fromStdString(it.value().dump()));
        QStringList runs;
        for (const nlohmann::json& r : p["runs"])
            runs << QStringLiteral("#%1").arg(r.get<qint64>());
        m_points->setItem(row, PointColumnIndex, item(QString::number(p["index"].get<qint64>())));
        m_points->setItem(row, ParamsColumn, item(params.join(QStringLiteral(", "))));
        m_points->setItem(row, RunsColumn, item(runs.join(QStringLiteral(" "))));
        const auto m = p["metrics"].find(metric);
        if (m != p["metrics"].end()) {
            m_points->setItem(row, MeanColumn,
                item(QStringLiteral("%1 ± %2 (n=%3)")
                         .arg(number((*m)["mean"]), number((*m)["std"]))
                         .arg((*m)["n"].get<int>())));
            m_points->setItem(
                row, CiColumn, item(QStringLiteral("[%1, %2]").arg(number((*m)["ci95"][0]), number((*m)["ci95"][1]))));
        } else {
            m_points->setItem(row, MeanColumn, item(tr("no finished run")));
            m_points->setItem(row, CiColumn, item(QStringLiteral("-")));
        }
        const bool isBest = best.is_object() && best["index"] == p["index"];
        m_points->setItem(row, BestColumn, item(isBest ? tr("★ best") : QString()));
        if (isBest) {
            for (int c = 0; c < PointColumnCount; ++c) {
                QFont f = m_points->item(row, c)->font();
                f.setBold(true);
                m_points->item(row, c)->setFont(f);
            }
        }
    }
}

bool SweepPage::startSweepFile(const QString& path, QString* error)
{
    Workspace* ws = m_session->workspace();
    if (!ws) {
        if (error)
            *error = tr("Open a workspace first.");
        return false;
    }
    qint64 id = 0;
    try {
        const SweepSpec spec = SweepSpec::readFile(path.toStdString());
        const auto configs = expandRuns(spec, defaultPluginRegistry());
        id = recordSweep(ws->db(), spec, configs).id;
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
    refresh();
    selectSweep(id);
    QString resumeError;
    resumeSweep(id, &resumeError);
    if (error)
        *error = resumeError;
    return resumeError.isEmpty();
}

int SweepPage::resumeSweep(qint64 sweepId, QString* error)
{
    Workspace* ws = m_session->workspace();
    if (!ws || !sweepId)
        return 0;
    int queued = 0;
    QStringList problems;
    try {
        SweepStore sweeps(ws->db());
        RunStore runs(ws->db());
        for (const SweepRunLink& l : sweeps.runs(sweepId)) {
            const auto run = runs.find(l.runId);
            if (!run || l.stoppedEarly || run->status == RunStatus::Finished || run->status == RunStatus::Running
                || m_queue->isPending(l.runId))
                continue;
            std::int64_t runId = l.runId;
            bool resume = false;
            if (run->status != RunStatus::Queued) {
                resume = hasResumableCheckpoint(ws->runDir(runId));
                if (!resume) {
                    // Ended without a checkpoint: trained again as a new run in its place.
                    runId = replaceSweepRun(ws->db(), runId);
                    std::error_code ec;
                    std::filesystem::remove_all(ws->runDir(l.runId), ec);
                }
            }
            QString why;
            if (m_queue->enqueue(runId, resume, &why))
                ++queued;
            else
                problems << why;
        }
        sweeps.setStatus(sweepId, "running");
    } catch (const std::exception& e) {
        problems << QString::fromUtf8(e.what());
    }
    if (error)
        *error = problems.join(QLatin1Char('\n'));
    m_session->notifyChanged();
    return queued;
}

int SweepPage::stopSweep(qint64 sweepId)
{
    Workspace* ws = m_session->workspace();
    if (!ws || !sweepId)
        return 0;
    int stopped = 0;
    try {
        SweepStore sweeps(ws->db());
        for (const SweepRunLink& l : sweeps.runs(sweepId))
            stopped += m_queue->stop(l.runId) ? 1 : 0;
        sweeps.setStatus(sweepId, "stopped");
    } catch (const std::exception& e) {
        report(QString::fromUtf8(e.what()));
    }
    m_session->notifyChanged();
    return stopped;
}

void SweepPage::chooseFile()
{
    const QString path
        = QFileDialog::getOpenFileName(this, tr("Start a sweep"), QString(), tr("Sweep files (*.yaml *.yml *.json)"));
    if (path.isEmpty())
        return;
    QString error;
    startSweepFile(path, &error);
    report(error.isEmpty() ? tr("Sweep started: its runs are on the run queue.") : error);
}

void SweepPage::report(const QString& message)
{
    m_message->setText(message);
}

} // namespace tunebench::ui
