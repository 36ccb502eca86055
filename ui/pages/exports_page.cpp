#include "ui/pages/exports_page.h"

#include "ui/models/artifact_table_model.h"
#include "ui/widgets/empty_state.h"
#include "ui/workspace_session.h"

#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QHeaderView>
#include <QMessageBox>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTableView>
#include <QUrl>
#include <QVBoxLayout>

namespace tunebench::ui {

ExportsPage::ExportsPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_model(new ArtifactTableModel(session, this))
    , m_proxy(new QSortFilterProxyModel(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(kSortRole);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("exportsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(ArtifactTableModel::IdColumn, Qt::DescendingOrder); // newest first
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    // The free width goes to the column whose text varies most, not to the last one.
    m_table->horizontalHeader()->setSectionResizeMode(ArtifactTableModel::PathColumn, QHeaderView::Stretch);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &ExportsPage::updateButtons);
    connect(m_table, &QTableView::doubleClicked, this, &ExportsPage::openFolder);

    m_openFolder = new QPushButton(tr("&Open Folder"));
    m_openFolder->setObjectName(QStringLiteral("exportsOpenFolder"));
    m_openFolder->setToolTip(tr("Open the folder that holds the selected export in the file manager"));
    connect(m_openFolder, &QPushButton::clicked, this, &ExportsPage::openFolder);

    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addWidget(m_table, 1);
    auto* buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_openFolder);
    contentLayout->addLayout(buttons);

    m_state = new EmptyState(content);
    m_state->setObjectName(QStringLiteral("exportsPageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_state);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &ExportsPage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &ExportsPage::refresh);
    reload();
}

QString ExportsPage::selectedFolder() const
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return {};
    const QString path = m_model->absolutePath(m_proxy->mapToSource(rows.first()).row());
    const QFileInfo info(path);
    return info.isDir() ? info.absoluteFilePath() : info.absolutePath();
}

void ExportsPage::reload()
{
    m_table->clearSelection();
    refresh();
    m_table->resizeColumnsToContents();
}

void ExportsPage::refresh()
{
    m_model->refresh();
    if (!m_session->isOpen()) {
        m_state->showMessage(EmptyState::noWorkspaceText());
    } else if (m_model->rowCount() == 0) {
        m_state->showMessage(tr("<p><b>Nothing exported yet.</b></p>"
                                "<p>Checkpoints, adapters, merged models and reports that runs produce "
                                "are listed here.</p>"));
    } else {
        m_state->showContent();
    }
    updateButtons();
}

void ExportsPage::updateButtons()
{
    m_openFolder->setEnabled(m_table->selectionModel()->hasSelection());
}

void ExportsPage::openFolder()
{
    const QString folder = selectedFolder();
    if (folder.isEmpty())
        return;
    if (!QFileInfo(folder).isDir()) {
        QMessageBox::warning(this, tr("Open Folder"),
            tr("The folder %1 does not exist any more.").arg(QDir::toNativeSeparators(folder)));
        return;
    }
    if (!QDesktopServices::openUrl(QUrl::fromLocalFile(folder)))
        m_session->reportError(tr("No file manager could open %1").arg(QDir::toNativeSeparators(folder)));
}

} // namespace tunebench::ui
