#include "ui/widgets/empty_state.h"

#include <QLabel>
#include <QPushButton>
#include <QVBoxLayout>

namespace tunebench::ui {

EmptyState::EmptyState(QWidget* content, QWidget* parent)
    : QStackedWidget(parent)
    , m_content(content)
    , m_messagePanel(new QWidget(this))
    , m_label(new QLabel)
    , m_action(new QPushButton)
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
    m_action->setObjectName(QStringLiteral("emptyStateAction"));
    m_action->hide();
    connect(m_action, &QPushButton::clicked, this, &EmptyState::actionTriggered);
    auto* layout = new QVBoxLayout(m_messagePanel);
    layout->addStretch(1);
    layout->addWidget(m_label);
    layout->addWidget(m_action, 0, Qt::AlignHCenter);
    layout->addStretch(1);
    addWidget(m_content);
    addWidget(m_messagePanel);
}

void EmptyState::showMessage(const QString& text, const QString& actionText)
{
    m_label->setText(text);
    m_action->setText(actionText);
    m_action->setVisible(!actionText.isEmpty());
    setCurrentWidget(m_messagePanel);
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
