#include "ui/models/config_diff_model.h"
#include "ui/widgets/user_text.h"

#include <QColor>
#include <QFont>

#include <nlohmann/json.hpp>

#include <set>

namespace tunebench::ui {

namespace {

void flattenInto(const nlohmann::json& value, const std::string& prefix, std::map<std::string, std::string>& out)
{
    if (value.is_object() && !value.empty()) {
        for (const auto& [key, child] : value.items())
            flattenInto(child, prefix.empty() ? key : prefix + "." + key, out);
        return;
    }
    out[prefix] = value.is_string() ? value.get<std::string>() : value.dump();
}

} // namespace

std::map<std::string, std::string> flattenConfig(const std::string& configJson)
{
    std::map<std::string, std::string> out;
    const nlohmann::json parsed = nlohmann::json::parse(configJson, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
        out["(config)"] = configJson;
        return out;
    }
    flattenInto(parsed, {}, out);
    return out;
}

ConfigDiffModel::ConfigDiffModel(QObject* parent)
    : QAbstractTableModel(parent)
{ }

void ConfigDiffModel::setConfigs(const std::vector<Config>& configs)
{
    beginResetModel();
    m_labels.clear();
    m_rows.clear();
    std::vector<std::map<std::string, std::string>> flat;
    std::set<std::string> keys;
    for (const Config& config : configs) {
        m_labels.push_back(config.label);
        flat.push_back(flattenConfig(config.json));
        for (const auto& entry : flat.back())
            keys.insert(entry.first);
    }
    for (const std::string& key : keys) {
        Row row;
        row.key = QString::fromStdString(key);
        for (const auto& values : flat) {
            const auto it = values.find(key);
            row.values.push_back(
                it == values.end() ? std::nullopt : std::optional<QString>(QString::fromStdString(it->second)));
        }
        for (const auto& v : row.values)
            row.differs = row.differs || v != row.values.front();
        m_rows.push_back(std::move(row));
    }
    rebuildVisible();
    endResetModel();
}

void ConfigDiffModel::setOnlyDifferences(bool only)
{
    if (only == m_onlyDifferences)
        return;
    beginResetModel();
    m_onlyDifferences = only;
    rebuildVisible();
    endResetModel();
}

void ConfigDiffModel::rebuildVisible()
{
    m_visible.clear();
    for (std::size_t i = 0; i < m_rows.size(); ++i) {
        if (!m_onlyDifferences || m_rows[i].differs)
            m_visible.push_back(static_cast<int>(i));
    }
}

int ConfigDiffModel::differenceCount() const
{
    int n = 0;
    for (const Row& row : m_rows)
        n += row.differs ? 1 : 0;
    return n;
}

QString ConfigDiffModel::keyAt(int row) const
{
    return row >= 0 && row < rowCount() ? m_rows[static_cast<std::size_t>(m_visible[static_cast<std::size_t>(row)])].key
                                        : QString();
}

bool ConfigDiffModel::rowDiffers(int row) const
{
    return row >= 0 && row < rowCount()
        && m_rows[static_cast<std::size_t>(m_visible[static_cast<std::size_t>(row)])].differs;
}

int ConfigDiffModel::rowCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : static_cast<int>(m_visible.size());
}

int ConfigDiffModel::columnCount(const QModelIndex& parent) const
{
    return parent.isValid() ? 0 : 1 + configCount();
}

QVariant ConfigDiffModel::data(const QModelIndex& index, int role) const
{
    if (!index.isValid() || index.row() >= rowCount())
        return {};
    const Row& row = m_rows[static_cast<std::size_t>(m_visible[static_cast<std::size_t>(index.row())])];
    const int column = index.column();
    switch (role) {
    case Qt::DisplayRole:
    case Qt::ToolTipRole:
        if (column == 0)
            return role == Qt::ToolTipRole ? userToolTip(row.key) : userText(row.key);
        if (const auto& value = row.values[static_cast<std::size_t>(column - 1)])
            return role == Qt::ToolTipRole ? userToolTip(*value) : userText(*value);
        return role == Qt::ToolTipRole ? tr("not set in this run") : QStringLiteral("\u2014");
    case kDiffersRole:
        return row.differs;
    case Qt::FontRole:
        if (row.differs) {
            QFont font;
            font.setBold(true);
            return font;
        }
        return {};
    case Qt::BackgroundRole:
        // Translucent, so the tint reads on light and dark palettes alike; a value that differs from the
        // first run's is tinted more strongly than the rest of its row, so the odd one out stands out.
        if (!row.differs)
            return {};
        if (column > 0 && row.values[static_cast<std::size_t>(column - 1)] != row.values.front())
            return QColor(255, 152, 0, 120);
        return QColor(255, 193, 7, 60);
    case kCellDiffersRole:
        return column > 0 && row.values[static_cast<std::size_t>(column - 1)] != row.values.front();
    default:
        return {};
    }
}

QVariant ConfigDiffModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    if (section == 0)
        return tr("Key");
    if (section - 1 < configCount())
        return m_labels[static_cast<std::size_t>(section - 1)];
    return {};
}

} // namespace tunebench::ui
