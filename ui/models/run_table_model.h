#pragma once

#include "core/store/runs.h"
#include "ui/models/keyed_table_model.h"

#include <QHash>

#include <optional>

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
        DatasetColumn,
        FinalLossColumn, // last "loss"
        BestEvalColumn, // lowest "eval_loss"
        ColumnCount
    };

    explicit RunTableModel(WorkspaceSession* session, QObject* parent = nullptr);

    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    // Reloads through RunStore::list() (GUI thread, one short query). Rows are
    // matched by id, so selections survive. Returns false when the read failed.
    bool refresh();

private:
    struct RunMetrics {
        RunStatus status = RunStatus::Queued;
        std::optional<double> finalLoss;
        std::optional<double> bestEval;
    };
    // Dataset names and each run's final and best losses; a finished run's are read once.
    void refreshExtras();

    QHash<qint64, RunMetrics> m_metrics;
    QHash<qint64, QString> m_datasetNames;
};

} // namespace tunebench::ui
