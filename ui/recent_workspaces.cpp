#include "ui/recent_workspaces.h"

#include <QDir>
#include <QSettings>

namespace tunebench::ui {

namespace {

const QString kRecentKey = QStringLiteral("workspace/recent");
const QString kLastKey = QStringLiteral("workspace/last");

// One spelling per folder, so "/a/b/" and "/a/b" are one entry.
QString normalized(const QString& dir)
{
    return QDir::cleanPath(QDir(dir).absolutePath());
}

} // namespace

QStringList RecentWorkspaces::list()
{
    return QSettings().value(kRecentKey).toStringList();
}

QString RecentWorkspaces::last()
{
    return QSettings().value(kLastKey).toString();
}

void RecentWorkspaces::remember(const QString& dir)
{
    const QString path = normalized(dir);
    QStringList recent = list();
    recent.removeAll(path);
    recent.prepend(path);
    while (recent.size() > kMaxEntries)
        recent.removeLast();
    QSettings settings;
    settings.setValue(kRecentKey, recent);
    settings.setValue(kLastKey, path);
}

void RecentWorkspaces::remove(const QString& dir)
{
    const QString path = normalized(dir);
    QStringList recent = list();
    recent.removeAll(path);
    QSettings settings;
    settings.setValue(kRecentKey, recent);
    if (settings.value(kLastKey).toString() == path)
        settings.remove(kLastKey);
}

void RecentWorkspaces::clear()
{
    QSettings().remove(kRecentKey);
}

} // namespace tunebench::ui
