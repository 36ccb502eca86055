#pragma once

#include <QAbstractTableModel>
#include <QStringList>

#include <nlohmann/json.hpp>

#include <vector>

namespace tunebench::ui {

// Records (JSON objects) as a table: one row a record, one column a key.
// Strings show as text (newlines as ⏎, long ones shortened; the full value is
// the tooltip), other values as compact JSON. Used for a file's first records
// in the import dialog and for an imported dataset's canonical records.
class RecordPreviewModel : public QAbstractTableModel {
    Q_OBJECT

public:
    explicit RecordPreviewModel(QObject* parent = nullptr);

    // Columns: the given keys, or (empty) every key in order of first appearance.
    void setRecords(std::vector<nlohmann::json> records, const QStringList& columns = {});
    void clear();
    const std::vector<nlohmann::json>& records() const { return m_records; }
    QStringList columns() const { return m_columns; }

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    static constexpr int kMaxShownChars = 160;

private:
    std::vector<nlohmann::json> m_records;
    QStringList m_columns;
};

} // namespace tunebench::ui
