#pragma once

#include <QWidget>

class QSortFilterProxyModel;
class QTableView;

namespace tunebench::ui {

class DatasetTableModel;
class EmptyState;
class WorkspaceSession;

// The datasets recorded in the workspace, with their lineage (parent and the
// operation that derived them). Read-only: importing is not offered yet.
class DatasetsPage : public QWidget {
    Q_OBJECT

public:
    explicit DatasetsPage(WorkspaceSession* session, QWidget* parent = nullptr);

    DatasetTableModel* model() const { return m_model; }

private:
    void reload();
    void refresh();

    WorkspaceSession* m_session;
    DatasetTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_table;
    EmptyState* m_state;
};

} // namespace tunebench::ui
