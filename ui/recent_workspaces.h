#pragma once

#include <QString>
#include <QStringList>

namespace tunebench::ui {

// The workspaces the user opened, kept in QSettings (organization and
// application name "Tunebench", set by main()), most recent first.
class RecentWorkspaces {
public:
    static constexpr int kMaxEntries = 8;

    static QStringList list();
    static QString last();
    // Moves dir to the front of the list and makes it the last workspace.
    static void remember(const QString& dir);
    static void remove(const QString& dir);
    static void clear();
};

} // namespace tunebench::ui
