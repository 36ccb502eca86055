// tunebench: the desktop workbench. Wiring only: the window and its pages live in ui/.

#include "core/method/plugin_registry.h"
#include "core/runtime.h"
#include "core/version.h"
#include "ui/main_window.h"
#include "ui/report/report_command.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>

#include <cstdio>
#include <cstring>

int main(int argc, char* argv[])
{
    // A report (tunebench --report; tunebench-cli report loads the same code as a module) draws its plots with the
    // GUI's widgets but never shows a window: it needs no display.
    bool reportMode = false;
    for (int i = 1; i < argc; ++i)
        reportMode = reportMode || std::strcmp(argv[i], "--report") == 0;
    if (reportMode)
        qputenv("QT_QPA_PLATFORM", "offscreen");

    // --help and --version answer without a display too (ssh, man pages made at build time).
    for (int i = 1; i < argc; ++i) {
        for (const char* flag : { "-h", "--help", "--help-all", "-v", "--version" }) {
            if (std::strcmp(argv[i], flag) == 0 && !qEnvironmentVariableIsSet("QT_QPA_PLATFORM")
                && !qEnvironmentVariableIsSet("DISPLAY") && !qEnvironmentVariableIsSet("WAYLAND_DISPLAY"))
                qputenv("QT_QPA_PLATFORM", "offscreen");
        }
    }
    QApplication app(argc, argv);
    // QSettings (recent workspaces, window geometry) is keyed by these.
    QApplication::setOrganizationName(QStringLiteral("Tunebench"));
    QApplication::setApplicationName(QStringLiteral("Tunebench"));
    QApplication::setApplicationDisplayName(QStringLiteral("Tunebench"));
    QApplication::setApplicationVersion(QString::fromStdString(tunebench::tunebenchVersion()));
    QApplication::setDesktopFileName(QStringLiteral("io.github.tunebench.Tunebench"));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("A workbench for fine-tuning experiments on language models."));
    parser.addHelpOption();
    parser.addVersionOption();
    const QCommandLineOption workspaceOption(QStringLiteral("workspace"),
        QStringLiteral("Open the workspace in DIR instead of the last one."), QStringLiteral("DIR"));
    parser.addOption(workspaceOption);
    const QCommandLineOption reportOption(QStringLiteral("report"),
        QStringLiteral("Write a report without opening a window (with --workspace, --runs, --out, --force), as "
                       "`tunebench-cli report` does."));
    const QCommandLineOption runsOption(
        QStringLiteral("runs"), QStringLiteral("--report: the runs, separated by commas."), QStringLiteral("IDS"));
    const QCommandLineOption outOption(QStringLiteral("out"),
        QStringLiteral("--report: the report file (.html, .pdf or .md)."), QStringLiteral("FILE"));
    const QCommandLineOption forceOption(
        QStringLiteral("force"), QStringLiteral("--report: replace an existing report."));
    parser.addOptions({ reportOption, runsOption, outOption, forceOption });
    const QCommandLineOption compareOption(QStringLiteral("compare"),
        QStringLiteral("Open on the Compare page with these runs checked (ids separated by commas, or all)."),
        QStringLiteral("IDS"));
    parser.addOption(compareOption);
    parser.addPositionalArgument(QStringLiteral("WORKSPACE"),
        QStringLiteral("A workspace folder or its tunebench.db to open (as --workspace)."),
        QStringLiteral("[WORKSPACE]"));
    parser.process(app);
    QString workspace = parser.value(workspaceOption);
    if (workspace.isEmpty() && !parser.positionalArguments().isEmpty())
        workspace = parser.positionalArguments().constFirst();
    // The desktop entry passes a workspace's database file: open its folder.
    if (const QFileInfo file(workspace); file.isFile() && file.fileName() == QLatin1String("tunebench.db"))
        workspace = file.absolutePath();

    tunebench::configureThreads();
    // Plugins are loaded in a child process first (tunebench-cli plugins probe, beside this executable): one
    // that crashes or hangs while loading is listed as broken instead of taking the window down.
    if (const QString cli = QCoreApplication::applicationDirPath() + QStringLiteral("/tunebench-cli");
        QFileInfo(cli).isExecutable())
        tunebench::setDefaultPluginProbe(cli.toStdString());
    if (parser.isSet(reportOption)) {
        return tunebench::ui::runReportCommand(
            workspace, parser.value(runsOption), parser.value(outOption), parser.isSet(forceOption));
    }

    tunebench::ui::MainWindow window;
    window.show();
    // Opened once the event loop runs, so an error box has a visible window behind it.
    QList<qint64> compareRuns;
    const QString compare = parser.value(compareOption);
    if (!compare.isEmpty() && compare != QLatin1String("all")) {
        for (const QString& part : compare.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
            bool ok = false;
            compareRuns.push_back(part.trimmed().toLongLong(&ok));
            if (!ok) {
                std::fprintf(stderr,
                    "tunebench: --compare: '%s' is not a run id (expected ids separated by commas, "
                    "or all)\n",
                    qPrintable(part));
                return 2;
            }
        }
    }
    QTimer::singleShot(0, &window, [&window, workspace, compare, compareRuns] {
        const bool opened = !workspace.isEmpty()
            ? window.openWorkspace(workspace) // an error is shown; the window stays
            : window.reopenLastWorkspace();
        if (opened && !compare.isEmpty())
            window.showComparison(compareRuns);
    });
    return QApplication::exec();
}
