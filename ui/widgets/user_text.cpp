#include "ui/widgets/user_text.h"

#include "core/util/display_text.h"

#include <QLabel>

namespace tunebench::ui {

QString userText(const std::string& text, bool multiLine)
{
    return QString::fromStdString(escapeControls(text, multiLine));
}

QString userText(const QString& text, bool multiLine)
{
    return userText(text.toStdString(), multiLine);
}

QString userRichText(const QString& text, bool multiLine)
{
    QString escaped = userText(text, multiLine).toHtmlEscaped();
    if (multiLine)
        escaped.replace(QLatin1Char('\n'), QStringLiteral("<br>"));
    return escaped;
}

QString userRichText(const std::string& text, bool multiLine)
{
    return userRichText(QString::fromStdString(text), multiLine);
}

QString userToolTip(const QString& text)
{
    if (text.isEmpty())
        return {};
    return QStringLiteral("<p style=\"white-space:pre-wrap\">") + userText(text, true).toHtmlEscaped()
        + QStringLiteral("</p>");
}

QString userToolTip(const std::string& text)
{
    return userToolTip(QString::fromStdString(text));
}

void makePlainLabel(QLabel* label)
{
    label->setTextFormat(Qt::PlainText);
}

} // namespace tunebench::ui
