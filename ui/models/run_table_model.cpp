#include "ui/models/run_table_model.h"

#include "core/store/database.h"
#include "ui/models/display_format.h"

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
            return QString::fromStdString(run->name);
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
                                          : QFileInfo(QString::fromStdString(run->modelPath)).fileName();
        case CreatedColumn:
            return sort ? QVariant(run->createdAt) : QVariant(formatTime(run->createdAt));
        case DurationColumn:
            if (sort)
                return run->startedAt ? run->finishedAt.value_or(nowSeconds()) - *run->startedAt : -1.0;
            return formatDuration(run->startedAt, run->finishedAt, nowSeconds());
        case ColumnCount:
            break;
        }
        return {};
    }
    if (role == Qt::ToolTipRole) {
        if (column == StatusColumn && !run->error.empty())
            return QString::fromStdString(run->error);
        if (column == ModelColumn)
            return QString::fromStdString(run->modelPath);
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
    if (role == Qt::TextAlignmentRole && (column == IdColumn || column == DurationColumn))
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
    case ColumnCount:
        break;
    }
    return {};
}

bool RunTableModel::refresh()
{
    return reload([](Workspace& ws) { return RunStore(ws.db()).list(); }, "the runs");
}

} // namespace tunebench::ui
