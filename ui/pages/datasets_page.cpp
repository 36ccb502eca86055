#include "ui/pages/datasets_page.h"

#include "ui/models/dataset_table_model.h"
#include "ui/widgets/empty_state.h"
#include "ui/workspace_session.h"

#include <QHeaderView>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QVBoxLayout>

namespace tunebench::ui {

DatasetsPage::DatasetsPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_model(new DatasetTableModel(session, this))
    , m_proxy(new QSortFilterProxyModel(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(kSortRole);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("datasetsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(DatasetTableModel::IdColumn, Qt::AscendingOrder); // parents before children
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    // The free width goes to the column whose text varies most, not to the last one.
    m_table->horizontalHeader()->setSectionResizeMode(DatasetTableModel::NameColumn, QHeaderView::Stretch);

    m_state = new EmptyState(m_table);
    m_state->setObjectName(QStringLiteral("datasetsPageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_state);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &DatasetsPage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &DatasetsPage::refresh);
    reload();
}

void DatasetsPage::reload()
{
    m_table->clearSelection();
    refresh();
    m_table->resizeColumnsToContents();
}

void DatasetsPage::refresh()
{
    m_model->refresh();
    if (!m_session->isOpen()) {
        m_state->showMessage(EmptyState::noWorkspaceText());
    } else if (m_model->rowCount() == 0) {
        // Say plainly what exists today rather than point at a button that does not.
        m_state->showMessage(tr("<p><b>This workspace has no datasets yet.</b></p>"
                                "<p>Importing datasets (JSONL, JSON, CSV) is not available in this version. "
                                "Datasets recorded in the workspace by other tools are listed here, "
                                "with the dataset each one was derived from.</p>"));
    } else {
        m_state->showContent();
    }
}

} // namespace tunebench::ui
