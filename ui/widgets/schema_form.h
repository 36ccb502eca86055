#pragma once

#include "core/method/parameter_schema.h"

#include <QString>
#include <QStringList>
#include <QWidget>

#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

class QFormLayout;

namespace tunebench::ui {

// A form generated from a ParameterSchema: one field per parameter, chosen by
// type (spin boxes with the schema's range, a check box, a combo box for
// choices, a line edit for text, a small text box with one item a line for
// lists), the help text beside it and in the tooltip with the default and the
// range. Values go in and out as JSON under the canonical names, the way
// ParameterSchema::resolve() takes them.
class SchemaForm : public QWidget {
    Q_OBJECT

public:
    explicit SchemaForm(QWidget* parent = nullptr);

    // Rebuilds the fields for the schema's parameters, skipping the names in
    // `skip` and, when `only` is not empty, keeping just those. Fields start at
    // their defaults.
    void setSchema(
        const ParameterSchema& schema, const std::set<std::string>& only = {}, const std::set<std::string>& skip = {});
    bool isEmpty() const { return m_fields.empty(); }

    // Every field's value by canonical name; a required field left empty is absent.
    nlohmann::json values() const;
    // Only the fields whose value differs from the default (and required ones).
    nlohmann::json changedValues() const;
    // Sets the fields named (by name or alias) in `values`; keys the form does
    // not have are ignored. With resetOthers the other fields go back to their
    // defaults. Emits no edited().
    void setValues(const nlohmann::json& values, bool resetOthers = true);
    void resetToDefaults();

    QStringList fieldNames() const;
    // The editor widget of a field (QSpinBox, QDoubleSpinBox, QCheckBox,
    // QComboBox, QLineEdit or QPlainTextEdit), or nullptr.
    QWidget* editor(const QString& name) const;

Q_SIGNALS:
    // The user changed a field.
    void edited();

private:
    struct Field {
        ParameterSpec spec;
        QWidget* editor = nullptr;
    };
    nlohmann::json valueOf(const Field& field) const;
    void setValue(Field& field, const nlohmann::json& value);
    void clear();

    QFormLayout* m_layout;
    std::vector<Field> m_fields;
    bool m_setting = false;
};

} // namespace tunebench::ui
