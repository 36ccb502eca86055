#include "ui/models/dataset_table_model.h"

#include "ui/models/display_format.h"
#include "ui/widgets/user_text.h"

#include <QFileInfo>

namespace tunebench::ui {

DatasetTableModel::DatasetTableModel(WorkspaceSession* session, QObject* parent)
    : KeyedTableModel(session, parent)
{ }

int DatasetTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString DatasetTableModel::parentText(const DatasetRecord& dataset) const
{
    if (!dataset.parentId)
        return orDash({});
    const int row = rowOf(*dataset.parentId);
    const QString id = QStringLiteral("#%1").arg(*dataset.parentId);
    return row < 0 ? id : id + QLatin1Char(' ') + userText(m_records[static_cast<std::size_t>(row)].name);
}

QVariant DatasetTableModel::data(const QModelIndex& index, int role) const
{
    const DatasetRecord* ds = recordAt(index.row());
    if (!ds || !index.isValid())
        return {};
    if (role == kIdRole)
        return QVariant::fromValue<qint64>(ds->id);

    const auto column = static_cast<Column>(index.column());
    if (role == Qt::DisplayRole || role == kSortRole) {
        const bool sort = role == kSortRole;
        switch (column) {
        case IdColumn:
            return QVariant::fromValue<qint64>(ds->id);
        case NameColumn:
            return userText(ds->name);
        case FormatColumn:
            return orDash(ds->format);
        case RecordsColumn:
            return QVariant::fromValue<qint64>(ds->records);
        case SourceColumn:
            return ds->sourcePath.empty() ? orDash(ds->sourcePath)
                                          : userText(QFileInfo(QString::fromStdString(ds->sourcePath)).fileName());
        case ParentColumn:
            if (sort)
                return QVariant::fromValue<qint64>(ds->parentId.value_or(0));
            return parentText(*ds);
        case OperationColumn:
            return orDash(ds->operation);
        case CreatedColumn:
            return sort ? QVariant(ds->createdAt) : QVariant(formatTime(ds->createdAt));
        case ColumnCount:
            break;
        }
        return {};
    }
    if (role == Qt::ToolTipRole) {
        if (column == SourceColumn)
            return userToolTip(ds->sourcePath);
        if (column == OperationColumn)
            return userToolTip(tr("Parameters: %1").arg(QString::fromStdString(ds->paramsJson)));
        if (column == NameColumn && !ds->contentHash.empty())
            return userToolTip(tr("Content hash: %1").arg(QString::fromStdString(ds->contentHash)));
        return {};
    }
    if (role == Qt::TextAlignmentRole && (column == IdColumn || column == RecordsColumn))
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant DatasetTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (static_cast<Column>(section)) {
    case IdColumn:
        return tr("ID");
    case NameColumn:
        return tr("Name");
    case FormatColumn:
        return tr("Format");
    case RecordsColumn:
        return tr("Records");
    case SourceColumn:
        return tr("Source");
    case ParentColumn:
        return tr("Parent");
    case OperationColumn:
        return tr("Operation");
    case CreatedColumn:
        return tr("Created");
    case ColumnCount:
        break;
    }
    return {};
}

bool DatasetTableModel::refresh()
{
    return reload([](Workspace& ws) { return DatasetStore(ws.db()).list(); }, "the datasets");
}

} // namespace tunebench::ui
