#pragma once

#include <QMainWindow>

class QLabel;
class QListWidget;
class QMenu;
class QStackedWidget;

namespace tunebench::ui {

class ComparePage;
class DatasetsPage;
class ExportsPage;
class SweepPage;
class PipelinePage;
class MonitorPage;
class PlaygroundPage;
class RunQueue;
class RunSetupPage;
class RunsPage;
class WorkspaceSession;

// Assembles the pages around one WorkspaceSession: a navigation list, the
// page stack, the File and Help menus, and what is remembered between
// sessions (last and recent workspaces, window geometry). Page logic lives in
// the pages.
class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    // Order of the navigation list and the page stack.
    enum Page {
        DatasetsPageIndex,
        RunSetupPageIndex,
        RunsPageIndex,
        MonitorPageIndex,
        ComparePageIndex,
        PlaygroundPageIndex,
        ExportsPageIndex,
        SweepPageIndex,
        PipelinePageIndex,
        PageCount
    };

    explicit MainWindow(QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens an existing workspace and remembers it as last and recent. On
    // failure the workspace open before stays open and false is returned;
    // with error the message (naming the folder and the reason) goes there,
    // without it a message box shows it. Never throws, whatever the folder holds.
    bool openWorkspace(const QString& dir, QString* error = nullptr);
    // Creates a workspace in dir (an existing one is opened); same contract as openWorkspace().
    bool createWorkspace(const QString& dir, QString* error = nullptr);
    // Reopens the default workspace from the settings, else the last one, if it still is one. Returns whether it did.
    bool reopenLastWorkspace();
    // Shows the Compare page with these runs checked (every listed run when empty); returns how many were found.
    int showComparison(const QList<qint64>& runIds = {});

    WorkspaceSession* session() const { return m_session; }
    void showPage(Page page);
    Page currentPage() const;

    DatasetsPage* datasetsPage() const { return m_datasetsPage; }
    RunsPage* runsPage() const { return m_runsPage; }
    ComparePage* comparePage() const { return m_comparePage; }
    ExportsPage* exportsPage() const { return m_exportsPage; }
    SweepPage* sweepPage() const { return m_sweepPage; }
    PipelinePage* pipelinePage() const { return m_pipelinePage; }
    MonitorPage* monitorPage() const { return m_monitorPage; }

    // Opens the settings dialog; OK applies the theme and the plot refresh interval.
    void showSettings();
    RunSetupPage* runSetupPage() const { return m_runSetupPage; }
    PlaygroundPage* playgroundPage() const { return m_playgroundPage; }
    RunQueue* runQueue() const { return m_runQueue; }

protected:
    void closeEvent(QCloseEvent* event) override;

private:
    bool adopt(const QString& dir, bool create, QString* error);
    void createMenus();
    void rebuildRecentMenu();
    void updateRecentMenuEnabled();
    void chooseNewWorkspace();
    void chooseOpenWorkspace();
    void showAbout();
    void updateTitle();
    void saveWindowState();
    void restoreSplitters();

    WorkspaceSession* m_session;
    RunQueue* m_runQueue;
    QListWidget* m_nav;
    QStackedWidget* m_stack;
    QMenu* m_recentMenu = nullptr;
    QLabel* m_readOnlyLabel = nullptr; // in the status bar while a read-only workspace is open
    DatasetsPage* m_datasetsPage;
    RunsPage* m_runsPage;
    ComparePage* m_comparePage;
    ExportsPage* m_exportsPage;
    MonitorPage* m_monitorPage;
    RunSetupPage* m_runSetupPage;
    PlaygroundPage* m_playgroundPage;
    SweepPage* m_sweepPage;
    PipelinePage* m_pipelinePage;
};

} // namespace tunebench::ui
