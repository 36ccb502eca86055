#include "ui/dialogs/settings_dialog.h"

#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStyle>
#include <QVBoxLayout>

#include <algorithm>

namespace tunebench::ui {

namespace AppSettings {

Theme theme()
{
    return themeFromName(QSettings().value(kThemeKey, QStringLiteral("system")).toString());
}

QString themeName(Theme theme)
{
    switch (theme) {
    case Theme::Light:
        return QStringLiteral("light");
    case Theme::Dark:
        return QStringLiteral("dark");
    case Theme::System:
        break;
    }
    return QStringLiteral("system");
}

Theme themeFromName(const QString& name)
{
    if (name == QLatin1String("light"))
        return Theme::Light;
    if (name == QLatin1String("dark"))
        return Theme::Dark;
    return Theme::System;
}

int plotRefreshMs()
{
    bool ok = false;
    const int ms = QSettings().value(kPlotRefreshKey, kDefaultPlotRefreshMs).toInt(&ok);
    return ok ? std::clamp(ms, kMinPlotRefreshMs, kMaxPlotRefreshMs) : kDefaultPlotRefreshMs;
}

QString defaultWorkspace()
{
    return QSettings().value(kDefaultWorkspaceKey).toString();
}

int maxConcurrentRuns()
{
    bool ok = false;
    const int n = QSettings().value(kMaxConcurrentKey, 1).toInt(&ok);
    return ok && n >= 1 ? n : 1;
}

QPalette lightPalette()
{
    QPalette p;
    const QColor window(0xf3, 0xf3, 0xf3);
    const QColor text(0x1b, 0x1b, 0x1b);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, Qt::white);
    p.setColor(QPalette::AlternateBase, QColor(0xf7, 0xf7, 0xf7));
    p.setColor(QPalette::ToolTipBase, QColor(0xff, 0xff, 0xdc));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x70, 0x70, 0x70));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0xe8, 0xe8, 0xe8));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, Qt::red);
    p.setColor(QPalette::Highlight, QColor(0x15, 0x65, 0xc0));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x0d, 0x47, 0xa1));
    p.setColor(QPalette::Light, Qt::white);
    p.setColor(QPalette::Midlight, QColor(0xe0, 0xe0, 0xe0));
    p.setColor(QPalette::Mid, QColor(0xb0, 0xb0, 0xb0));
    p.setColor(QPalette::Dark, QColor(0x80, 0x80, 0x80));
    p.setColor(QPalette::Shadow, QColor(0x40, 0x40, 0x40));
    for (const auto role : { QPalette::WindowText, QPalette::Text, QPalette::ButtonText })
        p.setColor(QPalette::Disabled, role, QColor(0x9e, 0x9e, 0x9e));
    return p;
}

QPalette darkPalette()
{
    QPalette p;
    const QColor window(0x2b, 0x2b, 0x2e);
    const QColor text(0xe8, 0xe8, 0xe8);
    p.setColor(QPalette::Window, window);
    p.setColor(QPalette::WindowText, text);
    p.setColor(QPalette::Base, QColor(0x1e, 0x1e, 0x20));
    p.setColor(QPalette::AlternateBase, QColor(0x26, 0x26, 0x29));
    p.setColor(QPalette::ToolTipBase, QColor(0x3a, 0x3a, 0x3e));
    p.setColor(QPalette::ToolTipText, text);
    p.setColor(QPalette::PlaceholderText, QColor(0x9a, 0x9a, 0x9a));
    p.setColor(QPalette::Text, text);
    p.setColor(QPalette::Button, QColor(0x3a, 0x3a, 0x3e));
    p.setColor(QPalette::ButtonText, text);
    p.setColor(QPalette::BrightText, QColor(0xff, 0x6e, 0x6e));
    p.setColor(QPalette::Highlight, QColor(0x2f, 0x6f, 0xc0));
    p.setColor(QPalette::HighlightedText, Qt::white);
    p.setColor(QPalette::Link, QColor(0x82, 0xb1, 0xff));
    p.setColor(QPalette::Light, QColor(0x50, 0x50, 0x55));
    p.setColor(QPalette::Midlight, QColor(0x44, 0x44, 0x48));
    p.setColor(QPalette::Mid, QColor(0x38, 0x38, 0x3c));
    p.setColor(QPalette::Dark, QColor(0x18, 0x18, 0x1a));
    p.setColor(QPalette::Shadow, Qt::black);
    for (const auto role : { QPalette::WindowText, QPalette::Text, QPalette::ButtonText })
        p.setColor(QPalette::Disabled, role, QColor(0x80, 0x80, 0x80));
    return p;
}

void applyTheme(Theme theme)
{
    // Only a palette set here is taken back for System, so the platform's own theme is left alone.
    static bool ours = false;
    if (theme == Theme::System && !ours)
        return;
    ours = theme != Theme::System;
    switch (theme) {
    case Theme::Light:
        QApplication::setPalette(lightPalette());
        break;
    case Theme::Dark:
        QApplication::setPalette(darkPalette());
        break;
    case Theme::System:
        QApplication::setPalette(QPalette()); // an empty palette resolves to the platform's again
        break;
    }
}

} // namespace AppSettings

SettingsDialog::SettingsDialog(QWidget* parent)
    : QDialog(parent)
    , m_theme(new QComboBox)
    , m_refresh(new QSpinBox)
    , m_workspace(new QLineEdit)
    , m_maxConcurrent(new QSpinBox)
{
    setWindowTitle(tr("Settings"));
    setObjectName(QStringLiteral("settingsDialog"));
    m_theme->setObjectName(QStringLiteral("settingsTheme"));
    m_theme->addItem(tr("System"), QStringLiteral("system"));
    m_theme->addItem(tr("Light"), QStringLiteral("light"));
    m_theme->addItem(tr("Dark"), QStringLiteral("dark"));
    m_theme->setCurrentIndex(m_theme->findData(AppSettings::themeName(AppSettings::theme())));

    m_refresh->setObjectName(QStringLiteral("settingsRefresh"));
    m_refresh->setRange(AppSettings::kMinPlotRefreshMs, AppSettings::kMaxPlotRefreshMs);
    m_refresh->setSingleStep(50);
    m_refresh->setSuffix(tr(" ms"));
    m_refresh->setValue(AppSettings::plotRefreshMs());
    m_refresh->setToolTip(tr("How often live plots redraw what changed (appends in between are drawn together)"));

    m_workspace->setObjectName(QStringLiteral("settingsWorkspace"));
    m_workspace->setText(AppSettings::defaultWorkspace());
    m_workspace->setPlaceholderText(tr("the last workspace opened"));
    auto* browse = new QPushButton(tr("&Browse\u2026"));
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(
            this, tr("Default Workspace"), m_workspace->text().isEmpty() ? QDir::homePath() : m_workspace->text());
        if (!dir.isEmpty())
            m_workspace->setText(dir);
    });
    auto* workspaceRow = new QHBoxLayout;
    workspaceRow->addWidget(m_workspace, 1);
    workspaceRow->addWidget(browse);

    m_maxConcurrent->setObjectName(QStringLiteral("settingsMaxConcurrent"));
    m_maxConcurrent->setRange(1, 16);
    m_maxConcurrent->setValue(AppSettings::maxConcurrentRuns());
    m_maxConcurrent->setToolTip(tr("Runs the queue trains at the same time"));

    auto* form = new QFormLayout;
    form->addRow(tr("&Theme:"), m_theme);
    form->addRow(tr("Plot &refresh:"), m_refresh);
    form->addRow(tr("Default &workspace:"), workspaceRow);
    form->addRow(tr("&Concurrent runs:"), m_maxConcurrent);

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        save();
        accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

void SettingsDialog::save()
{
    QSettings settings;
    settings.setValue(AppSettings::kThemeKey, m_theme->currentData().toString());
    settings.setValue(AppSettings::kPlotRefreshKey, m_refresh->value());
    const QString workspace = m_workspace->text().trimmed();
    if (workspace.isEmpty())
        settings.remove(AppSettings::kDefaultWorkspaceKey);
    else
        settings.setValue(AppSettings::kDefaultWorkspaceKey, workspace);
    settings.setValue(AppSettings::kMaxConcurrentKey, m_maxConcurrent->value());
    AppSettings::applyTheme(AppSettings::theme());
}

} // namespace tunebench::ui
