#pragma once

#include "core/store/artifacts.h"
#include "ui/models/keyed_table_model.h"

namespace tunebench::ui {

// Files and folders the runs produced (checkpoints, adapters, merged models, reports).
class ArtifactTableModel : public KeyedTableModel<ArtifactRecord> {
    Q_OBJECT

public:
    enum Column { IdColumn, RunColumn, KindColumn, PathColumn, CreatedColumn, ColumnCount };

    explicit ArtifactTableModel(WorkspaceSession* session, QObject* parent = nullptr);

    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Reloads through ArtifactStore::list(); same contract as RunTableModel::refresh().
    bool refresh();
    // The artifact's absolute path: stored paths are relative to the workspace root.
    QString absolutePath(int row) const;
};

} // namespace tunebench::ui
