#include "ui/models/artifact_table_model.h"

#include "ui/models/display_format.h"
#include "ui/widgets/user_text.h"

#include <QDir>

namespace tunebench::ui {

ArtifactTableModel::ArtifactTableModel(WorkspaceSession* session, QObject* parent)
    : KeyedTableModel(session, parent)
{ }

int ArtifactTableModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QString ArtifactTableModel::absolutePath(int row) const
{
    const ArtifactRecord* artifact = recordAt(row);
    if (!artifact)
        return {};
    const QString path = QString::fromStdString(artifact->path);
    return QDir::cleanPath(QDir(m_session->rootPath()).absoluteFilePath(path));
}

QVariant ArtifactTableModel::data(const QModelIndex& index, int role) const
{
    const ArtifactRecord* artifact = recordAt(index.row());
    if (!artifact || !index.isValid())
        return {};
    if (role == kIdRole)
        return QVariant::fromValue<qint64>(artifact->id);

    const auto column = static_cast<Column>(index.column());
    if (role == Qt::DisplayRole || role == kSortRole) {
        const bool sort = role == kSortRole;
        switch (column) {
        case IdColumn:
            return QVariant::fromValue<qint64>(artifact->id);
        case RunColumn:
            if (sort)
                return QVariant::fromValue<qint64>(artifact->runId.value_or(0));
            // Workspace-level exports (a comparison report) belong to no run.
            return artifact->runId ? QStringLiteral("#%1").arg(*artifact->runId) : tr("workspace");
        case KindColumn:
            return orDash(artifact->kind);
        case PathColumn:
            return userText(artifact->path);
        case CreatedColumn:
            return sort ? QVariant(artifact->createdAt) : QVariant(formatTime(artifact->createdAt));
        case ColumnCount:
            break;
        }
        return {};
    }
    if (role == Qt::ToolTipRole && column == PathColumn)
        return userToolTip(absolutePath(index.row()));
    if (role == Qt::TextAlignmentRole && column == IdColumn)
        return QVariant(Qt::AlignRight | Qt::AlignVCenter);
    return {};
}

QVariant ArtifactTableModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    switch (static_cast<Column>(section)) {
    case IdColumn:
        return tr("ID");
    case RunColumn:
        return tr("Run");
    case KindColumn:
        return tr("Kind");
    case PathColumn:
        return tr("Path");
    case CreatedColumn:
        return tr("Created");
    case ColumnCount:
        break;
    }
    return {};
}

bool ArtifactTableModel::refresh()
{
    return reload([](Workspace& ws) { return ArtifactStore(ws.db()).list(); }, "the exports");
}

} // namespace tunebench::ui
