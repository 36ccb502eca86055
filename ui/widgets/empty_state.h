#pragma once

#include <QStackedWidget>

class QLabel;

namespace tunebench::ui {

// Shows either a page's content or a message saying why there is nothing to
// show and how to get something there, so an empty table is never a puzzle.
class EmptyState : public QStackedWidget {
    Q_OBJECT

public:
    // Takes ownership of content.
    explicit EmptyState(QWidget* content, QWidget* parent = nullptr);

    // Shows text (rich text allowed) instead of the content.
    void showMessage(const QString& text);
    void showContent();
    bool isShowingContent() const;
    QString message() const;

    // What every page says before a workspace is open.
    static QString noWorkspaceText();

private:
    QWidget* m_content;
    QLabel* m_label;
};

} // namespace tunebench::ui
