#include "ui/main_window.h"

#include "core/store/workspace.h"
#include "ui/about_dialog.h"
#include "ui/dialogs/settings_dialog.h"
#include "ui/pages/compare_page.h"
#include "ui/pages/datasets_page.h"
#include "ui/pages/exports_page.h"
#include "ui/pages/monitor_page.h"
#include "ui/pages/pipeline_page.h"
#include "ui/pages/playground_page.h"
#include "ui/pages/run_setup_page.h"
#include "ui/pages/runs_page.h"
#include "ui/pages/sweep_page.h"
#include "ui/recent_workspaces.h"
#include "ui/run_queue.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QCloseEvent>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QListWidget>
#include <QMenuBar>
#include <QMessageBox>
#include <QSettings>
#include <QSplitter>
#include <QStackedWidget>
#include <QStatusBar>
#include <QStyle>

namespace tunebench::ui {

namespace {

// A warning whose message quotes a folder name: shown as plain text, never as markup.
void warnPlain(QWidget* parent, const QString& title, const QString& message)
{
    QMessageBox box(QMessageBox::Warning, title, userText(message, /*multiLine=*/true), QMessageBox::Ok, parent);
    box.setTextFormat(Qt::PlainText);
    box.exec();
}

const QString kGeometryKey = QStringLiteral("window/geometry");
const QString kPageKey = QStringLiteral("window/page");
const QString kStateKey = QStringLiteral("window/state");
const QString kSplitterKey = QStringLiteral("splitters/%1");
constexpr int kStatusMessageMs = 8000;

} // namespace

MainWindow::MainWindow(QWidget* parent)
    : QMainWindow(parent)
    , m_session(new WorkspaceSession(this))
    , m_runQueue(new RunQueue(m_session, this))
    , m_nav(new QListWidget)
    , m_stack(new QStackedWidget)
    , m_datasetsPage(new DatasetsPage(m_session))
    , m_runsPage(new RunsPage(m_session, m_runQueue))
    , m_comparePage(new ComparePage(m_session))
    , m_exportsPage(new ExportsPage(m_session))
    , m_monitorPage(new MonitorPage(m_session))
    , m_runSetupPage(new RunSetupPage(m_session, m_runQueue))
    , m_playgroundPage(new PlaygroundPage(m_session))
    , m_sweepPage(new SweepPage(m_session, m_runQueue))
    , m_pipelinePage(new PipelinePage(m_session))
{
    AppSettings::applyTheme(AppSettings::theme());
    const struct {
        QString label;
        QStyle::StandardPixmap icon;
        QWidget* page;
    } pages[PageCount] = {
        { tr("Datasets"), QStyle::SP_FileDialogDetailedView, m_datasetsPage },
        { tr("Run Setup"), QStyle::SP_FileDialogNewFolder, m_runSetupPage },
        { tr("Runs"), QStyle::SP_MediaPlay, m_runsPage },
        { tr("Monitor"), QStyle::SP_ComputerIcon, m_monitorPage },
        { tr("Compare"), QStyle::SP_FileDialogContentsView, m_comparePage },
        { tr("Playground"), QStyle::SP_MessageBoxQuestion, m_playgroundPage },
        { tr("Exports"), QStyle::SP_DialogSaveButton, m_exportsPage },
        { tr("Sweeps"), QStyle::SP_BrowserReload, m_sweepPage },
        { tr("Pipelines"), QStyle::SP_ArrowForward, m_pipelinePage },
    };
    for (const auto& page : pages) {
        new QListWidgetItem(style()->standardIcon(page.icon), page.label, m_nav);
        m_stack->addWidget(page.page);
    }
    m_nav->setObjectName(QStringLiteral("navigation"));
    m_nav->setIconSize(QSize(20, 20));
    m_nav->setSpacing(2);
    m_nav->setFixedWidth(m_nav->sizeHintForColumn(0) + 4 * m_nav->frameWidth() + 24);
    connect(m_nav, &QListWidget::currentRowChanged, m_stack, &QStackedWidget::setCurrentIndex);

    auto* central = new QWidget;
    auto* layout = new QHBoxLayout(central);
    layout->addWidget(m_nav);
    layout->addWidget(m_stack, 1);
    setCentralWidget(central);

    connect(m_runsPage, &RunsPage::duplicateRequested, this, [this](const QString& config, const QString& name) {
        m_runSetupPage->loadConfiguration(config.toStdString(), name);
        showPage(RunSetupPageIndex);
    });
    connect(m_runsPage, &RunsPage::runSetupRequested, this, [this] { showPage(RunSetupPageIndex); });
    connect(m_runsPage, &RunsPage::monitorRequested, this, [this](qint64 runId) {
        m_monitorPage->showRun(runId);
        showPage(MonitorPageIndex);
    });
    connect(m_comparePage, &ComparePage::reportRequested, this, [this](const QList<qint64>& runIds) {
        showPage(ExportsPageIndex);
        m_exportsPage->writeReport(runIds);
    });
    connect(m_runSetupPage, &RunSetupPage::runQueued, this, [this](qint64 runId) {
        showPage(RunsPageIndex);
        m_runsPage->selectRun(runId);
    });

    createMenus();
    m_readOnlyLabel = new QLabel(this);
    m_readOnlyLabel->setObjectName(QStringLiteral("readOnlyLabel"));
    m_readOnlyLabel->setTextFormat(Qt::PlainText);
    m_readOnlyLabel->setVisible(false);
    statusBar()->addPermanentWidget(m_readOnlyLabel);
    connect(m_session, &WorkspaceSession::workspaceChanged, this, &MainWindow::updateTitle);
    connect(m_session, &WorkspaceSession::errorOccurred, this,
        [this](const QString& message) { statusBar()->showMessage(userText(message), kStatusMessageMs); });
    statusBar()->showMessage(tr("Ready"));
    updateTitle();

    const QSettings settings;
    if (!restoreGeometry(settings.value(kGeometryKey).toByteArray()))
        resize(1200, 800);
    restoreState(settings.value(kStateKey).toByteArray());
    restoreSplitters();
    const int page = settings.value(kPageKey, int(RunsPageIndex)).toInt();
    showPage(page >= 0 && page < PageCount ? static_cast<Page>(page) : RunsPageIndex);
}

MainWindow::~MainWindow() = default;

void MainWindow::createMenus()
{
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* create = file->addAction(tr("&New Workspace\u2026"), this, &MainWindow::chooseNewWorkspace);
    create->setShortcut(QKeySequence::New);
    QAction* open = file->addAction(tr("&Open Workspace\u2026"), this, &MainWindow::chooseOpenWorkspace);
    open->setShortcut(QKeySequence::Open);
    m_recentMenu = file->addMenu(tr("Open &Recent"));
    m_recentMenu->setObjectName(QStringLiteral("recentMenu"));
    connect(m_recentMenu, &QMenu::aboutToShow, this, &MainWindow::rebuildRecentMenu);
    updateRecentMenuEnabled();
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);

    QAction* preferences = file->addAction(tr("&Settings\u2026"), this, &MainWindow::showSettings);
    preferences->setShortcut(QKeySequence::Preferences);
    preferences->setMenuRole(QAction::PreferencesRole);
    file->insertAction(quit, preferences);

    // Ctrl+1..Ctrl+N show the pages in navigation order.
    QMenu* go = menuBar()->addMenu(tr("&Go"));
    for (int page = 0; page < PageCount; ++page) {
        QAction* action
            = go->addAction(m_nav->item(page)->text(), this, [this, page] { showPage(static_cast<Page>(page)); });
        action->setShortcut(QKeySequence(Qt::CTRL | static_cast<Qt::Key>(Qt::Key_1 + page)));
    }

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    QAction* about = help->addAction(tr("&About Tunebench"), this, &MainWindow::showAbout);
    about->setMenuRole(QAction::AboutRole);
}

void MainWindow::rebuildRecentMenu()
{
    m_recentMenu->clear();
    const QStringList recent = RecentWorkspaces::list();
    for (const QString& dir : recent) {
        QAction* action = m_recentMenu->addAction(QDir::toNativeSeparators(dir));
        connect(action, &QAction::triggered, this, [this, dir] {
            if (!openWorkspace(dir) && !QFileInfo::exists(dir)) {
                RecentWorkspaces::remove(dir); // a folder that is gone should not stay offered
                updateRecentMenuEnabled();
            }
        });
    }
    if (!recent.isEmpty()) {
        m_recentMenu->addSeparator();
        m_recentMenu->addAction(tr("&Clear List"), this, [this] {
            RecentWorkspaces::clear();
            updateRecentMenuEnabled();
        });
    }
}

void MainWindow::updateRecentMenuEnabled()
{
    // Only the enabled state changes here: the entries are rebuilt on aboutToShow,
    // never while one of them is delivering its triggered() signal.
    m_recentMenu->setEnabled(!RecentWorkspaces::list().isEmpty());
}

bool MainWindow::openWorkspace(const QString& dir, QString* error)
{
    return adopt(dir, false, error);
}

bool MainWindow::createWorkspace(const QString& dir, QString* error)
{
    return adopt(dir, true, error);
}

bool MainWindow::adopt(const QString& dir, bool create, QString* error)
{
    QString message;
    const bool ok = create ? m_session->create(dir, &message) : m_session->open(dir, &message);
    if (!ok) {
        if (error)
            *error = message;
        else
            warnPlain(this, create ? tr("New Workspace") : tr("Open Workspace"), message);
        statusBar()->showMessage(userText(message.section(QLatin1Char('\n'), 0, 0)), kStatusMessageMs);
        return false;
    }
    RecentWorkspaces::remember(m_session->rootPath());
    updateRecentMenuEnabled();
    statusBar()->showMessage(
        tr("Opened workspace %1").arg(QDir::toNativeSeparators(m_session->rootPath())), kStatusMessageMs);
    return true;
}

bool MainWindow::reopenLastWorkspace()
{
    const QString preferred = AppSettings::defaultWorkspace();
    if (!preferred.isEmpty() && Workspace::isWorkspace(std::filesystem::path(preferred.toStdString())))
        return openWorkspace(preferred);
    const QString last = RecentWorkspaces::last();
    if (last.isEmpty() || !Workspace::isWorkspace(std::filesystem::path(last.toStdString())))
        return false;
    return openWorkspace(last);
}

void MainWindow::chooseNewWorkspace()
{
    // An empty folder becomes the workspace; the dialog can create one.
    const QString dir = QFileDialog::getExistingDirectory(
        this, tr("New Workspace: choose or create an empty folder"), QDir::homePath());
    if (dir.isEmpty())
        return;
    if (Workspace::isWorkspace(std::filesystem::path(dir.toStdString()))) {
        const auto answer = QMessageBox::question(this, tr("New Workspace"),
            tr("%1 already is a Tunebench workspace. Open it?").arg(QDir::toNativeSeparators(dir)));
        if (answer != QMessageBox::Yes)
            return;
    }
    createWorkspace(dir);
}

void MainWindow::chooseOpenWorkspace()
{
    const QString start = m_session->isOpen() ? m_session->rootPath() : RecentWorkspaces::last();
    const QString dir
        = QFileDialog::getExistingDirectory(this, tr("Open Workspace"), start.isEmpty() ? QDir::homePath() : start);
    if (!dir.isEmpty())
        openWorkspace(dir);
}

void MainWindow::showAbout()
{
    AboutDialog dialog(this);
    dialog.exec();
}

void MainWindow::showPage(Page page)
{
    m_nav->setCurrentRow(page);
}

MainWindow::Page MainWindow::currentPage() const
{
    return static_cast<Page>(m_stack->currentIndex());
}

void MainWindow::updateTitle()
{
    const Workspace* ws = m_session->workspace();
    const bool readOnly = ws && !ws->isWritable();
    if (m_session->isOpen())
        setWindowTitle((readOnly ? tr("%1 (read-only) \u2014 Tunebench") : tr("%1 \u2014 Tunebench"))
                           .arg(QDir::toNativeSeparators(m_session->rootPath())));
    else
        setWindowTitle(tr("Tunebench"));
    // A workspace opened for reading says, for as long as it is open, why nothing can be started in it.
    m_readOnlyLabel->setText(readOnly ? tr("Read-only: %1. Runs cannot be started; results can be viewed.")
                                            .arg(QString::fromStdString(ws->readOnlyReason()))
                                      : QString());
    m_readOnlyLabel->setVisible(readOnly);
}

int MainWindow::showComparison(const QList<qint64>& runIds)
{
    showPage(ComparePageIndex);
    QList<std::int64_t> ids = m_comparePage->listedRunIds();
    if (!runIds.isEmpty())
        ids = QList<std::int64_t>(runIds.begin(), runIds.end());
    int found = 0;
    for (std::int64_t id : ids)
        found += m_comparePage->setRunChecked(id, true) ? 1 : 0;
    return found;
}

void MainWindow::showSettings()
{
    SettingsDialog dialog(this);
    if (dialog.exec() == QDialog::Accepted) {
        m_monitorPage->setRefreshInterval(AppSettings::plotRefreshMs());
        m_runQueue->setMaxActive(AppSettings::maxConcurrentRuns());
    }
}

void MainWindow::saveWindowState()
{
    QSettings settings;
    settings.setValue(kGeometryKey, saveGeometry());
    settings.setValue(kStateKey, saveState());
    settings.setValue(kPageKey, static_cast<int>(currentPage()));
    // Every named splitter of every page keeps its positions.
    for (const QSplitter* splitter : findChildren<QSplitter*>()) {
        if (!splitter->objectName().isEmpty())
            settings.setValue(kSplitterKey.arg(splitter->objectName()), splitter->saveState());
    }
}

void MainWindow::restoreSplitters()
{
    const QSettings settings;
    for (QSplitter* splitter : findChildren<QSplitter*>()) {
        if (!splitter->objectName().isEmpty())
            splitter->restoreState(settings.value(kSplitterKey.arg(splitter->objectName())).toByteArray());
    }
}

void MainWindow::closeEvent(QCloseEvent* event)
{
    saveWindowState();
    QMainWindow::closeEvent(event);
}

} // namespace tunebench::ui
