#pragma once

#include <QWidget>

#include <cstdint>
#include <optional>

class QLabel;
class QLineEdit;
class QPushButton;
class QSortFilterProxyModel;
class QSpinBox;
class QStandardItemModel;
class QTabWidget;
class QTableView;
class QTreeView;

namespace tunebench::ui {

class DatasetTableModel;
class EmptyState;
class LengthHistogram;
class RecordPreviewModel;
class WorkspaceSession;

// The workspace's datasets: import (ImportDialog), derive by split or
// selection (SelectDialog), and for the selected dataset a preview of its
// records, token statistics with length histograms under a chosen tokenizer,
// and its lineage among the workspace's datasets.
class DatasetsPage : public QWidget {
    Q_OBJECT

public:
    explicit DatasetsPage(WorkspaceSession* session, QWidget* parent = nullptr);

    DatasetTableModel* model() const { return m_model; }
    WorkspaceSession* session() const { return m_session; }
    RecordPreviewModel* previewModel() const { return m_preview; }
    QStandardItemModel* lineageModel() const { return m_lineage; }
    LengthHistogram* promptHistogram() const { return m_promptHistogram; }
    LengthHistogram* responseHistogram() const { return m_responseHistogram; }

    bool selectDataset(std::int64_t id);
    std::optional<std::int64_t> selectedDatasetId() const;
    // Computes the selected dataset's statistics; false (with the reason shown) on failure.
    bool computeStats(const QString& tokenizerDir, int cutoffLen);
    QString statsSummary() const;
    void showTab(int index);

    enum Tab { PreviewTab, StatisticsTab, LineageTab };
    static constexpr int kPreviewRecords = 500;

Q_SIGNALS:
    void selectedDatasetChanged();

private:
    void reload();
    void refresh();
    void onSelectionChanged();
    void rebuildLineage();
    void openImport();
    void openSelect();

    WorkspaceSession* m_session;
    DatasetTableModel* m_model;
    QSortFilterProxyModel* m_proxy;
    QTableView* m_table;
    EmptyState* m_state;
    QPushButton* m_importButton;
    QPushButton* m_selectButton;
    QTabWidget* m_tabs;
    RecordPreviewModel* m_preview;
    QLabel* m_previewLabel;
    QLineEdit* m_tokenizer;
    QSpinBox* m_cutoff;
    QLabel* m_statsSummary;
    LengthHistogram* m_promptHistogram;
    LengthHistogram* m_responseHistogram;
    QStandardItemModel* m_lineage;
    QTreeView* m_lineageView;
};

} // namespace tunebench::ui
