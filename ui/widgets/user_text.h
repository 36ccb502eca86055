#pragma once

#include <QString>

#include <string>

class QLabel;

namespace tunebench::ui {

// Text that came from a user, a dataset file or a model (run and dataset
// names, record fields, generated samples, paths, error messages quoting them)
// shown as it is: never interpreted as HTML, with control characters and
// bidirectional overrides written as visible escapes (see escapeControls), so
// a name like "<img src=x onerror=...>" or "\x1b[31m" reads exactly so.

// For plain-text places: item views' DisplayRole, a QLabel set to PlainText,
// a QPlainTextEdit, a window title.
QString userText(const QString& text, bool multiLine = false);
QString userText(const std::string& text, bool multiLine = false);

// For a place that renders rich text (a QLabel whose message has markup of
// its own): escaped, newlines as <br> where multiLine.
QString userRichText(const QString& text, bool multiLine = false);
QString userRichText(const std::string& text, bool multiLine = false);

// A tooltip showing the text literally: Qt guesses whether a tooltip is rich
// text from its start, so user text is escaped inside markup that forces the
// rich reading (plain text with entities would show them raw).
QString userToolTip(const QString& text);
QString userToolTip(const std::string& text);

// A label that only ever shows plain text (user text included).
void makePlainLabel(QLabel* label);

} // namespace tunebench::ui
