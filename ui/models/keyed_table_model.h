#pragma once

#include "core/store/workspace.h"
#include "ui/workspace_session.h"

#include <QAbstractTableModel>
#include <QSet>

#include <cstdint>
#include <exception>
#include <vector>

namespace tunebench::ui {

// Roles shared by the store table models.
inline constexpr int kSortRole = Qt::UserRole + 1; // numbers as numbers, so id 10 sorts after id 9
inline constexpr int kIdRole = Qt::UserRole + 2; // the row's store id (qint64)

// A table over store records that have an `id`, refreshed by matching rows by
// id: rows that went away are removed, new ones inserted, the rest updated in
// place. Views keep their selection, current index and scroll position across
// a refresh, which a model reset would lose every poll.
template <typename Record> class KeyedTableModel : public QAbstractTableModel {
public:
    explicit KeyedTableModel(WorkspaceSession* session, QObject* parent = nullptr)
        : QAbstractTableModel(parent)
        , m_session(session)
    { }

    int rowCount(const QModelIndex& parent = {}) const override
    {
        return parent.isValid() ? 0 : static_cast<int>(m_records.size());
    }

    const Record* recordAt(int row) const
    {
        return row >= 0 && row < rowCount() ? &m_records[static_cast<std::size_t>(row)] : nullptr;
    }

    // The row of the record with this id, or -1.
    int rowOf(std::int64_t id) const
    {
        for (std::size_t i = 0; i < m_records.size(); ++i) {
            if (m_records[i].id == id)
                return static_cast<int>(i);
        }
        return -1;
    }

protected:
    // Loads the records with load(workspace) (empty without a workspace) and
    // applies them. A failed read is reported to the session and leaves the
    // rows as they were. Returns whether the read succeeded.
    template <typename Loader> bool reload(Loader&& load, const char* what)
    {
        std::vector<Record> fresh;
        if (Workspace* ws = m_session->workspace()) {
            try {
                fresh = load(*ws);
            } catch (const std::exception& e) {
                m_session->reportError(tr("Cannot read %1: %2").arg(QLatin1String(what), QString::fromUtf8(e.what())));
                return false;
            }
        }
        setRecords(std::move(fresh));
        return true;
    }

    void setRecords(std::vector<Record> fresh)
    {
        QSet<std::int64_t> freshIds;
        for (const Record& r : fresh)
            freshIds.insert(r.id);
        for (int row = rowCount() - 1; row >= 0; --row) {
            if (freshIds.contains(m_records[static_cast<std::size_t>(row)].id))
                continue;
            beginRemoveRows({}, row, row);
            m_records.erase(m_records.begin() + row);
            endRemoveRows();
        }
        // The survivors must appear in fresh in the same order for in-place
        // insertion; the store lists by id, so anything else is a reset.
        std::size_t survivor = 0;
        for (const Record& r : fresh) {
            if (survivor < m_records.size() && m_records[survivor].id == r.id)
                ++survivor;
        }
        if (survivor != m_records.size()) {
            beginResetModel();
            m_records = std::move(fresh);
            endResetModel();
            return;
        }
        for (std::size_t i = 0; i < fresh.size(); ++i) {
            if (i < m_records.size() && m_records[i].id == fresh[i].id) {
                m_records[i] = std::move(fresh[i]);
                continue;
            }
            const int row = static_cast<int>(i);
            beginInsertRows({}, row, row);
            m_records.insert(m_records.begin() + row, std::move(fresh[i]));
            endInsertRows();
        }
        if (!m_records.empty())
            Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, columnCount() - 1));
    }

    WorkspaceSession* m_session;
    std::vector<Record> m_records;
};

} // namespace tunebench::ui
