#pragma once

#include <QStackedWidget>

class QLabel;
class QPushButton;

namespace tunebench::ui {

// Shows either a page's content or a message saying why there is nothing to
// show and how to get something there, so an empty table is never a puzzle.
class EmptyState : public QStackedWidget {
    Q_OBJECT

public:
    // Takes ownership of content.
    explicit EmptyState(QWidget* content, QWidget* parent = nullptr);

    // Shows text (rich text allowed) instead of the content, with a button under it when actionText is given
    // (actionTriggered() when clicked): the way to get something here, one click away.
    void showMessage(const QString& text, const QString& actionText = {});
    void showContent();
    bool isShowingContent() const;
    QString message() const;
    QPushButton* actionButton() const { return m_action; }

    // What every page says before a workspace is open.
    static QString noWorkspaceText();

Q_SIGNALS:
    void actionTriggered();

private:
    QWidget* m_content;
    QWidget* m_messagePanel;
    QLabel* m_label;
    QPushButton* m_action;
};

} // namespace tunebench::ui
