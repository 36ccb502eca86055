#include "ui/pages/pipeline_page.h"

#include "ui/workspace_session.h"

#include "core/pipeline/forgetting_matrix.h"
#include "core/pipeline/pipeline_store.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"

#include <QHeaderView>
#include <QLabel>
#include <QSplitter>
#include <QTableWidget>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace tunebench::ui {

namespace {

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

} // namespace

PipelinePage::PipelinePage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
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

    auto* lower = new QWidget;
    auto* lowerLayout = new QVBoxLayout(lower);
    lowerLayout->setContentsMargins(0, 0, 0, 0);
    lowerLayout->addWidget(m_heading);
    lowerLayout->addWidget(m_stages);
    lowerLayout->addWidget(m_plot, 1);
    lowerLayout->addWidget(m_measures);
    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_pipelines);
    split->addWidget(lower);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(split, 1);

    connect(m_pipelines, &QTableWidget::itemSelectionChanged, this, &PipelinePage::showPipeline);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &PipelinePage::refresh);
    connect(m_session, &WorkspaceSession::changed, this, &PipelinePage::refresh);
    refresh();
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
                m_pipelines->setItem(row, NameColumn, item(QString::fromStdString(p.name)));
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
    m_measures->clear();
    Workspace* ws = m_session->workspace();
    const qint64 id = selectedPipeline();
    if (!ws || !id) {
        m_heading->setText(ws ? tr("No pipelines yet: run one with `tunebench-cli pipeline FILE`.") : QString());
        m_plot->replot();
        return;
    }
    ForgettingMatrix matrix;
    QStringList stageNames;
    try {
        PipelineStore store(ws->db());
        RunStore runs(ws->db());
        const auto p = store.find(id);
        m_heading->setText(
            p ? tr("%1 (%2)").arg(QString::fromStdString(p->name), QString::fromStdString(p->status)) : QString());
        for (const PipelineStageRecord& s : store.stages(id)) {
            stageNames << QString::fromStdString(s.name);
            const int row = m_stages->rowCount();
            m_stages->insertRow(row);
            const auto run = s.runId ? runs.find(*s.runId) : std::nullopt;
            m_stages->setItem(row, StageIndexColumn, item(QString::number(s.index + 1)));
            m_stages->setItem(row, StageNameColumn, item(QString::fromStdString(s.name)));
            m_stages->setItem(row, StageStatusColumn, item(QString::fromStdString(s.status)));
            m_stages->setItem(row, StageRunColumn,
                item(s.runId ? QStringLiteral("#%1 (%2)")
                                   .arg(*s.runId)
                                   .arg(run ? QString::fromUtf8(toString(run->status).data()) : tr("deleted"))
                             : QStringLiteral("-")));
            m_stages->setItem(row, StageFromColumn,
                item(s.parentRunId ? QStringLiteral("#%1").arg(*s.parentRunId) : tr("base model")));
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
        m_map->data()->setSize(columns, rows);
        m_map->data()->setRange(QCPRange(0, columns - 1), QCPRange(0, rows - 1));
        for (int c = 0; c < columns; ++c) {
            double low = INFINITY, high = -INFINITY;
            for (int r = 0; r < rows; ++r) {
                const double v = matrix.rows[r][c];
                if (std::isfinite(v)) {
                    low = std::min(low, v);
                    high = std::max(high, v);
                }
            }
            for (int r = 0; r < rows; ++r) {
                const double v = matrix.rows[r][c];
                double q = NAN;
                if (std::isfinite(v))
                    q = high > low ? (v - low) / (high - low) : 1.0;
                if (std::isfinite(q) && !matrix.columns[c].higherIsBetter)
                    q = 1.0 - q;
                m_map->data()->setCell(c, r, q);
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
