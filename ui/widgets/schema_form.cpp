#include "ui/widgets/schema_form.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QSpinBox>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tunebench::ui {

namespace {

using Type = ParameterSpec::Type;

constexpr double kUnbounded = 1e12;
constexpr int kIntMax = std::numeric_limits<int>::max();

// A number box that shows 2e-05 as "2e-05" rather than "0.00002000", keeps
// small values (learning rates, epsilons) exact and accepts scientific input.
class NumberSpinBox : public QDoubleSpinBox {
public:
    NumberSpinBox()
    {
        setDecimals(20);
        setKeyboardTracking(false);
    }

    QString textFromValue(double value) const override { return QString::number(value, 'g', 10); }

    double valueFromText(const QString& text) const override { return text.trimmed().toDouble(); }

    QValidator::State validate(QString& text, int&) const override
    {
        bool ok = false;
        const double v = text.trimmed().toDouble(&ok);
        if (ok && v >= minimum() && v <= maximum())
            return QValidator::Acceptable;
        return QValidator::Intermediate;
    }

    void stepBy(int steps) override
    {
        // Steps of a tenth of the value's order of magnitude: 2e-4 moves by 1e-5.
        const double v = value();
        const double magnitude = v == 0 ? 0.1 : std::pow(10.0, std::floor(std::log10(std::abs(v))) - 1);
        setValue(v + steps * magnitude);
    }
};

QString describe(const nlohmann::json& value)
{
    if (value.is_null())
        return QObject::tr("none (required)");
    if (value.is_string())
        return QString::fromStdString(value.get<std::string>());
    return QString::fromStdString(value.dump());
}

QString tooltipOf(const ParameterSpec& spec)
{
    QStringList parts;
    if (!spec.help.empty())
        parts << QString::fromStdString(spec.help);
    parts << QObject::tr("Key: %1").arg(QString::fromStdString(spec.name));
    parts << QObject::tr("Default: %1").arg(describe(spec.defaultValue));
    if (spec.minimum || spec.maximum) {
        parts << QObject::tr("Range: %1 to %2")
                     .arg(spec.minimum ? QString::number(*spec.minimum) : QStringLiteral("-\u221e"),
                         spec.maximum ? QString::number(*spec.maximum) : QStringLiteral("\u221e"));
    }
    if (!spec.aliases.empty()) {
        QStringList aliases;
        for (const auto& a : spec.aliases)
            aliases << QString::fromStdString(a);
        parts << QObject::tr("Also written as: %1").arg(aliases.join(QStringLiteral(", ")));
    }
    if (spec.type == Type::StringList || spec.type == Type::IntegerList)
        parts << QObject::tr("One item a line.");
    return parts.join(QLatin1Char('\n'));
}

QStringList linesOf(const QPlainTextEdit* edit)
{
    QStringList items;
    for (const QString& line : edit->toPlainText().split(QLatin1Char('\n'))) {
        if (!line.trimmed().isEmpty())
            items << line.trimmed();
    }
    return items;
}

bool sameValue(const nlohmann::json& a, const nlohmann::json& b)
{
    if (a.is_number() && b.is_number()) {
        const double x = a.get<double>();
        const double y = b.get<double>();
        return x == y || std::abs(x - y) <= 1e-12 * std::max(std::abs(x), std::abs(y));
    }
    if (a.is_array() && b.is_string())
        return a.size() == 1 && a[0] == b;
    if (b.is_array() && a.is_string())
        return b.size() == 1 && b[0] == a;
    return a == b;
}

} // namespace

SchemaForm::SchemaForm(QWidget* parent)
    : QWidget(parent)
    , m_layout(new QFormLayout(this))
{
    m_layout->setContentsMargins(0, 0, 0, 0);
    m_layout->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
}

void SchemaForm::clear()
{
    while (m_layout->rowCount() > 0)
        m_layout->removeRow(0);
    m_fields.clear();
}

void SchemaForm::setSchema(
    const ParameterSchema& schema, const std::set<std::string>& only, const std::set<std::string>& skip)
{
    clear();
    for (const ParameterSpec& spec : schema.specs()) {
        if (skip.count(spec.name) || (!only.empty() && !only.count(spec.name)))
            continue;
        Field field { spec, nullptr };
        const QString name = QString::fromStdString(spec.name);
        switch (spec.type) {
        case Type::Integer: {
            auto* box = new QSpinBox;
            box->setKeyboardTracking(false);
            box->setRange(spec.minimum ? static_cast<int>(std::max(*spec.minimum, double(-kIntMax))) : -kIntMax,
                spec.maximum ? static_cast<int>(std::min(*spec.maximum, double(kIntMax))) : kIntMax);
            connect(box, &QSpinBox::valueChanged, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = box;
            break;
        }
        case Type::Number: {
            auto* box = new NumberSpinBox;
            box->setRange(spec.minimum.value_or(-kUnbounded), spec.maximum.value_or(kUnbounded));
            connect(box, &QDoubleSpinBox::valueChanged, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = box;
            break;
        }
        case Type::Boolean: {
            auto* box = new QCheckBox;
            connect(box, &QCheckBox::toggled, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = box;
            break;
        }
        case Type::Choice: {
            auto* box = new QComboBox;
            for (const auto& c : spec.choices)
                box->addItem(QString::fromStdString(c));
            connect(box, &QComboBox::currentIndexChanged, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = box;
            break;
        }
        case Type::String: {
            auto* edit = new QLineEdit;
            if (spec.defaultValue.is_null())
                edit->setPlaceholderText(tr("required"));
            connect(edit, &QLineEdit::textEdited, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = edit;
            break;
        }
        case Type::StringList:
        case Type::IntegerList: {
            auto* edit = new QPlainTextEdit;
            edit->setTabChangesFocus(true);
            edit->setFixedHeight(edit->fontMetrics().lineSpacing() * 3 + 12);
            edit->setPlaceholderText(spec.type == Type::IntegerList ? tr("one number a line") : tr("one item a line"));
            connect(edit, &QPlainTextEdit::textChanged, this, [this] {
                if (!m_setting)
                    Q_EMIT edited();
            });
            field.editor = edit;
            break;
        }
        }
        field.editor->setObjectName(name);
        field.editor->setToolTip(tooltipOf(spec));
        auto* label = new QLabel(name + QLatin1Char(':'));
        label->setToolTip(field.editor->toolTip());
        label->setBuddy(field.editor);
        auto* row = new QWidget;
        auto* rowLayout = new QHBoxLayout(row);
        rowLayout->setContentsMargins(0, 0, 0, 0);
        rowLayout->addWidget(field.editor, 2);
        auto* help = new QLabel(QString::fromStdString(spec.help));
        help->setWordWrap(true);
        help->setEnabled(false); // the palette's muted text colour
        help->setToolTip(field.editor->toolTip());
        rowLayout->addWidget(help, 3);
        m_layout->addRow(label, row);
        m_fields.push_back(std::move(field));
    }
    resetToDefaults();
}

void SchemaForm::resetToDefaults()
{
    const bool was = m_setting;
    m_setting = true;
    for (Field& f : m_fields)
        setValue(f, f.spec.defaultValue);
    m_setting = was;
}

nlohmann::json SchemaForm::valueOf(const Field& field) const
{
    switch (field.spec.type) {
    case Type::Integer:
        return static_cast<std::int64_t>(static_cast<QSpinBox*>(field.editor)->value());
    case Type::Number:
        return static_cast<QDoubleSpinBox*>(field.editor)->value();
    case Type::Boolean:
        return static_cast<QCheckBox*>(field.editor)->isChecked();
    case Type::Choice:
        return static_cast<QComboBox*>(field.editor)->currentText().toStdString();
    case Type::String: {
        const QString text = static_cast<QLineEdit*>(field.editor)->text();
        if (text.isEmpty() && field.spec.defaultValue.is_null())
            return nullptr;
        return text.toStdString();
    }
    case Type::StringList: {
        nlohmann::json list = nlohmann::json::array();
        for (const QString& item : linesOf(static_cast<QPlainTextEdit*>(field.editor)))
            list.push_back(item.toStdString());
        return list;
    }
    case Type::IntegerList: {
        nlohmann::json list = nlohmann::json::array();
        for (const QString& item : linesOf(static_cast<QPlainTextEdit*>(field.editor))) {
            bool ok = false;
            const qlonglong v = item.toLongLong(&ok);
            // Text that is no integer goes through as text, so the config check names the field.
            list.push_back(ok ? nlohmann::json(v) : nlohmann::json(item.toStdString()));
        }
        return list;
    }
    }
    return nullptr;
}

void SchemaForm::setValue(Field& field, const nlohmann::json& value)
{
    switch (field.spec.type) {
    case Type::Integer:
        static_cast<QSpinBox*>(field.editor)
            ->setValue(value.is_number()
                    ? static_cast<int>(std::clamp(value.get<double>(), -double(kIntMax), double(kIntMax)))
                    : 0);
        break;
    case Type::Number:
        static_cast<QDoubleSpinBox*>(field.editor)->setValue(value.is_number() ? value.get<double>() : 0.0);
        break;
    case Type::Boolean:
        static_cast<QCheckBox*>(field.editor)->setChecked(value.is_boolean() && value.get<bool>());
        break;
    case Type::Choice: {
        auto* box = static_cast<QComboBox*>(field.editor);
        const int index = value.is_string() ? box->findText(QString::fromStdString(value.get<std::string>())) : -1;
        box->setCurrentIndex(std::max(index, 0));
        break;
    }
    case Type::String:
        static_cast<QLineEdit*>(field.editor)
            ->setText(value.is_string() ? QString::fromStdString(value.get<std::string>()) : QString());
        break;
    case Type::StringList:
    case Type::IntegerList: {
        QStringList lines;
        const nlohmann::json list = value.is_array() ? value : nlohmann::json::array({ value });
        for (const auto& item : list) {
            if (item.is_string())
                lines << QString::fromStdString(item.get<std::string>());
            else if (!item.is_null())
                lines << QString::fromStdString(item.dump());
        }
        auto* edit = static_cast<QPlainTextEdit*>(field.editor);
        if (edit->toPlainText() != lines.join(QLatin1Char('\n')))
            edit->setPlainText(lines.join(QLatin1Char('\n')));
        break;
    }
    }
}

nlohmann::json SchemaForm::values() const
{
    nlohmann::json out = nlohmann::json::object();
    for (const Field& f : m_fields) {
        nlohmann::json v = valueOf(f);
        if (!v.is_null())
            out[f.spec.name] = std::move(v);
    }
    return out;
}

nlohmann::json SchemaForm::changedValues() const
{
    nlohmann::json out = nlohmann::json::object();
    for (const Field& f : m_fields) {
        nlohmann::json v = valueOf(f);
        if (v.is_null())
            continue;
        if (f.spec.defaultValue.is_null() || !sameValue(v, f.spec.defaultValue))
            out[f.spec.name] = std::move(v);
    }
    return out;
}

void SchemaForm::setValues(const nlohmann::json& values, bool resetOthers)
{
    const bool was = m_setting;
    m_setting = true;
    for (Field& f : m_fields) {
        const nlohmann::json* found = nullptr;
        if (values.is_object()) {
            if (auto it = values.find(f.spec.name); it != values.end())
                found = &*it;
            for (const auto& alias : f.spec.aliases) {
                if (auto it = values.find(alias); !found && it != values.end())
                    found = &*it;
            }
        }
        if (found)
            setValue(f, *found);
        else if (resetOthers)
            setValue(f, f.spec.defaultValue);
    }
    m_setting = was;
}

QStringList SchemaForm::fieldNames() const
{
    QStringList names;
    for (const Field& f : m_fields)
        names << QString::fromStdString(f.spec.name);
    return names;
}

QWidget* SchemaForm::editor(const QString& name) const
{
    for (const Field& f : m_fields) {
        if (QString::fromStdString(f.spec.name) == name)
            return f.editor;
    }
    return nullptr;
}

} // namespace tunebench::ui
