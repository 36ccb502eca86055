// Settings (QSettings in a test folder): the dialog writes what it shows and
// reads it back, the run queue's key, themes whose palettes reach the plots,
// page shortcuts, and window state and splitter positions remembered.

#include "core/store/workspace.h"
#include "ui/dialogs/settings_dialog.h"
#include "ui/main_window.h"
#include "ui/pages/monitor_page.h"
#include "ui/widgets/series_plot.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QComboBox>
#include <QDir>
#include <QLineEdit>
#include <QSettings>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardPaths>
#include <QTemporaryDir>
#include <QTest>

#include <cmath>

using namespace tunebench;
using namespace tunebench::ui;

namespace {

// WCAG contrast ratio of two colours.
double contrast(const QColor& a, const QColor& b)
{
    auto luminance = [](const QColor& c) {
        auto channel = [](double v) { return v <= 0.03928 ? v / 12.92 : std::pow((v + 0.055) / 1.055, 2.4); };
        return 0.2126 * channel(c.redF()) + 0.7152 * channel(c.greenF()) + 0.0722 * channel(c.blueF());
    };
    const double la = luminance(a);
    const double lb = luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

} // namespace

class TestMonitorSettings : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void init();
    void dialogPersistsSettings();
    void palettesAreReadableAndReachPlots();
    void pageShortcutsAndMonitorPage();
    void remembersSplittersAndDefaultWorkspace();

private:
    QTemporaryDir m_settingsDir;
};

void TestMonitorSettings::initTestCase()
{
    QStandardPaths::setTestModeEnabled(true);
    QCoreApplication::setOrganizationName(QStringLiteral("TunebenchTest"));
    QCoreApplication::setApplicationName(QStringLiteral("TestMonitorSettings"));
    QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
    QVERIFY(QSettings().fileName().startsWith(m_settingsDir.path()));
}

void TestMonitorSettings::init()
{
    QSettings().clear();
    AppSettings::applyTheme(AppSettings::Theme::Light);
    AppSettings::applyTheme(AppSettings::Theme::System);
}

void TestMonitorSettings::dialogPersistsSettings()
{
    // Defaults before anything is saved.
    QVERIFY(AppSettings::theme() == AppSettings::Theme::System);
    QCOMPARE(AppSettings::plotRefreshMs(), AppSettings::kDefaultPlotRefreshMs);
    QCOMPARE(AppSettings::maxConcurrentRuns(), 1);
    QVERIFY(AppSettings::defaultWorkspace().isEmpty());
    {
        SettingsDialog dialog;
        dialog.themeBox()->setCurrentIndex(dialog.themeBox()->findData(QStringLiteral("dark")));
        dialog.refreshBox()->setValue(400);
        dialog.workspaceEdit()->setText(QStringLiteral("/data/ws"));
        dialog.maxConcurrentBox()->setValue(3);
        dialog.save();
    }
    QSettings settings;
    QCOMPARE(settings.value(QStringLiteral("appearance/theme")).toString(), QStringLiteral("dark"));
    QCOMPARE(settings.value(QStringLiteral("plots/refreshMs")).toInt(), 400);
    QCOMPARE(settings.value(QStringLiteral("workspace/default")).toString(), QStringLiteral("/data/ws"));
    // The key the run queue reads.
    QCOMPARE(settings.value(QStringLiteral("runs/maxConcurrent")).toInt(), 3);
    QVERIFY(AppSettings::theme() == AppSettings::Theme::Dark);
    QCOMPARE(AppSettings::maxConcurrentRuns(), 3);

    SettingsDialog again;
    QCOMPARE(again.themeBox()->currentData().toString(), QStringLiteral("dark"));
    QCOMPARE(again.refreshBox()->value(), 400);
    QCOMPARE(again.workspaceEdit()->text(), QStringLiteral("/data/ws"));
    QCOMPARE(again.maxConcurrentBox()->value(), 3);

    // Values out of range or of the wrong type fall back, never break the page.
    settings.setValue(QStringLiteral("plots/refreshMs"), QStringLiteral("fast"));
    settings.setValue(QStringLiteral("runs/maxConcurrent"), -2);
    QCOMPARE(AppSettings::plotRefreshMs(), AppSettings::kDefaultPlotRefreshMs);
    QCOMPARE(AppSettings::maxConcurrentRuns(), 1);
    settings.setValue(QStringLiteral("plots/refreshMs"), 1);
    QCOMPARE(AppSettings::plotRefreshMs(), AppSettings::kMinPlotRefreshMs);
    QVERIFY(AppSettings::themeFromName(QStringLiteral("purple")) == AppSettings::Theme::System);
}

void TestMonitorSettings::palettesAreReadableAndReachPlots()
{
    for (const QPalette& p : { AppSettings::lightPalette(), AppSettings::darkPalette() }) {
        QVERIFY(contrast(p.color(QPalette::Text), p.color(QPalette::Base)) >= 7.0);
        QVERIFY(contrast(p.color(QPalette::WindowText), p.color(QPalette::Window)) >= 7.0);
        QVERIFY(contrast(p.color(QPalette::HighlightedText), p.color(QPalette::Highlight)) >= 4.5);
        QVERIFY(contrast(p.color(QPalette::ButtonText), p.color(QPalette::Button)) >= 4.5);
        // The series colours stand out from the plot background.
        for (int i = 0; i < 6; ++i)
            QVERIFY2(contrast(seriesColor(i), p.color(QPalette::Base)) >= 2.0, qPrintable(seriesColor(i).name()));
    }
    SeriesPlot plot(QStringLiteral("Loss"));
    AppSettings::applyTheme(AppSettings::Theme::Dark);
    QCOMPARE(QApplication::palette().color(QPalette::Window), AppSettings::darkPalette().color(QPalette::Window));
    QTRY_COMPARE(plot.axisRect()->backgroundBrush().color(), AppSettings::darkPalette().color(QPalette::Base));
    QCOMPARE(plot.xAxis->tickLabelColor(), AppSettings::darkPalette().color(QPalette::Text));
    AppSettings::applyTheme(AppSettings::Theme::Light);
    QTRY_COMPARE(plot.axisRect()->backgroundBrush().color(), AppSettings::lightPalette().color(QPalette::Base));
    QCOMPARE(plot.xAxis->tickLabelColor(), AppSettings::lightPalette().color(QPalette::Text));
}

void TestMonitorSettings::pageShortcutsAndMonitorPage()
{
    QSettings().setValue(QStringLiteral("plots/refreshMs"), 700);
    MainWindow window;
    window.show();
    QVERIFY(QTest::qWaitForWindowExposed(&window));
    QCOMPARE(window.monitorPage()->refreshInterval(), 700);
    for (int page = 0; page < MainWindow::PageCount; ++page) {
        QTest::keyClick(&window, static_cast<Qt::Key>(Qt::Key_1 + page), Qt::ControlModifier);
        QCOMPARE(int(window.currentPage()), page);
    }
    QTest::keyClick(
        &window, static_cast<Qt::Key>(int(Qt::Key_1) + int(MainWindow::MonitorPageIndex)), Qt::ControlModifier);
    QVERIFY(window.currentPage() == MainWindow::MonitorPageIndex);
}

void TestMonitorSettings::remembersSplittersAndDefaultWorkspace()
{
    QTemporaryDir first;
    QTemporaryDir second;
    Workspace::create(std::filesystem::path(first.path().toStdString()));
    Workspace::create(std::filesystem::path(second.path().toStdString()));
    QList<int> sizes;
    {
        MainWindow window;
        window.resize(1200, 800);
        window.show();
        QVERIFY(QTest::qWaitForWindowExposed(&window));
        window.showPage(MainWindow::MonitorPageIndex);
        auto* splitter = window.findChild<QSplitter*>(QStringLiteral("monitorSplitter"));
        QVERIFY(splitter);
        splitter->setSizes({ 700, 400 });
        sizes = splitter->sizes();
        QVERIFY(window.openWorkspace(first.path()));
        window.close();
    }
    QVERIFY(!QSettings().value(QStringLiteral("window/state")).toByteArray().isEmpty());
    QSettings().setValue(QStringLiteral("workspace/default"), second.path());
    MainWindow again;
    again.resize(1200, 800);
    again.show();
    QVERIFY(QTest::qWaitForWindowExposed(&again));
    QCOMPARE(again.findChild<QSplitter*>(QStringLiteral("monitorSplitter"))->sizes(), sizes);
    // The default workspace wins over the last one.
    QVERIFY(again.reopenLastWorkspace());
    QCOMPARE(again.session()->rootPath(), QDir(second.path()).absolutePath());
}

QTEST_MAIN(TestMonitorSettings)
#include "test_monitor_settings.moc"
