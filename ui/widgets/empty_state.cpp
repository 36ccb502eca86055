#include "ui/widgets/empty_state.h"

#include <QLabel>

namespace tunebench::ui {

EmptyState::EmptyState(QWidget* content, QWidget* parent)
    : QStackedWidget(parent)
    , m_content(content)
    , m_label(new QLabel(this))
{
    m_label->setObjectName(QStringLiteral("emptyStateLabel"));
    m_label->setAlignment(Qt::AlignCenter);
    m_label->setWordWrap(true);
    m_label->setMargin(24);
    // Selectable, so a command shown in the message can be copied.
    m_label->setTextInteractionFlags(Qt::TextSelectableByMouse);
    QPalette palette = m_label->palette();
    palette.setColor(QPalette::WindowText, palette.color(QPalette::PlaceholderText));
    m_label->setPalette(palette);
    addWidget(m_content);
    addWidget(m_label);
}

void EmptyState::showMessage(const QString& text)
{
    m_label->setText(text);
    setCurrentWidget(m_label);
}

void EmptyState::showContent()
{
    setCurrentWidget(m_content);
}

bool EmptyState::isShowingContent() const
{
    return currentWidget() == m_content;
}

QString EmptyState::message() const
{
    return m_label->text();
}

QString EmptyState::noWorkspaceText()
{
    return tr("<p><b>No workspace is open.</b></p>"
              "<p>Choose <i>File \u25b8 New Workspace\u2026</i> to create one, "
              "or <i>File \u25b8 Open Workspace\u2026</i> to open an existing one.</p>");
}

} // namespace tunebench::ui
