#include "ui/pages/exports_page.h"

#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/dialogs/export_dialog.h"
#include "ui/dialogs/report_dialog.h"
#include "ui/models/artifact_table_model.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QCoreApplication>
#include <QDesktopServices>
#include <QDir>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMessageBox>
#include <QProgressBar>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QStandardPaths>
#include <QTableView>
#include <QTimer>
#include <QUrl>
#include <QVBoxLayout>

namespace tunebench::ui {

namespace {

constexpr int kKillAfterMs = 3000;

QString defaultCli()
{
    const QString beside = QDir(QCoreApplication::applicationDirPath()).filePath(QStringLiteral("tunebench-cli"));
    if (QFileInfo(beside).isExecutable())
        return beside;
    const QString onPath = QStandardPaths::findExecutable(QStringLiteral("tunebench-cli"));
    return onPath.isEmpty() ? beside : onPath;
}

} // namespace

ExportsPage::ExportsPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_model(new ArtifactTableModel(session, this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_cli(defaultCli())
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

    // The actions: each opens a dialog, then runs tunebench-cli.
    auto action = [](const QString& text, const char* name, const QString& tip) {
        auto* b = new QPushButton(text);
        b->setObjectName(QString::fromLatin1(name));
        b->setToolTip(tip);
        return b;
    };
    m_exportRun = action(tr("&Export Run\u2026"), "exportsExportRun",
        tr("Write a run as a merged model folder, a PEFT adapter or a GGUF file"));
    m_merge = action(tr("&Merge Runs\u2026"), "exportsMerge",
        tr("Merge the adapters of several runs (soups, task arithmetic, TIES, Breadcrumbs, LiNeS) into a new run"));
    m_report = action(tr("Write &Report\u2026"), "exportsReport",
        tr("An HTML, PDF or Markdown report on one run or a comparison of runs"));
    m_metrics
        = action(tr("Export M&etrics\u2026"), "exportsMetrics", tr("The recorded metrics of runs as CSV or JSON"));
    connect(m_exportRun, &QPushButton::clicked, this, [this] {
        const QList<qint64> ids = selectedRunIds();
        exportRun(ids.isEmpty() ? 0 : ids.first());
    });
    connect(m_merge, &QPushButton::clicked, this, [this] { mergeRuns(); });
    connect(m_report, &QPushButton::clicked, this, [this] { writeReport(selectedRunIds()); });
    connect(m_metrics, &QPushButton::clicked, this, [this] { exportMetrics(selectedRunIds()); });
    auto* actions = new QHBoxLayout;
    for (QPushButton* b : { m_exportRun, m_merge, m_report, m_metrics })
        actions->addWidget(b);
    actions->addStretch();

    // Busy state of the running action.
    m_busy = new QWidget;
    m_busy->setObjectName(QStringLiteral("exportsBusy"));
    m_busyLabel = new QLabel;
    m_busyLabel->setObjectName(QStringLiteral("exportsBusyLabel"));
    makePlainLabel(m_busyLabel);
    m_busyBar = new QProgressBar;
    m_busyBar->setRange(0, 0); // the CLI reports no progress: an indeterminate bar
    m_busyBar->setMaximumWidth(220);
    m_cancel = new QPushButton(tr("&Cancel"));
    m_cancel->setObjectName(QStringLiteral("exportsCancel"));
    connect(m_cancel, &QPushButton::clicked, this, &ExportsPage::cancelTask);
    auto* busyLayout = new QHBoxLayout(m_busy);
    busyLayout->setContentsMargins(0, 0, 0, 0);
    busyLayout->addWidget(m_busyLabel, 1);
    busyLayout->addWidget(m_busyBar);
    busyLayout->addWidget(m_cancel);
    m_busy->hide();

    m_message = new QLabel;
    m_message->setObjectName(QStringLiteral("exportsMessage"));
    m_message->setWordWrap(true);
    makePlainLabel(m_message); // the CLI's messages quote names and paths
    m_message->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_message->hide();

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
    layout->addLayout(actions);
    layout->addWidget(m_busy);
    layout->addWidget(m_message);
    layout->addWidget(m_state, 1);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &ExportsPage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &ExportsPage::refresh);
    reload();
}

ExportsPage::~ExportsPage()
{
    if (m_process) {
        // An export must not outlive the window half-written: stop it.
        m_process->disconnect(this);
        m_process->kill();
        m_process->waitForFinished(kKillAfterMs);
    }
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

QList<qint64> ExportsPage::selectedRunIds() const
{
    QList<qint64> ids;
    const QModelIndexList rows = m_table->selectionModel()->selectedRows(ArtifactTableModel::RunColumn);
    for (const QModelIndex& row : rows) {
        bool ok = false;
        const qint64 id = row.data(Qt::DisplayRole).toString().remove(QLatin1Char('#')).toLongLong(&ok);
        if (ok && id > 0)
            ids << id;
    }
    return ids;
}

QList<RunChoice> ExportsPage::runChoices() const
{
    QList<RunChoice> out;
    if (!m_session->isOpen())
        return out;
    try {
        for (const RunRecord& r : RunStore(m_session->workspace()->db()).list()) {
            out.append({ r.id,
                QStringLiteral("#%1 %2 (%3)")
                    .arg(r.id)
                    .arg(userText(r.name), QString::fromStdString(std::string(toString(r.status)))) });
        }
    } catch (const std::exception& e) {
        m_session->reportError(tr("Cannot read the runs: %1").arg(QString::fromUtf8(e.what())));
    }
    return out;
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
                                "are listed here. Use the buttons above to export a run, merge runs, "
                                "write a report or export metrics.</p>"));
    } else {
        m_state->showContent();
    }
    updateButtons();
}

void ExportsPage::updateButtons()
{
    m_openFolder->setEnabled(m_table->selectionModel()->hasSelection());
    const bool ready = m_session->isOpen() && !isBusy();
    for (QPushButton* b : { m_exportRun, m_merge, m_report, m_metrics })
        b->setEnabled(ready);
}

void ExportsPage::openFolder()
{
    const QString folder = selectedFolder();
    if (folder.isEmpty())
        return;
    if (!QFileInfo(folder).isDir()) {
        QMessageBox box(QMessageBox::Warning, tr("Open Folder"),
            tr("The folder %1 does not exist any more.").arg(userText(QDir::toNativeSeparators(folder))),
            QMessageBox::Ok, this);
        box.setTextFormat(Qt::PlainText);
        box.exec();
        return;
    }
    if (!QDesktopServices::openUrl(QUrl::fromLocalFile(folder)))
        m_session->reportError(tr("No file manager could open %1").arg(QDir::toNativeSeparators(folder)));
}

void ExportsPage::writeReport(const QList<qint64>& runIds)
{
    if (!m_session->isOpen() || isBusy())
        return;
    auto* dialog = new ReportDialog(runChoices(), m_session->rootPath(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setRunsChecked(runIds);
    connect(
        dialog, &QDialog::accepted, this, [this, dialog] { startTask(dialog->arguments(), dialog->description()); });
    dialog->open();
}

void ExportsPage::exportRun(qint64 runId)
{
    if (!m_session->isOpen() || isBusy())
        return;
    auto* dialog = new ExportDialog(ExportDialog::ExportRun, runChoices(), m_session->rootPath(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    if (runId > 0)
        dialog->setRunsChecked({ runId });
    connect(
        dialog, &QDialog::accepted, this, [this, dialog] { startTask(dialog->arguments(), dialog->description()); });
    dialog->open();
}

void ExportsPage::mergeRuns(const QList<qint64>& runIds)
{
    if (!m_session->isOpen() || isBusy())
        return;
    auto* dialog = new ExportDialog(ExportDialog::MergeRuns, runChoices(), m_session->rootPath(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setRunsChecked(runIds);
    connect(
        dialog, &QDialog::accepted, this, [this, dialog] { startTask(dialog->arguments(), dialog->description()); });
    dialog->open();
}

void ExportsPage::exportMetrics(const QList<qint64>& runIds)
{
    if (!m_session->isOpen() || isBusy())
        return;
    auto* dialog = new ExportDialog(ExportDialog::ExportMetrics, runChoices(), m_session->rootPath(), this);
    dialog->setAttribute(Qt::WA_DeleteOnClose);
    dialog->setRunsChecked(runIds);
    connect(
        dialog, &QDialog::accepted, this, [this, dialog] { startTask(dialog->arguments(), dialog->description()); });
    dialog->open();
}

bool ExportsPage::startTask(const QStringList& args, const QString& description)
{
    if (isBusy() || !m_session->isOpen() || args.isEmpty())
        return false;
    m_description = description;
    m_lastOutput.clear();
    m_lastError.clear();
    m_message->hide();
    m_process = new QProcess(this);
    m_process->setProgram(m_cli);
    m_process->setArguments(args + QStringList { QStringLiteral("--workspace"), m_session->rootPath() });
    connect(m_process, &QProcess::finished, this, &ExportsPage::taskEnded);
    connect(m_process, &QProcess::errorOccurred, this, [this](QProcess::ProcessError error) {
        if (error == QProcess::FailedToStart)
            failTask(tr("Cannot run %1: %2").arg(QDir::toNativeSeparators(m_cli), m_process->errorString()));
    });
    m_busyLabel->setText(description + QStringLiteral("\u2026"));
    m_busy->show();
    updateButtons();
    m_process->start();
    return true;
}

void ExportsPage::cancelTask()
{
    if (!m_process)
        return;
    m_lastError = tr("Cancelled.");
    m_process->terminate();
    QTimer::singleShot(kKillAfterMs, m_process, &QProcess::kill);
}

void ExportsPage::taskEnded(int exitCode, QProcess::ExitStatus status)
{
    QProcess* process = m_process;
    m_lastOutput = QString::fromUtf8(process->readAllStandardOutput());
    const QString err = QString::fromUtf8(process->readAllStandardError()).trimmed();
    const bool ok = status == QProcess::NormalExit && exitCode == 0;
    if (ok) {
        m_lastError.clear();
    } else {
        const QString reason = !m_lastError.isEmpty() ? m_lastError
            : !err.isEmpty()                          ? err
            : status == QProcess::CrashExit           ? tr("tunebench-cli crashed.")
                                                      : tr("tunebench-cli exited with code %1.").arg(exitCode);
        m_lastError = reason;
    }
    m_process = nullptr;
    process->deleteLater();
    m_busy->hide();
    if (ok) {
        m_message->setText(tr("Done: %1.").arg(m_description));
        m_message->setStyleSheet(QString());
    } else {
        m_message->setText(tr("%1 failed:\n%2").arg(m_description, userText(m_lastError, /*multiLine=*/true)));
        m_message->setStyleSheet(QStringLiteral("color: #b71c1c;"));
    }
    m_message->show();
    refresh();
    Q_EMIT taskFinished(ok, ok ? err : m_lastError);
}

void ExportsPage::failTask(const QString& message)
{
    QProcess* process = m_process;
    if (!process)
        return;
    m_lastError = message;
    m_process = nullptr;
    process->deleteLater();
    m_busy->hide();
    m_message->setText(tr("%1 failed:\n%2").arg(m_description, userText(message, /*multiLine=*/true)));
    m_message->setStyleSheet(QStringLiteral("color: #b71c1c;"));
    m_message->show();
    updateButtons();
    Q_EMIT taskFinished(false, message);
}

} // namespace tunebench::ui
