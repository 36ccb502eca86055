// tunebench: the desktop workbench. Wiring only: the window and its pages live in ui/.

#include "core/runtime.h"
#include "core/version.h"
#include "ui/main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QTimer>

int main(int argc, char* argv[])
{
    QApplication app(argc, argv);
    // QSettings (recent workspaces, window geometry) is keyed by these.
    QApplication::setOrganizationName(QStringLiteral("Tunebench"));
    QApplication::setApplicationName(QStringLiteral("Tunebench"));
    QApplication::setApplicationDisplayName(QStringLiteral("Tunebench"));
    QApplication::setApplicationVersion(QString::fromStdString(tunebench::tunebenchVersion()));
    QApplication::setDesktopFileName(QStringLiteral("tunebench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A workbench for fine-tuning experiments on language models."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption workspaceOption(QStringLiteral("workspace"),
        QStringLiteral("Open the workspace in DIR instead of the last one."), QStringLiteral("DIR"));
    parser.addOption(workspaceOption);
    parser.process(app);

    tunebench::configureThreads();

    tunebench::ui::MainWindow window;
    window.show();
    // Opened once the event loop runs, so an error box has a visible window behind it.
    QTimer::singleShot(0, &window, [&window, &parser, &workspaceOption] {
        if (parser.isSet(workspaceOption))
            window.openWorkspace(parser.value(workspaceOption)); // an error is shown; the window stays
        else
            window.reopenLastWorkspace();
    });
    return QApplication::exec();
}
