#pragma once

#include <QDialog>
#include <QList>
#include <QPair>

namespace tunebench::ui {

// Help ▸ About: the versions of Tunebench and of the libraries it runs on,
// which is what a bug report needs first, and the method plugins, broken ones
// with the reason.
class AboutDialog : public QDialog {
    Q_OBJECT

public:
    explicit AboutDialog(QWidget* parent = nullptr);

    // (component, version) pairs as shown, e.g. ("Qt", "6.4.2").
    static QList<QPair<QString, QString>> versions();
};

} // namespace tunebench::ui
