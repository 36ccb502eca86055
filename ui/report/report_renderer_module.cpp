// The report renderer as a loadable module. Reports draw their plots with the
// GUI's plot code (Qt Widgets, QCustomPlot), and tunebench-cli links no Qt so
// that it runs on machines without a display stack; `tunebench-cli report`
// loads this library when asked for a report and calls it in its own process.

#include "ui/report/report_command.h"

#include <QApplication>

extern "C" __attribute__((visibility("default"))) int tunebench_render_report(
    const char* workspace, const char* runs, const char* out, int force)
{
    if (!QCoreApplication::instance()) {
        // Plots are widgets drawn into images: no window is shown, no display needed.
        qputenv("QT_QPA_PLATFORM", "offscreen");
        static int argc = 1;
        static char name[] = "tunebench-cli";
        static char* argv[] = { name, nullptr };
        // Never destroyed: the process ends soon after, and Qt must not be torn down behind LibTorch's back.
        new QApplication(argc, argv);
    }
    return tunebench::ui::runReportCommand(
        QString::fromUtf8(workspace), QString::fromUtf8(runs), QString::fromUtf8(out), force != 0);
}
