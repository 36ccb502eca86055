#include "ui/pages/runs_page.h"

#include "core/store/metrics.h"
#include "core/store/runs.h"
#include "core/store/workspace.h"
#include "ui/models/run_table_model.h"
#include "ui/run_queue.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/metric_plot.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QComboBox>
#include <QFontDatabase>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QMessageBox>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStyle>
#include <QTabWidget>
#include <QTableView>
#include <QTextCursor>
#include <QVBoxLayout>

#include <nlohmann/json.hpp>

#include <exception>
#include <filesystem>

namespace tunebench::ui {

namespace {

QString prettyJson(const std::string& text)
{
    const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    return QString::fromStdString(parsed.is_discarded() ? text : parsed.dump(2));
}

// "loss" when the run has it, else the first loss-like metric, else the first.
int preferredMetric(const QStringList& names)
{
    if (const int exact = names.indexOf(QStringLiteral("loss")); exact >= 0)
        return exact;
    for (int i = 0; i < names.size(); ++i) {
        if (names[i].contains(QStringLiteral("loss")))
            return i;
    }
    return names.isEmpty() ? -1 : 0;
}

} // namespace

RunsPage::RunsPage(WorkspaceSession* session, RunQueue* queue, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_queue(queue)
    , m_model(new RunTableModel(session, this))
    , m_proxy(new QSortFilterProxyModel(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(kSortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);

    auto* content = new QWidget;
    m_filter = new QLineEdit;
    m_filter->setObjectName(QStringLiteral("runsFilter"));
    m_filter->setPlaceholderText(tr("Filter runs by any column\u2026"));
    m_filter->setClearButtonEnabled(true);
    connect(m_filter, &QLineEdit::textChanged, m_proxy, &QSortFilterProxyModel::setFilterFixedString);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("runsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(RunTableModel::IdColumn, Qt::DescendingOrder); // newest first
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    // The free width goes to the column whose text varies most, not to the last one.
    m_table->horizontalHeader()->setSectionResizeMode(RunTableModel::NameColumn, QHeaderView::Stretch);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &RunsPage::showSelectedRun);
    connect(m_table, &QTableView::doubleClicked, this,
        [this](const QModelIndex& index) { Q_EMIT monitorRequested(index.data(kIdRole).value<qint64>()); });

    // Actions on the selected run.
    auto button = [this](const QString& name, const QString& text, QStyle::StandardPixmap icon, const QString& tip) {
        auto* b = new QPushButton(style()->standardIcon(icon), text);
        b->setObjectName(name);
        b->setToolTip(tip);
        return b;
    };
    m_startButton = button(QStringLiteral("runStartButton"), tr("Start"), QStyle::SP_MediaPlay,
        tr("Queue the run: it starts when no other run is active"));
    m_stopButton = button(QStringLiteral("runStopButton"), tr("Stop"), QStyle::SP_MediaStop,
        tr("Stop after the current step, with a checkpoint (or take a waiting run out of the queue)"));
    m_resumeButton = button(QStringLiteral("runResumeButton"), tr("Resume"), QStyle::SP_MediaSeekForward,
        tr("Continue a stopped or failed run from its newest checkpoint"));
    m_duplicateButton = button(QStringLiteral("runDuplicateButton"), tr("Duplicate\u2026"),
        QStyle::SP_FileDialogNewFolder, tr("A new run with this configuration, opened in Run Setup"));
    m_deleteButton = button(QStringLiteral("runDeleteButton"), tr("Delete\u2026"), QStyle::SP_TrashIcon,
        tr("Delete the run with its metrics and files"));
    m_monitorButton = button(QStringLiteral("runMonitorButton"), tr("Monitor"), QStyle::SP_ComputerIcon,
        tr("Follow the run live (also: double-click)"));
    auto selected = [this](auto action) {
        return [this, action] {
            if (const auto id = selectedRunId())
                (this->*action)(*id, nullptr);
        };
    };
    connect(m_startButton, &QPushButton::clicked, this, selected(&RunsPage::startRun));
    connect(m_stopButton, &QPushButton::clicked, this, selected(&RunsPage::stopRun));
    connect(m_resumeButton, &QPushButton::clicked, this, selected(&RunsPage::resumeRun));
    connect(m_duplicateButton, &QPushButton::clicked, this, selected(&RunsPage::duplicateRun));
    connect(m_deleteButton, &QPushButton::clicked, this, selected(&RunsPage::deleteRun));
    connect(m_monitorButton, &QPushButton::clicked, this, [this] {
        if (const auto id = selectedRunId())
            Q_EMIT monitorRequested(*id);
    });
    m_actionStatus = new QLabel;
    m_actionStatus->setObjectName(QStringLiteral("runActionStatus"));
    m_actionStatus->setWordWrap(true);
    makePlainLabel(m_actionStatus); // messages quote names and errors
    auto* actions = new QHBoxLayout;
    for (QPushButton* b :
        { m_startButton, m_stopButton, m_resumeButton, m_duplicateButton, m_deleteButton, m_monitorButton })
        actions->addWidget(b);
    actions->addWidget(m_actionStatus, 1);
    if (m_queue)
        connect(m_queue, &RunQueue::queueChanged, this, &RunsPage::updateActions);

    // Details of the selected run: title, metric plot and configuration.
    auto* details = new QWidget;
    m_title = new QLabel;
    m_title->setObjectName(QStringLiteral("runTitle"));
    m_title->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_title->setWordWrap(true);
    m_title->setTextFormat(Qt::RichText); // its markup is ours; the run's name and error are escaped
    m_metricCombo = new QComboBox;
    m_metricCombo->setObjectName(QStringLiteral("runMetricCombo"));
    m_metricCombo->setSizeAdjustPolicy(QComboBox::AdjustToContents);
    connect(m_metricCombo, &QComboBox::currentTextChanged, this, &RunsPage::loadMetric);
    m_plot = new MetricPlot;
    m_plot->setObjectName(QStringLiteral("runMetricPlot"));
    m_plotState = new EmptyState(m_plot);
    auto* plotPanel = new QWidget;
    auto* plotLayout = new QVBoxLayout(plotPanel);
    plotLayout->setContentsMargins(0, 0, 0, 0);
    auto* metricRow = new QHBoxLayout;
    auto* metricLabel = new QLabel(tr("&Metric:"));
    metricLabel->setBuddy(m_metricCombo);
    metricRow->addWidget(metricLabel);
    metricRow->addWidget(m_metricCombo);
    metricRow->addStretch();
    plotLayout->addLayout(metricRow);
    plotLayout->addWidget(m_plotState, 1);

    m_config = new QPlainTextEdit;
    m_config->setObjectName(QStringLiteral("runConfig"));
    m_config->setReadOnly(true);
    m_config->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_config->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_log = new QPlainTextEdit;
    m_log->setObjectName(QStringLiteral("runLog"));
    m_log->setReadOnly(true);
    m_log->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_log->setLineWrapMode(QPlainTextEdit::NoWrap);
    auto* configPanel = new QTabWidget;
    configPanel->setObjectName(QStringLiteral("runDetailTabs"));
    configPanel->addTab(m_config, tr("Configuration"));
    configPanel->addTab(m_log, tr("Worker log"));

    auto* detailSplit = new QSplitter(Qt::Horizontal);
    detailSplit->addWidget(plotPanel);
    detailSplit->addWidget(configPanel);
    detailSplit->setStretchFactor(0, 3);
    detailSplit->setStretchFactor(1, 2);
    auto* detailsLayout = new QVBoxLayout(details);
    detailsLayout->setContentsMargins(0, 0, 0, 0);
    detailsLayout->addWidget(m_title);
    detailsLayout->addWidget(detailSplit, 1);
    m_detailsState = new EmptyState(details);

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(m_table);
    split->addWidget(m_detailsState);
    split->setStretchFactor(0, 2);
    split->setStretchFactor(1, 3);
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addWidget(m_filter);
    contentLayout->addLayout(actions);
    contentLayout->addWidget(split, 1);

    m_pageState = new EmptyState(content);
    m_pageState->setObjectName(QStringLiteral("runsPageState"));
    connect(m_pageState, &EmptyState::actionTriggered, this, &RunsPage::runSetupRequested);
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_pageState);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &RunsPage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &RunsPage::refresh);
    reload();
}

std::optional<std::int64_t> RunsPage::selectedRunId() const
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return std::nullopt;
    return rows.first().data(kIdRole).value<qint64>();
}

bool RunsPage::selectRun(std::int64_t runId)
{
    const int sourceRow = m_model->rowOf(runId);
    if (sourceRow < 0)
        return false;
    QModelIndex index = m_proxy->mapFromSource(m_model->index(sourceRow, 0));
    if (!index.isValid()) {
        m_filter->clear();
        index = m_proxy->mapFromSource(m_model->index(sourceRow, 0));
    }
    m_table->selectionModel()->setCurrentIndex(index, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
    m_table->scrollTo(index);
    return true;
}

void RunsPage::reload()
{
    // Ids repeat across workspaces: nothing selected in the old one carries over.
    m_table->clearSelection();
    m_shownRunId.reset();
    m_model->refresh();
    m_table->resizeColumnsToContents();
    updateEmptyState();
    showSelectedRun();
    if (m_proxy->rowCount() > 0)
        m_table->selectRow(0);
}

void RunsPage::refresh()
{
    m_model->refresh();
    updateEmptyState();
    if (!m_shownRunId)
        return;
    // The selection model already dropped a deleted run; here the shown run
    // still exists and may have a new status, config or metrics.
    showSelectedRun();
    loadMetricNames(/*keepCurrent=*/true);
    appendNewPoints();
}

void RunsPage::updateEmptyState()
{
    if (!m_session->isOpen()) {
        m_pageState->showMessage(EmptyState::noWorkspaceText());
    } else if (m_model->rowCount() == 0) {
        m_pageState->showMessage(tr("<p><b>This workspace has no runs yet.</b></p>"
                                    "<p>Choose a model, a dataset and a method in <i>Run Setup</i> and start "
                                    "a run there.</p>"
                                    "<p>Runs started elsewhere (from another window or the command line) "
                                    "appear here on their own.</p>"),
            tr("Go to Run Setup"));
    } else {
        m_pageState->showContent();
    }
}

void RunsPage::showSelectedRun()
{
    const std::optional<std::int64_t> id = selectedRunId();
    const RunRecord* run = id ? m_model->recordAt(m_model->rowOf(*id)) : nullptr;
    updateActions();
    if (!run) {
        m_shownRunId.reset();
        m_shownConfig.clear();
        m_log->clear();
        m_plot->clearSeries();
        m_detailsState->showMessage(tr("Select a run to see its metrics and configuration."));
        return;
    }
    m_detailsState->showContent();
    const std::string_view status = toString(run->status);
    QString title
        = tr("<b>Run #%1 \u2014 %2</b> \u00b7 %3")
              .arg(run->id)
              .arg(userRichText(run->name), QString::fromUtf8(status.data(), static_cast<qsizetype>(status.size())));
    if (m_queue && m_queue->isPending(run->id))
        title += QStringLiteral(" \u00b7 ") + tr("waiting in the queue");
    if (!run->error.empty()) {
        title += QStringLiteral("<br>") + tr("Error: %1").arg(userRichText(run->error, /*multiLine=*/true));
    }
    m_title->setText(title);
    showLog();
    if (run->configJson != m_shownConfig) {
        m_shownConfig = run->configJson;
        m_config->setPlainText(userText(prettyJson(run->configJson), /*multiLine=*/true));
    }
    if (m_shownRunId != run->id) {
        m_shownRunId = run->id;
        loadMetricNames(/*keepCurrent=*/false);
        loadMetric();
    }
}

void RunsPage::loadMetricNames(bool keepCurrent)
{
    if (!m_shownRunId || !m_session->workspace())
        return;
    QStringList names;
    try {
        for (const std::string& name : MetricQuery(m_session->workspace()->db()).names(*m_shownRunId))
            names.append(QString::fromStdString(name));
    } catch (const std::exception& e) {
        m_session->reportError(
            tr("Cannot read the metrics of run #%1: %2").arg(*m_shownRunId).arg(QString::fromUtf8(e.what())));
        return;
    }
    QStringList current;
    for (int i = 0; i < m_metricCombo->count(); ++i)
        current.append(m_metricCombo->itemText(i));
    if (keepCurrent && names == current)
        return;
    const QString previous = m_metricCombo->currentText();
    {
        // The plot is (re)loaded once by the caller or below, not on every item change.
        const QSignalBlocker blocker(m_metricCombo);
        m_metricCombo->clear();
        m_metricCombo->addItems(names);
        const int kept = keepCurrent ? names.indexOf(previous) : -1;
        m_metricCombo->setCurrentIndex(kept >= 0 ? kept : preferredMetric(names));
    }
    if (keepCurrent && m_metricCombo->currentText() != previous)
        loadMetric();
}

void RunsPage::loadMetric()
{
    const QString metric = m_metricCombo->currentText();
    if (!m_shownRunId || !m_session->workspace() || metric.isEmpty()) {
        m_plot->clearSeries();
        m_plotState->showMessage(tr("This run has no metrics yet. They appear here while it trains."));
        return;
    }
    try {
        const MetricQuery query(m_session->workspace()->db());
        m_plot->setSeries(metric, query.series(*m_shownRunId, metric.toStdString()));
    } catch (const std::exception& e) {
        m_session->reportError(
            tr("Cannot read metric %1 of run #%2: %3").arg(metric).arg(*m_shownRunId).arg(QString::fromUtf8(e.what())));
        return;
    }
    m_plotState->showContent();
}

void RunsPage::appendNewPoints()
{
    const QString metric = m_metricCombo->currentText();
    if (!m_shownRunId || !m_session->workspace() || metric.isEmpty())
        return;
    if (!m_plotState->isShowingContent()) {
        loadMetric();
        return;
    }
    try {
        const MetricQuery query(m_session->workspace()->db());
        m_plot->appendPoints(query.series(*m_shownRunId, metric.toStdString(), m_plot->lastStep()));
    } catch (const std::exception& e) {
        m_session->reportError(
            tr("Cannot read metric %1 of run #%2: %3").arg(metric).arg(*m_shownRunId).arg(QString::fromUtf8(e.what())));
    }
}

void RunsPage::showLog()
{
    if (!m_shownRunId && !selectedRunId())
        return;
    const std::int64_t id = m_shownRunId ? *m_shownRunId : *selectedRunId();
    Workspace* ws = m_session->workspace();
    if (!ws)
        return;
    const QString path = QString::fromStdString((ws->runDir(id) / "worker.log").string());
    const QString text = userText(RunQueue::tail(path, 200), /*multiLine=*/true);
    if (text != m_log->toPlainText()) {
        m_log->setPlainText(
            text.isEmpty() ? tr("No worker log: the run was not started from this application.") : text);
        m_log->moveCursor(QTextCursor::End);
    }
}

void RunsPage::updateActions()
{
    const std::optional<std::int64_t> id = selectedRunId();
    const RunRecord* run = id ? m_model->recordAt(m_model->rowOf(*id)) : nullptr;
    const bool pending = run && m_queue && m_queue->isPending(run->id);
    const RunStatus status = run ? run->status : RunStatus::Queued;
    m_startButton->setEnabled(run && m_queue && status == RunStatus::Queued && !pending);
    m_stopButton->setEnabled(run && m_queue && (status == RunStatus::Running || pending));
    m_resumeButton->setEnabled(
        run && m_queue && !pending && (status == RunStatus::Cancelled || status == RunStatus::Failed));
    m_duplicateButton->setEnabled(run != nullptr);
    m_deleteButton->setEnabled(run && status != RunStatus::Running && !pending);
    m_monitorButton->setEnabled(run != nullptr);
}

bool RunsPage::fail(const QString& message, QString* error)
{
    m_actionStatus->setText(userText(message, /*multiLine=*/true));
    m_actionStatus->setStyleSheet(QStringLiteral("color: #c62828;"));
    if (error)
        *error = message;
    return false;
}

bool RunsPage::startRun(std::int64_t runId, QString* error)
{
    if (!m_queue)
        return fail(tr("Runs cannot be started from here."), error);
    QString message;
    if (!m_queue->enqueue(runId, false, &message))
        return fail(message, error);
    m_actionStatus->setStyleSheet(QString());
    m_actionStatus->setText(tr("Run #%1 is queued.").arg(runId));
    refresh();
    return true;
}

bool RunsPage::stopRun(std::int64_t runId, QString* error)
{
    if (!m_queue)
        return fail(tr("Runs cannot be stopped from here."), error);
    QString message;
    if (!m_queue->stop(runId, &message))
        return fail(message, error);
    m_actionStatus->setStyleSheet(QString());
    m_actionStatus->setText(tr("Run #%1 stops after its current step.").arg(runId));
    refresh();
    return true;
}

bool RunsPage::resumeRun(std::int64_t runId, QString* error)
{
    if (!m_queue)
        return fail(tr("Runs cannot be resumed from here."), error);
    QString message;
    if (!m_queue->enqueue(runId, true, &message))
        return fail(message, error);
    m_actionStatus->setStyleSheet(QString());
    m_actionStatus->setText(tr("Run #%1 is queued to resume from its newest checkpoint.").arg(runId));
    refresh();
    return true;
}

bool RunsPage::duplicateRun(std::int64_t runId, QString* error)
{
    const RunRecord* run = m_model->recordAt(m_model->rowOf(runId));
    if (!run)
        return fail(tr("There is no run #%1.").arg(runId), error);
    Q_EMIT duplicateRequested(
        QString::fromStdString(run->configJson), QString::fromStdString(run->name) + tr(" (copy)"));
    return true;
}

bool RunsPage::deleteRun(std::int64_t runId, QString* error)
{
    Workspace* ws = m_session->workspace();
    const RunRecord* run = m_model->recordAt(m_model->rowOf(runId));
    if (!ws || !run)
        return fail(tr("There is no run #%1.").arg(runId), error);
    if (run->status == RunStatus::Running || (m_queue && m_queue->isPending(runId)))
        return fail(tr("Run #%1 is running or waiting: stop it first.").arg(runId), error);
    const std::filesystem::path folder = ws->runDir(runId);
    const auto answer = QMessageBox::question(this, tr("Delete Run"),
        tr("<p>Delete run #%1 \u201c%2\u201d with its metrics, samples and events, and its folder %3 "
           "(checkpoints, adapter, log)?</p><p>This cannot be undone.</p>")
            .arg(runId)
            .arg(userRichText(run->name), userRichText(folder.string())),
        QMessageBox::Yes | QMessageBox::Cancel, QMessageBox::Cancel);
    if (answer != QMessageBox::Yes)
        return fail(tr("Nothing was deleted."), error);
    try {
        RunStore(ws->db()).remove(runId);
    } catch (const std::exception& e) {
        return fail(tr("Could not delete run #%1: %2").arg(runId).arg(QString::fromUtf8(e.what())), error);
    }
    std::error_code ec;
    std::filesystem::remove_all(folder, ec);
    m_session->notifyChanged();
    if (ec)
        return fail(tr("Run #%1 was deleted, but its folder %2 could not be removed: %3")
                        .arg(runId)
                        .arg(QString::fromStdString(folder.string()), QString::fromStdString(ec.message())),
            error);
    m_actionStatus->setStyleSheet(QString());
    m_actionStatus->setText(tr("Run #%1 was deleted.").arg(runId));
    return true;
}

} // namespace tunebench::ui
