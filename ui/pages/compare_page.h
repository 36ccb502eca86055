#pragma once

#include "ui/models/config_diff_model.h"

#include <QSet>
#include <QWidget>

#include <cstdint>
#include <vector>

class QCheckBox;
class QLabel;
class QListWidget;
class QListWidgetItem;
class QTableView;

namespace tunebench::ui {

class EmptyState;
class WorkspaceSession;

// Compares the configurations of the runs the user checks: one row per
// flattened config key, one column per run, differing rows highlighted.
class ComparePage : public QWidget {
    Q_OBJECT

public:
    explicit ComparePage(WorkspaceSession* session, QWidget* parent = nullptr);

    ConfigDiffModel* diffModel() const { return m_diff; }
    // Checks or unchecks a run in the list; false when the run is not listed.
    bool setRunChecked(std::int64_t runId, bool checked);
    QList<std::int64_t> checkedRunIds() const;

private:
    struct Entry {
        std::int64_t id;
        QString label;
        std::string configJson;
        bool operator==(const Entry&) const = default;
    };

    void reload();
    void refresh();
    void onItemChanged(QListWidgetItem* item);
    void updateDiff();

    WorkspaceSession* m_session;
    EmptyState* m_pageState;
    QListWidget* m_runList;
    QCheckBox* m_onlyDifferences;
    QLabel* m_summary;
    QTableView* m_diffTable;
    EmptyState* m_diffState;
    ConfigDiffModel* m_diff;
    std::vector<Entry> m_entries;
    QSet<std::int64_t> m_checked;
    std::vector<ConfigDiffModel::Config> m_shownConfigs;
};

} // namespace tunebench::ui
