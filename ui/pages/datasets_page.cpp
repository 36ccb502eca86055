#include "ui/pages/datasets_page.h"

#include "core/data/dataset_select.h"
#include "core/data/dataset_stats.h"
#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/tokenizer/tokenizer.h"
#include "ui/dialogs/import_dialog.h"
#include "ui/dialogs/select_dialog.h"
#include "ui/models/dataset_table_model.h"
#include "ui/models/record_preview_model.h"
#include "ui/widgets/empty_state.h"
#include "ui/widgets/length_histogram.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QFileDialog>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QSplitter>
#include <QStandardItemModel>
#include <QTabWidget>
#include <QTableView>
#include <QTreeView>
#include <QVBoxLayout>

#include <fstream>
#include <map>

namespace tunebench::ui {

DatasetsPage::DatasetsPage(WorkspaceSession* session, QWidget* parent)
    : QWidget(parent)
    , m_session(session)
    , m_model(new DatasetTableModel(session, this))
    , m_proxy(new QSortFilterProxyModel(this))
    , m_preview(new RecordPreviewModel(this))
    , m_lineage(new QStandardItemModel(this))
{
    m_proxy->setSourceModel(m_model);
    m_proxy->setSortRole(kSortRole);

    m_table = new QTableView;
    m_table->setObjectName(QStringLiteral("datasetsTable"));
    m_table->setModel(m_proxy);
    m_table->setSortingEnabled(true);
    m_table->sortByColumn(DatasetTableModel::IdColumn, Qt::AscendingOrder); // parents before children
    m_table->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_table->setSelectionMode(QAbstractItemView::SingleSelection);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setAlternatingRowColors(true);
    m_table->verticalHeader()->hide();
    // The free width goes to the column whose text varies most, not to the last one.
    m_table->horizontalHeader()->setSectionResizeMode(DatasetTableModel::NameColumn, QHeaderView::Stretch);

    // Preview.
    auto* previewView = new QTableView;
    previewView->setObjectName(QStringLiteral("datasetsPreview"));
    previewView->setModel(m_preview);
    previewView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    previewView->setAlternatingRowColors(true);
    previewView->setWordWrap(false);
    previewView->horizontalHeader()->setStretchLastSection(true);
    m_previewLabel = new QLabel;
    m_previewLabel->setObjectName(QStringLiteral("datasetsPreviewLabel"));
    m_previewLabel->setWordWrap(true);
    m_previewLabel->setTextFormat(Qt::RichText); // the dataset's name is escaped
    auto* previewTab = new QWidget;
    auto* previewLayout = new QVBoxLayout(previewTab);
    previewLayout->addWidget(m_previewLabel);
    previewLayout->addWidget(previewView, 1);

    // Statistics.
    m_tokenizer = new QLineEdit;
    m_tokenizer->setObjectName(QStringLiteral("datasetsTokenizer"));
    m_tokenizer->setPlaceholderText(tr("a model or tokenizer folder"));
    auto* browse = new QPushButton(tr("Browse\u2026"));
    m_cutoff = new QSpinBox;
    m_cutoff->setObjectName(QStringLiteral("datasetsCutoff"));
    m_cutoff->setRange(1, 1 << 20);
    m_cutoff->setValue(1024);
    m_cutoff->setPrefix(tr("cutoff_len "));
    auto* compute = new QPushButton(tr("&Compute"));
    compute->setObjectName(QStringLiteral("datasetsComputeStats"));
    auto* statsBar = new QHBoxLayout;
    statsBar->addWidget(new QLabel(tr("Tokenizer:")));
    statsBar->addWidget(m_tokenizer, 1);
    statsBar->addWidget(browse);
    statsBar->addWidget(m_cutoff);
    statsBar->addWidget(compute);
    m_statsSummary = new QLabel(tr("Choose a tokenizer and compute the statistics of the selected dataset."));
    m_statsSummary->setObjectName(QStringLiteral("datasetsStatsSummary"));
    m_statsSummary->setWordWrap(true);
    m_statsSummary->setTextFormat(Qt::RichText); // errors are escaped
    m_statsSummary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_promptHistogram = new LengthHistogram(tr("Prompt tokens"));
    m_promptHistogram->setObjectName(QStringLiteral("datasetsPromptHistogram"));
    m_responseHistogram = new LengthHistogram(tr("Response tokens"));
    m_responseHistogram->setObjectName(QStringLiteral("datasetsResponseHistogram"));
    auto* plots = new QHBoxLayout;
    plots->addWidget(m_promptHistogram);
    plots->addWidget(m_responseHistogram);
    auto* statsTab = new QWidget;
    auto* statsLayout = new QVBoxLayout(statsTab);
    statsLayout->addLayout(statsBar);
    statsLayout->addWidget(m_statsSummary);
    statsLayout->addLayout(plots, 1);

    // Lineage.
    m_lineageView = new QTreeView;
    m_lineageView->setObjectName(QStringLiteral("datasetsLineage"));
    m_lineageView->setModel(m_lineage);
    m_lineageView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_lineageView->setAlternatingRowColors(true);

    m_tabs = new QTabWidget;
    m_tabs->setObjectName(QStringLiteral("datasetsTabs"));
    m_tabs->addTab(previewTab, tr("Preview"));
    m_tabs->addTab(statsTab, tr("Statistics"));
    m_tabs->addTab(m_lineageView, tr("Lineage"));

    m_importButton = new QPushButton(tr("&Import\u2026"));
    m_importButton->setObjectName(QStringLiteral("datasetsImport"));
    m_selectButton = new QPushButton(tr("&Derive\u2026"));
    m_selectButton->setObjectName(QStringLiteral("datasetsSelect"));
    m_selectButton->setToolTip(tr("Split, sample, filter or de-duplicate the selected dataset"));
    m_selectButton->setEnabled(false);
    auto* bar = new QHBoxLayout;
    bar->addWidget(m_importButton);
    bar->addWidget(m_selectButton);
    bar->addStretch(1);

    auto* splitter = new QSplitter(Qt::Vertical);
    splitter->addWidget(m_table);
    splitter->addWidget(m_tabs);
    splitter->setStretchFactor(0, 1);
    splitter->setStretchFactor(1, 2);
    auto* content = new QWidget;
    auto* contentLayout = new QVBoxLayout(content);
    contentLayout->setContentsMargins(0, 0, 0, 0);
    contentLayout->addLayout(bar);
    contentLayout->addWidget(splitter, 1);

    m_state = new EmptyState(content);
    m_state->setObjectName(QStringLiteral("datasetsPageState"));
    auto* layout = new QVBoxLayout(this);
    layout->addWidget(m_state);

    connect(m_session, &WorkspaceSession::workspaceChanged, this, &DatasetsPage::reload);
    connect(m_session, &WorkspaceSession::changed, this, &DatasetsPage::refresh);
    connect(m_table->selectionModel(), &QItemSelectionModel::selectionChanged, this, &DatasetsPage::onSelectionChanged);
    connect(m_importButton, &QPushButton::clicked, this, &DatasetsPage::openImport);
    connect(m_selectButton, &QPushButton::clicked, this, &DatasetsPage::openSelect);
    connect(browse, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Tokenizer folder"), m_tokenizer->text());
        if (!dir.isEmpty())
            m_tokenizer->setText(dir);
    });
    connect(compute, &QPushButton::clicked, this, [this] { computeStats(m_tokenizer->text(), m_cutoff->value()); });
    reload();
}

void DatasetsPage::reload()
{
    m_table->clearSelection();
    refresh();
    m_table->resizeColumnsToContents();
}

void DatasetsPage::refresh()
{
    m_model->refresh();
    rebuildLineage();
    if (!m_session->isOpen()) {
        m_state->showMessage(EmptyState::noWorkspaceText());
    } else {
        m_state->showContent();
        if (m_model->rowCount() > 0 && !selectedDatasetId()) {
            m_previewLabel->setText(
                tr("Select a dataset to preview its records, compute its statistics or derive a new one from it."));
        } else if (m_model->rowCount() == 0) {
            m_previewLabel->setText(tr("<b>This workspace has no datasets yet.</b> Import a JSONL, JSON, CSV, "
                                       "TSV or text file with <i>Import\u2026</i>, or run <tt>tunebench-cli dataset "
                                       "import FILE --workspace DIR</tt>."));
        }
    }
}

std::optional<std::int64_t> DatasetsPage::selectedDatasetId() const
{
    const QModelIndexList rows = m_table->selectionModel()->selectedRows();
    if (rows.isEmpty())
        return std::nullopt;
    const QModelIndex source = m_proxy->mapToSource(rows.front());
    return m_model->index(source.row(), DatasetTableModel::IdColumn).data(kSortRole).toLongLong();
}

bool DatasetsPage::selectDataset(std::int64_t id)
{
    const int row = m_model->rowOf(id);
    if (row < 0)
        return false;
    const QModelIndex index = m_proxy->mapFromSource(m_model->index(row, 0));
    m_table->selectRow(index.row());
    return true;
}

void DatasetsPage::showTab(int index)
{
    m_tabs->setCurrentIndex(index);
}

void DatasetsPage::onSelectionChanged()
{
    const auto id = selectedDatasetId();
    m_selectButton->setEnabled(id.has_value());
    m_preview->clear();
    m_promptHistogram->clearHistogram();
    m_responseHistogram->clearHistogram();
    m_statsSummary->setText(tr("Choose a tokenizer and compute the statistics of the selected dataset."));
    rebuildLineage();
    Workspace* ws = m_session->workspace();
    if (!id || !ws) {
        m_previewLabel->setText(m_model->rowCount() > 0
                ? tr("Select a dataset to preview its records, compute its statistics or derive a new one from it.")
                : QString());
        Q_EMIT selectedDatasetChanged();
        return;
    }
    // The first records only: the preview must not read a large dataset whole.
    std::vector<nlohmann::json> records;
    std::ifstream in(ws->datasetDir(*id) / "data.jsonl", std::ios::binary);
    std::string line;
    while (static_cast<int>(records.size()) < kPreviewRecords && std::getline(in, line)) {
        auto value = nlohmann::json::parse(line, nullptr, false);
        if (!value.is_discarded())
            records.push_back(std::move(value));
    }
    const auto row = DatasetStore(ws->db()).find(*id);
    QStringList columns;
    if (row) {
        try {
            for (const FieldSpec& f : fieldsOf(datasetFormatFromString(row->format)))
                columns << QString::fromUtf8(f.name.data(), static_cast<qsizetype>(f.name.size()));
        } catch (const std::exception&) {
            // An unknown format shows every key.
        }
    }
    m_preview->setRecords(std::move(records), columns);
    if (row) {
        // One arg() call: a name holding "%3" must not be filled in by a later one.
        m_previewLabel->setText(
            tr("#%1 %2: %3 records (%4), showing the first %5. Content hash %6.")
                .arg(QString::number(row->id), userRichText(row->name), QString::number(row->records),
                    userRichText(row->format), QString::number(m_preview->rowCount()),
                    userRichText(row->contentHash.substr(0, 19)) + QStringLiteral("\u2026")));
    }
    Q_EMIT selectedDatasetChanged();
}

bool DatasetsPage::computeStats(const QString& tokenizerDir, int cutoffLen)
{
    const auto id = selectedDatasetId();
    Workspace* ws = m_session->workspace();
    if (!id || !ws) {
        m_statsSummary->setText(tr("Select a dataset first."));
        return false;
    }
    m_tokenizer->setText(tokenizerDir);
    m_cutoff->setValue(cutoffLen);
    QApplication::setOverrideCursor(Qt::WaitCursor);
    try {
        const Tokenizer tokenizer = Tokenizer::fromFolder(tokenizerDir.toStdString());
        const LoadedDataset d = loadDataset(*ws, *id);
        const DatasetStats s = computeDatasetStats(d.records, d.format, tokenizer, cutoffLen);
        const LengthSummary prompt = summarize(s.promptTokens);
        const LengthSummary response = summarize(s.responseTokens);
        m_promptHistogram->setHistogram(histogramOf(s.promptTokens, 30), cutoffLen);
        m_responseHistogram->setHistogram(histogramOf(s.responseTokens, 30), cutoffLen);
        m_statsSummary->setText(
            tr("<b>%1 records</b>, %2 exact duplicates. <b>%3% truncated</b> at cutoff_len %4 (%5 records). "
               "Prompt tokens: mean %6, median %7, p95 %8, max %9. Response tokens: mean %10, median %11, "
               "p95 %12, max %13.")
                .arg(s.records)
                .arg(s.duplicates)
                .arg(100.0 * s.truncatedShare(), 0, 'f', 1)
                .arg(cutoffLen)
                .arg(s.truncated)
                .arg(prompt.mean, 0, 'f', 1)
                .arg(prompt.median)
                .arg(prompt.p95)
                .arg(prompt.max)
                .arg(response.mean, 0, 'f', 1)
                .arg(response.median)
                .arg(response.p95)
                .arg(response.max));
    } catch (const std::exception& e) {
        QApplication::restoreOverrideCursor();
        m_statsSummary->setText(userRichText(std::string(e.what()), /*multiLine=*/true));
        return false;
    }
    QApplication::restoreOverrideCursor();
    return true;
}

QString DatasetsPage::statsSummary() const
{
    return m_statsSummary->text();
}

void DatasetsPage::rebuildLineage()
{
    m_lineage->clear();
    m_lineage->setHorizontalHeaderLabels({ tr("Dataset"), tr("Operation"), tr("Records"), tr("Parameters") });
    Workspace* ws = m_session->workspace();
    if (!ws)
        return;
    std::vector<DatasetRecord> all;
    try {
        all = DatasetStore(ws->db()).list();
    } catch (const std::exception& e) {
        m_session->reportError(QString::fromUtf8(e.what()));
        return;
    }
    const auto selected = selectedDatasetId();
    std::map<std::int64_t, QStandardItem*> items;
    QStandardItem* selectedItem = nullptr;
    for (const DatasetRecord& d : all) { // ids ascend, so a parent comes before its children
        QList<QStandardItem*> row;
        auto* name = new QStandardItem(QStringLiteral("#%1 %2").arg(QString::number(d.id), userText(d.name)));
        name->setData(static_cast<qlonglong>(d.id), Qt::UserRole);
        if (selected && d.id == *selected) {
            QFont bold = name->font();
            bold.setBold(true);
            name->setFont(bold);
            selectedItem = name;
        }
        row << name << new QStandardItem(userText(d.operation)) << new QStandardItem(QString::number(d.records))
            << new QStandardItem(userText(d.paramsJson));
        auto parent = d.parentId ? items.find(*d.parentId) : items.end();
        if (parent != items.end())
            parent->second->appendRow(row);
        else
            m_lineage->appendRow(row);
        items[d.id] = name;
    }
    m_lineageView->expandAll();
    for (int c = 0; c < 3; ++c)
        m_lineageView->resizeColumnToContents(c);
    if (selectedItem)
        m_lineageView->setCurrentIndex(selectedItem->index());
}

void DatasetsPage::openImport()
{
    ImportDialog dialog(m_session, this);
    dialog.exec();
    if (dialog.lastResult() && dialog.lastResult()->imported) {
        refresh();
        selectDataset(*dialog.lastResult()->id);
    }
}

void DatasetsPage::openSelect()
{
    const auto id = selectedDatasetId();
    Workspace* ws = m_session->workspace();
    if (!id || !ws)
        return;
    const auto row = DatasetStore(ws->db()).find(*id);
    if (!row)
        return;
    SelectDialog dialog(m_session, *row, this);
    if (dialog.exec() == QDialog::Accepted && !dialog.created().empty()) {
        refresh();
        selectDataset(dialog.created().front().id);
        showTab(LineageTab);
    }
}

} // namespace tunebench::ui
