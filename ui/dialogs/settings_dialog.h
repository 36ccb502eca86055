#pragma once

#include <QDialog>
#include <QPalette>
#include <QString>

class QComboBox;
class QLineEdit;
class QSpinBox;

namespace tunebench::ui {

// The application's preferences, all in QSettings (the keys are part of the
// contract: the run queue reads kMaxConcurrentKey).
namespace AppSettings {

inline const QString kThemeKey = QStringLiteral("appearance/theme"); // "system", "light" or "dark"
inline const QString kPlotRefreshKey = QStringLiteral("plots/refreshMs");
inline const QString kDefaultWorkspaceKey = QStringLiteral("workspace/default");
inline const QString kMaxConcurrentKey = QStringLiteral("runs/maxConcurrent");

constexpr int kDefaultPlotRefreshMs = 250;
constexpr int kMinPlotRefreshMs = 50;
constexpr int kMaxPlotRefreshMs = 5000;

enum class Theme { System, Light, Dark };
Theme theme();
QString themeName(Theme theme);
// "system", "light", "dark"; anything else reads as System.
Theme themeFromName(const QString& name);
int plotRefreshMs();
QString defaultWorkspace();
int maxConcurrentRuns();

// The palettes behind the light and dark themes (System is the style's own).
QPalette lightPalette();
QPalette darkPalette();
// Sets the application's palette for the theme; widgets (and plots, which
// read their colours from the palette on QEvent::PaletteChange) follow.
void applyTheme(Theme theme);

} // namespace AppSettings

// Edits the settings above; on accept writes them and applies the theme.
class SettingsDialog : public QDialog {
    Q_OBJECT

public:
    explicit SettingsDialog(QWidget* parent = nullptr);

    QComboBox* themeBox() const { return m_theme; }
    QSpinBox* refreshBox() const { return m_refresh; }
    QLineEdit* workspaceEdit() const { return m_workspace; }
    QSpinBox* maxConcurrentBox() const { return m_maxConcurrent; }

    // Writes the edited values to QSettings and applies the theme (what OK does).
    void save();

private:
    QComboBox* m_theme;
    QSpinBox* m_refresh;
    QLineEdit* m_workspace;
    QSpinBox* m_maxConcurrent;
};

} // namespace tunebench::ui
