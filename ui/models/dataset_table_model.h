#pragma once

#include "core/store/datasets.h"
#include "ui/models/keyed_table_model.h"

namespace tunebench::ui {

// The workspace's datasets with their lineage: a derived dataset names its
// parent and the operation that made it from the parent.
class DatasetTableModel : public KeyedTableModel<DatasetRecord> {
    Q_OBJECT

public:
    enum Column {
        IdColumn,
        NameColumn,
        FormatColumn,
        RecordsColumn,
        SourceColumn,
        ParentColumn,
        OperationColumn,
        CreatedColumn,
        ColumnCount
    };

    explicit DatasetTableModel(WorkspaceSession* session, QObject* parent = nullptr);

    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Reloads through DatasetStore::list(); same contract as RunTableModel::refresh().
    bool refresh();

private:
    QString parentText(const DatasetRecord& dataset) const;
};

} // namespace tunebench::ui
