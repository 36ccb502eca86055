#pragma once

#include "core/store/runs.h"
#include "ui/models/keyed_table_model.h"

namespace tunebench::ui {

// The workspace's runs, one row each, in store order (by id). Sorting and
// filtering belong to a proxy; kSortRole gives numbers for id, created and
// duration so they sort numerically.
class RunTableModel : public KeyedTableModel<RunRecord> {
    Q_OBJECT

public:
    enum Column {
        IdColumn,
        NameColumn,
        StatusColumn,
        AdapterColumn,
        ObjectiveColumn,
        ModelColumn,
        CreatedColumn,
        DurationColumn,
        ColumnCount
    };

    explicit RunTableModel(WorkspaceSession* session, QObject* parent = nullptr);

    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Reloads through RunStore::list() (GUI thread, one short query). Rows are
    // matched by id, so selections survive. Returns false when the read failed.
    bool refresh();
};

} // namespace tunebench::ui
