#pragma once

#include <QList>
#include <QString>

namespace tunebench::ui {

// A run as the export and report dialogs offer it.
struct RunChoice {
    qint64 id = 0;
    QString label; // "#3 lora-r8 (finished)"
};

} // namespace tunebench::ui
