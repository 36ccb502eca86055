#pragma once

#include <QWidget>

class QPushButton;
class QSortFilterProxyModel;
class QTableView;

namespace tunebench::ui {

class ArtifactTableModel;
class EmptyState;
class WorkspaceSession;

// What the runs produced (checkpoints, adapters, merged models, reports), with
// a way to open the folder that holds the selected one.
class ExportsPage : public QWidget {
    Q_OBJECT

public:
    explicit ExportsPage(WorkspaceSession* session, QWidget* parent = nullptr);

    ArtifactTableModel* model() const { return m_model; }
    // The folder "Open folder" opens for the selected row: the artifact itself
    // when it is a folder, else the folder holding it. Empty without a selection.
    QString selectedFolder() const;

private:
    void reload();
    void refresh();
    void updateButtons();
    void openFolder();

    WorkspaceSession* m_session;
    ArtifactTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_table;
    QPushButton* m_openFolder;
    EmptyState* m_state;
};

} // namespace tunebench::ui
