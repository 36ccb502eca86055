#pragma once

#include <QAbstractTableModel>
#include <QString>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace tunebench::ui {

// Flattens a JSON config into dotted paths ("optimizer.lr" -> "0.0002").
// Arrays are one value (["q_proj","v_proj"]): a list of target modules reads
// better whole than as one row per element. Strings lose their quotes. Text
// that is not a JSON object yields a single "(config)" entry holding it.
std::map<std::string, std::string> flattenConfig(const std::string& configJson);

// Side-by-side configs of several runs: column 0 is the dotted key, then one
// column per run. Rows whose values differ (a key missing from a run counts as
// a difference) are flagged with kDiffersRole, bold and a tinted background;
// within them the values that differ from the first run's are tinted more
// strongly (kCellDiffersRole).
class ConfigDiffModel : public QAbstractTableModel {
    Q_OBJECT

public:
    static constexpr int kDiffersRole = Qt::UserRole + 3;
    // True for a value cell whose value differs from the first run's (the one compared against).
    static constexpr int kCellDiffersRole = Qt::UserRole + 4;

    struct Config {
        QString label; // the column header, e.g. "#3 lora-r8"
        std::string json;
    };

    explicit ConfigDiffModel(QObject* parent = nullptr);

    void setConfigs(const std::vector<Config>& configs);
    // Hides the rows where every run has the same value.
    void setOnlyDifferences(bool only);
    bool onlyDifferences() const { return m_onlyDifferences; }

    int configCount() const { return static_cast<int>(m_labels.size()); }
    // Keys with different values, over all rows (not only the visible ones).
    int differenceCount() const;
    int keyCount() const { return static_cast<int>(m_rows.size()); }
    QString keyAt(int row) const;
    bool rowDiffers(int row) const;

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

private:
    struct Row {
        QString key;
        std::vector<std::optional<QString>> values; // one per config; none when the key is missing
        bool differs = false;
    };

    void rebuildVisible();

    std::vector<QString> m_labels;
    std::vector<Row> m_rows;
    std::vector<int> m_visible; // indexes into m_rows
    bool m_onlyDifferences = false;
};

} // namespace tunebench::ui
