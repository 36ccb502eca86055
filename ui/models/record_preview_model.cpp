#include "ui/models/record_preview_model.h"
#include "ui/widgets/user_text.h"

namespace tunebench::ui {

namespace {

QString fullText(const nlohmann::json& v)
{
    if (v.is_string())
        return QString::fromStdString(v.get<std::string>());
    if (v.is_array() && !v.empty() && v.front().is_object() && v.front().contains("role")) {
        // Messages: "role: content" a line each.
        QStringList lines;
        for (const auto& m : v) {
            const auto content = m.find("content");
            lines << QStringLiteral("%1: %2").arg(QString::fromStdString(m.value("role", "?")),
                (content != m.end() && content->is_string()) ? QString::fromStdString(content->get<std::string>())
                                                             : QString());
        }
        return lines.join(QLatin1Char('\n'));
    }
    return QString::fromStdString(v.dump());
}

} // namespace

RecordPreviewModel::RecordPreviewModel(QObject* parent)
    : QAbstractTableModel(parent)
{ }

void RecordPreviewModel::setRecords(std::vector<nlohmann::json> records, const QStringList& columns)
{
    beginResetModel();
    m_records = std::move(records);
    m_columns = columns;
    if (m_columns.isEmpty()) {
        for (const auto& r : m_records) {
            if (!r.is_object())
                continue;
            for (auto it = r.begin(); it != r.end(); ++it) {
                const QString key = QString::fromStdString(it.key());
                if (!m_columns.contains(key))
                    m_columns << key;
            }
        }
    }
    endResetModel();
}

void RecordPreviewModel::clear()
{
    setRecords({}, {});
}

int RecordPreviewModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_records.size());
}

int RecordPreviewModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_columns.size());
}

QVariant RecordPreviewModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || (role != Qt::DisplayRole && role != Qt::ToolTipRole))
        return {};
    const nlohmann::json& r = m_records[static_cast<std::size_t>(index.row())];
    const std::string key = m_columns[index.column()].toStdString();
    if (!r.is_object() || !r.contains(key))
        return {};
    const QString text = fullText(r[key]);
    if (role == Qt::ToolTipRole)
        return userToolTip(text);
    QString shown = userText(text, true);
    shown.replace(QLatin1Char('\n'), QStringLiteral(" \u23CE "));
    if (shown.size() > kMaxShownChars)
        shown = shown.left(kMaxShownChars - 1) + QStringLiteral("\u2026");
    return shown;
}

QVariant RecordPreviewModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (role != Qt::DisplayRole)
        return {};
    if (orientation == Qt::Horizontal)
        return section < m_columns.size() ? QVariant(m_columns[section]) : QVariant();
    return section + 1;
}

} // namespace tunebench::ui
