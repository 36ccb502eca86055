#include "ui/pages/run_setup/yaml_view.h"

#include "core/method/plugin_registry.h"
#include "core/train/train_config.h"
#include "core/util/yaml_json.h"
#include "ui/widgets/user_text.h"

#include <QFontDatabase>
#include <QLabel>
#include <QPlainTextEdit>
#include <QVBoxLayout>

#include <exception>

namespace tunebench::ui {

namespace {

constexpr int kDebounceMs = 400;

} // namespace

RunYamlView::RunYamlView(QWidget* parent)
    : QWidget(parent)
{
    m_edit = new QPlainTextEdit;
    m_edit->setObjectName(QStringLiteral("yamlEdit"));
    m_edit->setFont(QFontDatabase::systemFont(QFontDatabase::FixedFont));
    m_edit->setLineWrapMode(QPlainTextEdit::NoWrap);
    m_edit->setTabChangesFocus(false);
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("yamlStatus"));
    m_status->setWordWrap(true);
    makePlainLabel(m_status); // errors quote the YAML
    m_status->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(new QLabel(tr("Configuration (YAML, kept in step with the form):")));
    layout->addWidget(m_edit, 1);
    layout->addWidget(m_status);

    m_timer.setSingleShot(true);
    m_timer.setInterval(kDebounceMs);
    connect(&m_timer, &QTimer::timeout, this, &RunYamlView::settled);
    connect(m_edit, &QPlainTextEdit::textChanged, this, [this] {
        if (!m_updating)
            m_timer.start();
    });
}

QString RunYamlView::text() const
{
    return m_edit->toPlainText();
}

void RunYamlView::setText(const QString& text)
{
    m_edit->setPlainText(text);
}

void RunYamlView::replaceText(const QString& text)
{
    const bool was = m_updating;
    m_updating = true;
    m_edit->setPlainText(text);
    m_updating = was;
}

void RunYamlView::showConfiguration(const nlohmann::json& config)
{
    const QString text = QString::fromStdString(jsonToYaml(config));
    m_timer.stop();
    if (text != m_edit->toPlainText())
        replaceText(text);
    // The form's own configuration still goes through the check Start does.
    showVerdict(config, "configuration");
}

std::optional<nlohmann::json> RunYamlView::parse()
{
    m_timer.stop();
    nlohmann::json parsed;
    try {
        parsed = yamlToJson(m_edit->toPlainText().toStdString(), "YAML");
        if (parsed.is_null())
            parsed = nlohmann::json::object();
    } catch (const std::exception& e) {
        showError(QString::fromUtf8(e.what()));
        return std::nullopt;
    }
    showVerdict(parsed, "YAML");
    if (!parsed.is_object())
        return std::nullopt;
    return parsed;
}

void RunYamlView::showVerdict(const nlohmann::json& config, const char* source)
{
    try {
        TrainConfig::fromJson(config, defaultPluginRegistry(), source);
        m_error.clear();
        m_status->setText(tr("\u2714 Valid configuration."));
        m_status->setStyleSheet(QString());
    } catch (const std::exception& e) {
        showError(QString::fromUtf8(e.what()));
    }
}

void RunYamlView::showError(const QString& message)
{
    m_error = message;
    m_status->setText(userText(message, /*multiLine=*/true));
    m_status->setStyleSheet(QStringLiteral("color: #c62828;"));
}

} // namespace tunebench::ui
