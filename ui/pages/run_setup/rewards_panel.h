#pragma once

#include "core/reward/reward_set.h"

#include <QWidget>

#include <nlohmann/json.hpp>

#include <vector>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPushButton;
class QVBoxLayout;

namespace tunebench::ui {

class SchemaForm;

// Run Setup's "Rewards" group for online objectives (grpo): the run's reward functions, each a reward plugin
// picked from those loaded, its parameters in a form generated from the plugin's schema, its weight and an optional
// metric name. It reads and writes the configuration's `rewards:` list as the CLI reads it (core/reward/reward_set.h),
// and says what the configuration check says of it, naming the entry and key.
class RewardsPanel : public QWidget {
    Q_OBJECT

public:
    explicit RewardsPanel(QWidget* parent = nullptr);

    // The `rewards:` list: {type, weight, name when given, the parameters that differ from their defaults}.
    nlohmann::json rewards() const;
    // Shows the specs of a parsed configuration (names the parser gave by default are left unwritten).
    void setRewards(const std::vector<RewardSpec>& specs);
    // What the configuration check says of the list (empty when valid).
    QString problem() const { return m_problem; }

    int count() const { return static_cast<int>(m_entries.size()); }
    // Adds an entry of the reward type (the first loaded when empty or unknown); returns its index.
    int addReward(const QString& type = QString());
    void removeReward(int index);
    QComboBox* typeCombo(int index) const { return m_entries[static_cast<std::size_t>(index)].type; }
    QDoubleSpinBox* weightSpin(int index) const { return m_entries[static_cast<std::size_t>(index)].weight; }
    QLineEdit* nameEdit(int index) const { return m_entries[static_cast<std::size_t>(index)].name; }
    SchemaForm* form(int index) const { return m_entries[static_cast<std::size_t>(index)].form; }
    QPushButton* removeButton(int index) const { return m_entries[static_cast<std::size_t>(index)].remove; }
    QPushButton* addButton() const { return m_add; }
    QLabel* messageLabel() const { return m_message; }

Q_SIGNALS:
    // A user edited the list (setRewards does not count).
    void edited();

private:
    struct Entry {
        QWidget* box = nullptr;
        QComboBox* type = nullptr;
        QDoubleSpinBox* weight = nullptr;
        QLineEdit* name = nullptr;
        QLabel* summary = nullptr;
        SchemaForm* form = nullptr;
        QPushButton* remove = nullptr;
    };
    void buildForm(Entry& entry);
    void nameEntries();
    void check();
    void editedUnlessUpdating();

    std::vector<Entry> m_entries;
    QVBoxLayout* m_list;
    QPushButton* m_add;
    QLabel* m_empty;
    QLabel* m_message;
    QString m_problem;
    bool m_updating = false;
};

} // namespace tunebench::ui
