#include "ui/models/run_table_model.h"

#include "core/store/database.h"
#include "core/store/datasets.h"
#include "core/store/metrics.h"
#include "ui/models/display_format.h"
#include "ui/widgets/user_text.h"

#include <QColor>
#include <QFileInfo>

namespace tunebench::ui {

RunTableModel::RunTableModel(WorkspaceSession* session, QObject* parent)
    : KeyedTableModel(session, parent)
{ }

int RunTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunTableModel::data(const QModelIndex& index, int role) const
{
    const RunRecord* run = recordAt(index.row());
    if (!run || !index.isValid())
        return {};
    if (role == kIdRole)
        return QVariant::fromValue<qint64>(run->id);

    const auto column = static_cast<Column>(index.column());
    if (role == Qt::DisplayRole || role == kSortRole) {
        const bool sort = role == kSortRole;
        switch (column) {
        case IdColumn:
            return QVariant::fromValue<qint64>(run->id);
        case NameColumn:
            return userText(run->name);
        case StatusColumn: {
            const std::string_view status = toString(run->status);
            return QString::fromUtf8(status.data(), static_cast<qsizetype>(status.size()));
        }
        case AdapterColumn:
            return orDash(run->adapter);
        case ObjectiveColumn:
            return orDash(run->objective);
        case ModelColumn:
            // The folder name tells models apart; the full path is in the tooltip.
            return run->modelPath.empty() ? orDash(run->modelPath)
                                          : userText(QFileInfo(QString::fromStdString(run->modelPath)).fileName());
        case CreatedColumn:
            return sort ? QVariant(run->createdAt) : QVariant(formatTime(run->createdAt));
        case DurationColumn:
            if (sort)
                return run->startedAt ? run->finishedAt.value_or(nowSeconds()) - *run->startedAt : -1.0;
            return formatDuration(run->startedAt, run->finishedAt, nowSeconds());
        case DatasetColumn:
            if (!run->datasetId)
                return orDash({});
            return m_datasetNames.value(*run->datasetId, QStringLiteral("#%1").arg(*run->datasetId));
        case FinalLossColumn:
        case BestEvalColumn: {
            const auto it = m_metrics.constFind(run->id);
            const std::optional<double> value
                = it == m_metrics.cend() ? std::nullopt : (column == FinalLossColumn ? it->finalLoss : it->bestEval);
            if (sort)
                return value ? QVariant(*value) : QVariant();
            return value ? QString::number(*value, 'f', 4) : orDash({});
        }
        case ColumnCount:
            break;
        }
        return {};
    }
    if (role == Qt::ToolTipRole) {
        if (column == StatusColumn && !run->error.empty())
            return userToolTip(run->error);
        if (column == ModelColumn)
            return userToolTip(run->modelPath);
        return {};
    }
    if (role == Qt::ForegroundRole && column == StatusColumn) {
        switch (run->status) {
        case RunStatus::Failed:
            return QColor(0xc6, 0x28, 0x28);
        case RunStatus::Running:
            return QColor(0x15, 0x65, 0xc0);
        default:
            return {};
        }
    }
    if (role == Qt::TextAlignmentRole
        && (column == IdColumn || column == DurationColumn || column == FinalLossColumn || column == BestEvalColumn))
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant RunTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (static_cast<Column>(section)) {
    case IdColumn:
        return tr("ID");
    case NameColumn:
        return tr("Name");
    case StatusColumn:
        return tr("Status");
    case AdapterColumn:
        return tr("Adapter");
    case ObjectiveColumn:
        return tr("Objective");
    case ModelColumn:
        return tr("Model");
    case CreatedColumn:
        return tr("Created");
    case DurationColumn:
        return tr("Duration");
    case DatasetColumn:
        return tr("Dataset");
    case FinalLossColumn:
        return tr("Final loss");
    case BestEvalColumn:
        return tr("Best eval loss");
    case ColumnCount:
        break;
    }
    return {};
}

bool RunTableModel::refresh()
{
    if (!reload([](Workspace& ws) { return RunStore(ws.db()).list(); }, "the runs"))
        return false;
    refreshExtras();
    return true;
}

void RunTableModel::refreshExtras()
{
    Workspace* ws = m_session->workspace();
    if (!ws) {
        m_metrics.clear();
        m_datasetNames.clear();
        return;
    }
    try {
        m_datasetNames.clear();
        for (const DatasetRecord& d : DatasetStore(ws->db()).list())
            m_datasetNames.insert(d.id, userText(d.name));
        const MetricQuery query(ws->db());
        QHash<qint64, RunMetrics> fresh;
        for (const RunRecord& run : m_records) {
            const bool settled = run.status == RunStatus::Finished || run.status == RunStatus::Failed
                || run.status == RunStatus::Cancelled;
            const auto cached = m_metrics.constFind(run.id);
            if (settled && cached != m_metrics.cend() && cached->status == run.status) {
                fresh.insert(run.id, *cached);
                continue;
            }
            RunMetrics m;
            m.status = run.status;
            for (const MetricSummary& s : query.summary(run.id)) {
                if (s.name == "loss")
                    m.finalLoss = s.last;
                else if (s.name == "eval_loss")
                    m.bestEval = s.min;
            }
            fresh.insert(run.id, m);
        }
        m_metrics = std::move(fresh);
    } catch (const std::exception& e) {
        m_session->reportError(tr("Cannot read the runs' metrics: %1").arg(QString::fromUtf8(e.what())));
        return;
    }
    if (rowCount() > 0)
        Q_EMIT dataChanged(index(0, DatasetColumn), index(rowCount() - 1, BestEvalColumn));
}

} // namespace tunebench::ui
