#include "ui/pages/pipeline_page.h"

#include "ui/pages/pipeline_page_editor.h"
#include "ui/run_queue.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include "core/method/plugin_registry.h"
#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_spec.h"
#include "core/pipeline/pipeline_store.h"
#include "core/report/report_data.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QCoreApplication>
#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QProcess>
#include <QPushButton>
#include <QScrollArea>
#include <QSplitter>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTableWidget>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>

#include <signal.h>

namespace tunebench::ui {

namespace {

constexpr int kEditorTab = 1; // the tab after the pipelines

enum PipelineColumn { IdColumn, NameColumn, StatusColumn, StagesColumn, PipelineColumnCount };

QTableWidgetItem* item(const QString& text)
{
    auto* it = new QTableWidgetItem(text);
    it->setFlags(it->flags() & ~Qt::ItemIsEditable);
    return it;
}

QString number(const std::optional<double>& v)
{
    return v ? QString::number(*v, 'f', 4) : QStringLiteral("-");
}

QString defaultCliPath()
{
    const QString beside = QCoreApplication::applicationDirPath() + QStringLiteral("/tunebench-cli");
    if (QFileInfo(beside).isExecutable())
        return beside;
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("tunebench-cli"));
    return onPath.isEmpty() ? beside : onPath;
}

// How a stage's run started from its source, from the lineage the pipeline recorded with it.
QString startedFrom(const PipelineStageRecord& s, const std::optional<RunRecord>& run)
{
    if (!s.parentRunId)
        return PipelinePage::tr("base model");
    QString text = QStringLiteral("#%1").arg(*s.parentRunId);
    if (run) {
        const nlohmann::json lineage = nlohmann::json::parse(run->lineageJson, nullptr, false);
        if (lineage.is_object() && lineage.contains("merge") && lineage["merge"].is_boolean())
            text += lineage["merge"].get<bool>() ? PipelinePage::tr(" (merged)")
                                                 : PipelinePage::tr(" (adapter continued)");
    }
    return text;
}

} // namespace

PipelinePage::PipelinePage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_tabs(new QTabWidget)
    , m_editor(new PipelineEditor(session))
    , m_new(new QPushButton(tr("New pipeline")))
    , m_edit(new QPushButton(tr("Edit")))
    , m_resume(new QPushButton(tr("Resume")))
    , m_stop(new QPushButton(tr("Stop")))
    , m_message(new QLabel)
    , m_cliPath(defaultCliPath())
    , m_pipelines(new QTableWidget(0, PipelineColumnCount))
    , m_stages(new QTableWidget(0, StageColumnCount))
    , m_plot(new QCustomPlot)
    , m_map(new QCPColorMap(m_plot->xAxis, m_plot->yAxis))
    , m_heading(new QLabel)
    , m_measures(new QLabel)
{
    m_pipelines->setObjectName(QStringLiteral("pipelineTable"));
    m_stages->setObjectName(QStringLiteral("pipelineStages"));
    m_plot->setObjectName(QStringLiteral("forgettingMatrix"));
    m_measures->setObjectName(QStringLiteral("pipelineMeasures"));
    m_measures->setWordWrap(true);
    m_pipelines->setHorizontalHeaderLabels({ tr("Id"), tr("Name"), tr("Status"), tr("Stages done") });
    m_stages->setHorizontalHeaderLabels(
        { tr("Stage"), tr("Name"), tr("Status"), tr("Run"), tr("Started from"), tr("Model") });
    for (QTableWidget* t : { m_pipelines, m_stages }) {
        t->setSelectionBehavior(QAbstractItemView::SelectRows);
        t->setSelectionMode(QAbstractItemView::SingleSelection);
        t->verticalHeader()->hide();
        t->horizontalHeader()->setStretchLastSection(true);
    }
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    m_map->setGradient(gradient);
    m_map->setDataRange(QCPRange(0, 1));
    m_map->setInterpolate(false);
    m_plot->yAxis->setRangeReversed(true);
    m_plot->setMinimumHeight(200);

    m_message->setObjectName(QStringLiteral("pipelineMessage"));
    m_message->setWordWrap(true);
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_measures->setMinimumWidth(220);
    m_measures->setAlignment(Qt::AlignTop | Qt::AlignLeft);

    auto* matrixRow = new QHBoxLayout;
    matrixRow->addWidget(m_plot, 3);
    matrixRow->addWidget(m_measures, 1);
    auto* lower = new QWidget;
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addWidget(m_heading);
    lowerLayout->addWidget(m_stages);
    lowerLayout->addLayout(matrixRow, 1);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_pipelines);
    split->addWidget(lower);
    auto* buttons = new QHBoxLayout;
    for (QPushButton* b : { m_new, m_edit, m_resume, m_stop })
        buttons->addWidget(b);
    buttons->addStretch(1);
    auto* monitor = new QWidget;
    auto* monitorLayout = new QVBoxLayout(monitor);
    monitorLayout->addLayout(buttons);
    monitorLayout->addWidget(m_message);
    monitorLayout->addWidget(split, 1);
    m_tabs->addTab(monitor, tr("Pipelines"));
    // The editor's form is taller and wider than the page needs to be: it scrolls, so it never sets the
    // main window's minimum size.
    auto* editorScroll = new QScrollArea;
    editorScroll->setObjectName(QStringLiteral("pipelineEditorScroll"));
    editorScroll->setWidget(m_editor);
    editorScroll->setWidgetResizable(true);
    editorScroll->setFrameShape(QFrame::NoFrame);
    m_tabs->addTab(editorScroll, tr("Editor"));
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_tabs, 1);

    connect(m_new, &QPushButton::clicked, this, [this] {
        m_editor->clear();
        m_editor->refreshPickers();
        m_tabs->setCurrentIndex(kEditorTab);
    });
    connect(m_edit, &QPushButton::clicked, this, [this] {
        Workspace* ws = m_session->workspace();
        if (!ws || !selectedPipeline())
            return;
        try {
            const auto p = PipelineStore(ws->db()).find(selectedPipeline());
            QString error;
            if (p && !m_editor->loadFile(QString::fromStdString(p->file), &error)) {
                report(error);
                return;
            }
        } catch (const std::exception& e) {
            report(QString::fromUtf8(e.what()));
            return;
        }
        m_tabs->setCurrentIndex(kEditorTab);
    });
    connect(m_resume, &QPushButton::clicked, this, [this] {
        QString error;
        if (!resumeSelected(&error))
            report(error);
    });
    connect(m_stop, &QPushButton::clicked, this, [this] {
        report(stopSelected() ? tr("Stopping: the running stage writes a checkpoint; Resume carries on.")
                              : tr("No pipeline process started here is running for this pipeline."));
    });
    connect(m_editor, &PipelineEditor::startRequested, this, [this](const QString& file) {
        QString error;
        if (startPipelineFile(file, &error))
            m_tabs->setCurrentIndex(0);
        else
            report(error);
    });
    m_processTimer.setInterval(1000);
    connect(&m_processTimer, &QTimer::timeout, this, &PipelinePage::checkProcess);

    connect(m_pipelines, &QTableWidget::itemSelectionChanged, this, &PipelinePage::showPipeline);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &PipelinePage::refresh);
    connect(m_session, &WorkspaceSession::changed, this, &PipelinePage::refresh);
    refresh();
}

QString PipelinePage::cellText(int column, int row) const
{
    const int rows = m_map->data()->valueSize();
    const auto index = static_cast<std::size_t>(column * rows + row);
    if (column < 0 || row < 0 || row >= rows || index >= m_cellTexts.size())
        return QString();
    return m_cellTexts[index]->text();
}

QString PipelinePage::messageText() const
{
    return m_message->text();
}

void PipelinePage::report(const QString& message)
{
    m_message->setText(message);
}

bool PipelinePage::startPipelineFile(const QString& path, QString* error)
{
    auto fail = [error](const QString& why) {
        if (error)
            *error = why;
        return false;
    };
    Workspace* ws = m_session->workspace();
    if (!ws)
        return fail(tr("Open a workspace first."));
    if (processRunning())
        return fail(tr("A pipeline started here is still running (pid %1): stop it first.").arg(m_pid));
    std::string canonical;
    try {
        // The checks `tunebench-cli pipeline` makes before it records anything, so a bad file is answered here.
        const PipelineSpec spec = PipelineSpec::readFile(path.toStdString());
        checkStages(spec, defaultPluginRegistry());
        canonical = spec.canonicalJson().dump();
    } catch (const std::exception& e) {
        return fail(QString::fromUtf8(e.what()));
    }
    if (!QFileInfo(m_cliPath).isExecutable())
        return fail(tr("Could not start the pipeline: %1 is not an executable program (install tunebench-cli beside "
                       "tunebench).")
                        .arg(m_cliPath));
    const QString root = m_session->rootPath();
    QDir().mkpath(root + QStringLiteral("/pipelines"));
    const QString log = root
        + QStringLiteral("/pipelines/gui-%1.log")
              .arg(QDateTime::currentDateTimeUtc().toString(QStringLiteral("yyyyMMdd-HHmmss-zzz")));
    QProcess process;
    process.setProgram(m_cliPath);
    process.setArguments(
        { QStringLiteral("pipeline"), QFileInfo(path).absoluteFilePath(), QStringLiteral("--workspace"), root });
    process.setWorkingDirectory(QFileInfo(path).absolutePath());
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.remove(QStringLiteral("TUNEBENCH_WORKSPACE"));
    process.setProcessEnvironment(env);
    process.setStandardOutputFile(log, QIODevice::Append);
    process.setStandardErrorFile(log, QIODevice::Append);
    process.setStandardInputFile(QProcess::nullDevice());
    qint64 pid = 0;
    if (!process.startDetached(&pid))
        return fail(tr("Could not start %1: %2").arg(m_cliPath, process.errorString()));
    m_pid = pid;
    m_canonical = canonical;
    m_log = log;
    m_selectWhenRecorded = true;
    m_processTimer.start();
    report(tr("Pipeline started (tunebench-cli pid %1, output in %2).").arg(pid).arg(log));
    checkProcess();
    return true;
}

bool PipelinePage::resumeSelected(QString* error)
{
    Workspace* ws = m_session->workspace();
    if (!ws || !selectedPipeline()) {
        if (error)
            *error = tr("Select a pipeline first.");
        return false;
    }
    std::optional<PipelineRecord> p;
    try {
        p = PipelineStore(ws->db()).find(selectedPipeline());
    } catch (const std::exception& e) {
        if (error)
            *error = QString::fromUtf8(e.what());
        return false;
    }
    if (!p) {
        if (error)
            *error = tr("The pipeline is not in the workspace any more.");
        return false;
    }
    return startPipelineFile(QString::fromStdString(p->file), error);
}

bool PipelinePage::processRunning() const
{
    return m_pid > 0 && RunQueue::processAlive(m_pid);
}

bool PipelinePage::stopSelected()
{
    if (!processRunning())
        return false;
    Workspace* ws = m_session->workspace();
    try {
        const auto p = ws ? PipelineStore(ws->db()).findByConfig(m_canonical) : std::nullopt;
        if (p && p->id != selectedPipeline())
            return false;
    } catch (const std::exception&) {
        return false;
    }
    return ::kill(static_cast<pid_t>(m_pid), SIGTERM) == 0;
}

// Selects the pipeline once the process has recorded it, and says so when the process ended before finishing it.
void PipelinePage::checkProcess()
{
    Workspace* ws = m_session->workspace();
    if (!ws || m_pid <= 0) {
        m_processTimer.stop();
        return;
    }
    std::optional<PipelineRecord> p;
    try {
        p = PipelineStore(ws->db()).findByConfig(m_canonical);
    } catch (const std::exception& e) {
        report(QString::fromUtf8(e.what()));
    }
    if (p && m_selectWhenRecorded) {
        m_selectWhenRecorded = false;
        refresh();
        selectPipeline(p->id);
    }
    if (RunQueue::processAlive(m_pid))
        return;
    m_processTimer.stop();
    m_pid = 0;
    m_session->notifyChanged();
    if (!p || p->status != "finished")
        report(tr("tunebench-cli pipeline ended before the pipeline finished; its output (%1) ends with:\n%2")
                   .arg(m_log, RunQueue::tail(m_log, 12).trimmed()));
    else
        report(tr("Pipeline '%1' finished.").arg(userText(p->name)));
}

QString PipelinePage::measuresText() const
{
    return m_measures->text();
}

qint64 PipelinePage::selectedPipeline() const
{
    const auto rows = m_pipelines->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return 0;
    return m_pipelines->item(rows.first().row(), IdColumn)->data(Qt::UserRole).toLongLong();
}

bool PipelinePage::selectPipeline(qint64 id)
{
    for (int r = 0; r < m_pipelines->rowCount(); ++r) {
        if (m_pipelines->item(r, IdColumn)->data(Qt::UserRole).toLongLong() == id) {
            m_pipelines->selectRow(r);
            return true;
        }
    }
    return false;
}

void PipelinePage::refresh()
{
    const qint64 selected = selectedPipeline();
    const QSignalBlocker block(m_pipelines);
    m_pipelines->setRowCount(0);
    if (Workspace* ws = m_session->workspace()) {
        try {
            PipelineStore store(ws->db());
            for (const PipelineRecord& p : store.list()) {
                const auto stages = store.stages(p.id);
                const auto done = std::count_if(
                    stages.begin(), stages.end(), [](const PipelineStageRecord& s) { return s.status == "finished"; });
                const int row = m_pipelines->rowCount();
                m_pipelines->insertRow(row);
                auto* id = item(QString::number(p.id));
                id->setData(Qt::UserRole, static_cast<qlonglong>(p.id));
                m_pipelines->setItem(row, IdColumn, id);
                m_pipelines->setItem(row, NameColumn, item(userText(p.name)));
                m_pipelines->setItem(row, StatusColumn, item(QString::fromStdString(p.status)));
                m_pipelines->setItem(row, StagesColumn, item(QStringLiteral("%1 / %2").arg(done).arg(stages.size())));
            }
        } catch (const std::exception& e) {
            m_heading->setText(QString::fromUtf8(e.what()));
        }
    }
    if (!(selected && selectPipeline(selected)) && m_pipelines->rowCount() > 0)
        m_pipelines->selectRow(0);
    showPipeline();
}

void PipelinePage::showPipeline()
{
    m_stages->setRowCount(0);
    m_map->data()->clear();
    for (QCPItemText* text : m_cellTexts)
        m_plot->removeItem(text);
    m_cellTexts.clear();
    m_measures->clear();
    m_edit->setEnabled(selectedPipeline() != 0);
    m_resume->setEnabled(selectedPipeline() != 0);
    m_stop->setEnabled(processRunning());
    Workspace* ws = m_session->workspace();
    const qint64 id = selectedPipeline();
    if (!ws || !id) {
        m_heading->setText(ws
                ? tr("No pipelines yet: set one up with New pipeline, or run one with `tunebench-cli pipeline FILE`.")
                : QString());
        m_plot->replot();
        return;
    }
    ForgettingMatrix matrix;
    QStringList stageNames;
    try {
        PipelineStore store(ws->db());
        RunStore runs(ws->db());
        const auto p = store.find(id);
        m_heading->setText(p ? tr("%1 (%2)").arg(userText(p->name), QString::fromStdString(p->status)) : QString());
        for (const PipelineStageRecord& s : store.stages(id)) {
            stageNames << QString::fromStdString(s.name);
            const int row = m_stages->rowCount();
            m_stages->insertRow(row);
            const auto run = s.runId ? runs.find(*s.runId) : std::nullopt;
            m_stages->setItem(row, StageIndexColumn, item(QString::number(s.index + 1)));
            m_stages->setItem(row, StageNameColumn, item(userText(s.name)));
            m_stages->setItem(row, StageStatusColumn, item(QString::fromStdString(s.status)));
            m_stages->setItem(row, StageRunColumn,
                item(s.runId ? QStringLiteral("#%1 (%2)")
                                   .arg(*s.runId)
                                   .arg(run ? QString::fromUtf8(toString(run->status).data()) : tr("deleted"))
                             : QStringLiteral("-")));
            m_stages->setItem(row, StageFromColumn, item(startedFrom(s, run)));
            m_stages->setItem(row, StageModelColumn, item(QString::fromStdString(s.modelPath)));
        }
        matrix = store.matrix(id);
    } catch (const std::exception& e) {
        m_heading->setText(QString::fromUtf8(e.what()));
        return;
    }

    // Each column coloured between its worst (0) and best (1) value, so columns of different metrics compare.
    const int columns = static_cast<int>(matrix.columns.size());
    const int rows = static_cast<int>(matrix.rows.size());
    if (columns > 0 && rows > 0) {
        const auto quality = matrixQuality(matrix);
        m_map->data()->setSize(columns, rows);
        m_map->data()->setRange(QCPRange(0, columns - 1), QCPRange(0, rows - 1));
        for (int c = 0; c < columns; ++c) {
            for (int r = 0; r < rows; ++r) {
                const double q = quality[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)];
                m_map->data()->setCell(c, r, q);
                const double v = c < static_cast<int>(matrix.rows[static_cast<std::size_t>(r)].size())
                    ? matrix.rows[static_cast<std::size_t>(r)][static_cast<std::size_t>(c)]
                    : NAN;
                auto* text = new QCPItemText(m_plot);
                text->position->setType(QCPItemPosition::ptPlotCoords);
                text->position->setCoords(c, r);
                text->setPositionAlignment(Qt::AlignCenter);
                text->setText(std::isfinite(v) ? QString::number(v, 'f', 4) : QStringLiteral("-"));
                // Dark text on the thermal gradient's light end, light text on its dark end.
                text->setColor(std::isfinite(q) && q > 0.6 ? Qt::black : Qt::white);
                text->setClipToAxisRect(true);
                m_cellTexts.push_back(text);
            }
        }
        QSharedPointer<QCPAxisTickerText> x(new QCPAxisTickerText);
        for (int c = 0; c < columns; ++c)
            x->addTick(c,
                QString::fromStdString(matrix.columns[c].name) + "\n"
                    + QString::fromStdString(matrix.columns[c].metric));
        QSharedPointer<QCPAxisTickerText> y(new QCPAxisTickerText);
        for (int r = 0; r < rows; ++r)
            y->addTick(r, r == 0 ? tr("base") : tr("after %1").arg(stageNames.value(r - 1)));
        m_plot->xAxis->setTicker(x);
        m_plot->yAxis->setTicker(y);
        m_plot->xAxis->setRange(-0.5, columns - 0.5);
        m_plot->yAxis->setRange(-0.5, rows - 0.5);
    }
    QStringList lines;
    for (const ContinualMeasures& m : continualMeasures(matrix))
        lines << tr("%1 (%2 columns, after stage %3): average %4, backward transfer %5, forgetting %6, forward "
                    "transfer %7")
                     .arg(m.higherIsBetter ? tr("Higher is better") : tr("Lower is better"))
                     .arg(m.columns)
                     .arg(m.afterStage)
                     .arg(number(m.average), number(m.bwt), number(m.forgetting), number(m.fwt));
    m_measures->setText(lines.join('\n'));
    m_plot->replot();
}

} // namespace tunebench::ui
