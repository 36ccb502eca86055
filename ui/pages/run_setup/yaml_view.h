#pragma once

#include <QTimer>
#include <QWidget>

#include <nlohmann/json.hpp>

#include <optional>

class QLabel;
class QPlainTextEdit;

namespace tunebench::ui {

// The Run Setup page's YAML view of the configuration, kept in step with the form both ways: the form's
// configuration is shown as it changes, and typing settles 400 ms after the last key. Under the text, the YAML
// parser's or the configuration check's message (file:line:column, field, closest key), or that it is valid.
class RunYamlView : public QWidget {
    Q_OBJECT

public:
    explicit RunYamlView(QWidget* parent = nullptr);

    QString text() const;
    // Replaces the text as typing would (settled() follows after the pause).
    void setText(const QString& text);
    // Replaces the text at once, without settled(): a preset or a recorded run's configuration.
    void replaceText(const QString& text);
    // Shows the form's configuration and the configuration check's verdict on it.
    void showConfiguration(const nlohmann::json& config);
    // Parses and checks the text now, showing the verdict. Returns what parsed when it is a mapping (also
    // when the check failed, so the form can follow the rest), else nothing.
    std::optional<nlohmann::json> parse();
    // Shows a message of the page's own about the text (a dataset id the workspace lacks).
    void showError(const QString& message);
    // The parser's or the configuration check's message, empty when valid.
    QString error() const { return m_error; }
    // Typing that has not settled yet.
    bool pending() const { return m_timer.isActive(); }

Q_SIGNALS:
    // Typing paused: the page applies the text to the form.
    void settled();

private:
    void showVerdict(const nlohmann::json& config, const char* source);

    QPlainTextEdit* m_edit;
    QLabel* m_status;
    QTimer m_timer;
    QString m_error;
    bool m_updating = false;
};

} // namespace tunebench::ui
