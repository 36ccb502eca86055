#include "ui/dialogs/import_dialog.h"

#include "core/store/datasets.h"
#include "core/store/workspace.h"
#include "core/util/error.h"
#include "ui/models/record_preview_model.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

#include <QApplication>
#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QProgressDialog>
#include <QPushButton>
#include <QStandardItemModel>
#include <QTableView>
#include <QVBoxLayout>

#include <filesystem>

namespace tunebench::ui {

namespace {

constexpr int kPreviewRecords = 20;

const DatasetFormat kFormats[] = { DatasetFormat::Text, DatasetFormat::Instruction, DatasetFormat::Chat,
    DatasetFormat::Preference, DatasetFormat::UnpairedPreference, DatasetFormat::Prompt };

QString qs(std::string_view s)
{
    return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

QTableView* makeTable(QAbstractItemModel* model, const QString& objectName)
{
    auto* view = new QTableView;
    view->setObjectName(objectName);
    view->setModel(model);
    view->setEditTriggers(QAbstractItemView::NoEditTriggers);
    view->setSelectionBehavior(QAbstractItemView::SelectRows);
    view->setAlternatingRowColors(true);
    view->setWordWrap(false);
    view->horizontalHeader()->setStretchLastSection(true);
    view->verticalHeader()->setDefaultSectionSize(view->fontMetrics().height() + 6);
    return view;
}

} // namespace

ImportDialog::ImportDialog(WorkspaceSession* session, QWidget* parent)
    : QDialog(parent)
    , m_session(session)
    , m_preview(new RecordPreviewModel(this))
    , m_errors(new QStandardItemModel(0, 4, this))
{
    setWindowTitle(tr("Import dataset"));
    setObjectName(QStringLiteral("importDialog"));
    m_errors->setHorizontalHeaderLabels({ tr("File"), tr("Line"), tr("Field"), tr("Problem") });

    m_file = new QLineEdit;
    m_file->setObjectName(QStringLiteral("importFile"));
    m_file->setPlaceholderText(tr("A .jsonl, .json, .csv, .tsv or .txt file"));
    auto* browse = new QPushButton(tr("Browse\u2026"));
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(m_file, 1);
    fileRow->addWidget(browse);
    m_name = new QLineEdit;
    m_name->setObjectName(QStringLiteral("importName"));
    m_name->setPlaceholderText(tr("default: the file name"));
    m_format = new QComboBox;
    m_format->setObjectName(QStringLiteral("importFormat"));
    m_format->addItem(tr("Detect from the records"), QString());
    for (DatasetFormat f : kFormats)
        m_format->addItem(qs(toString(f)), qs(toString(f)));
    m_detected = new QLabel;
    makePlainLabel(m_detected); // it lists the file's column names
    auto* formatRow = new QHBoxLayout;
    formatRow->addWidget(m_format);
    formatRow->addWidget(m_detected, 1);

    auto* top = new QFormLayout;
    top->addRow(tr("&File:"), fileRow);
    top->addRow(tr("&Name:"), m_name);
    top->addRow(tr("F&ormat:"), formatRow);

    auto* mappingGroup = new QGroupBox(tr("Column mapping (format field \u2190 column of the file)"));
    m_mappingBox = mappingGroup;
    m_mappingForm = new QFormLayout(mappingGroup);

    auto* previewGroup = new QGroupBox(tr("First records of the file"));
    m_previewView = makeTable(m_preview, QStringLiteral("importPreview"));
    (new QVBoxLayout(previewGroup))->addWidget(m_previewView);

    auto* errorGroup = new QGroupBox(tr("Invalid records"));
    m_errorView = makeTable(m_errors, QStringLiteral("importErrors"));
    (new QVBoxLayout(errorGroup))->addWidget(m_errorView);

    m_skipInvalid = new QCheckBox(tr("&Skip invalid records (import the valid ones and list the rest)"));
    m_skipInvalid->setObjectName(QStringLiteral("importSkipInvalid"));
    m_status = new QLabel;
    m_status->setObjectName(QStringLiteral("importStatus"));
    m_status->setWordWrap(true);
    makePlainLabel(m_status); // messages quote the file's records

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Close);
    m_importButton = buttons->addButton(tr("&Import"), QDialogButtonBox::ActionRole);
    m_importButton->setObjectName(QStringLiteral("importButton"));
    m_importButton->setDefault(true);

    auto* layout = new QVBoxLayout(this);
    layout->addLayout(top);
    layout->addWidget(mappingGroup);
    layout->addWidget(previewGroup, 2);
    layout->addWidget(errorGroup, 1);
    layout->addWidget(m_skipInvalid);
    layout->addWidget(m_status);
    layout->addWidget(buttons);
    resize(900, 720);

    connect(browse, &QPushButton::clicked, this, [this] {
        const QString path = QFileDialog::getOpenFileName(this, tr("Import dataset"), m_file->text(),
            tr("Datasets (*.jsonl *.ndjson *.json *.csv *.tsv *.txt);;All files (*)"));
        if (!path.isEmpty())
            setFile(path);
    });
    connect(m_file, &QLineEdit::editingFinished, this, &ImportDialog::loadPreview);
    connect(m_format, &QComboBox::currentIndexChanged, this, &ImportDialog::rebuildMapping);
    connect(m_importButton, &QPushButton::clicked, this, &ImportDialog::runImport);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    rebuildMapping();
}

void ImportDialog::setFile(const QString& path)
{
    m_file->setText(path);
    loadPreview();
}

void ImportDialog::setFormat(const QString& format)
{
    const int i = m_format->findData(format);
    m_format->setCurrentIndex(i < 0 ? 0 : i);
}

bool ImportDialog::setMapping(const QString& field, const QString& column)
{
    auto it = m_mappingCombos.find(field.toStdString());
    if (it == m_mappingCombos.end())
        return false;
    const int i = it->second->findData(column);
    if (i < 0)
        return false;
    it->second->setCurrentIndex(i);
    return true;
}

ColumnMapping ImportDialog::mapping() const
{
    ColumnMapping m;
    for (const auto& [field, combo] : m_mappingCombos) {
        const QString column = combo->currentData().toString();
        if (!column.isEmpty() && column.toStdString() != field)
            m[field] = column.toStdString();
    }
    return m;
}

void ImportDialog::setSkipInvalid(bool skip)
{
    m_skipInvalid->setChecked(skip);
}

QString ImportDialog::statusText() const
{
    return m_status->text();
}

std::optional<DatasetFormat> ImportDialog::chosenFormat() const
{
    const QString name = m_format->currentData().toString();
    if (name.isEmpty())
        return m_detectedFormat;
    return datasetFormatFromString(name.toStdString());
}

void ImportDialog::loadPreview()
{
    m_importButton->setEnabled(true);
    m_preview->clear();
    m_columns.clear();
    m_detectedFormat.reset();
    m_remembered.clear();
    m_errors->removeRows(0, m_errors->rowCount());
    m_detected->clear();
    m_status->clear();
    const std::filesystem::path path = m_file->text().toStdString();
    if (m_file->text().isEmpty())
        return;
    std::vector<nlohmann::json> records;
    std::vector<RecordError> errors;
    try {
        readRecords(
            path, detectFileType(path),
            [&](SourceRecord&& r) {
                records.push_back(std::move(r.value));
                return static_cast<int>(records.size()) < kPreviewRecords;
            },
            [&](RecordError&& e) {
                if (errors.size() < 100)
                    errors.push_back(std::move(e));
            });
    } catch (const std::exception& e) {
        showStatus(QString::fromUtf8(e.what()), true);
        rebuildMapping();
        return;
    }
    m_preview->setRecords(records);
    m_columns = m_preview->columns();
    if (!records.empty()) {
        m_detectedFormat = detectFormat(records.front());
        m_detected->setText(m_detectedFormat
                ? tr("detected: %1").arg(qs(toString(*m_detectedFormat)))
                : tr("not detected from the columns (%1): choose a format and map the columns")
                      .arg(m_columns.join(QStringLiteral(", "))));
    }
    // The mapping used the last time this file was imported.
    if (Workspace* ws = m_session->workspace()) {
        std::error_code ec;
        const std::string absolute = std::filesystem::absolute(path, ec).string();
        try {
            for (const DatasetRecord& d : DatasetStore(ws->db()).list()) {
                if (d.sourcePath != absolute || d.operation != "import")
                    continue;
                const auto params = nlohmann::json::parse(d.paramsJson, nullptr, false);
                if (params.is_object() && params.contains("mapping") && params["mapping"].is_object())
                    m_remembered = params["mapping"].get<ColumnMapping>();
                if (!m_remembered.empty() && m_format->currentData().toString().isEmpty())
                    setFormat(QString::fromStdString(d.format));
            }
        } catch (const std::exception&) {
            // A damaged row only costs the suggestion.
        }
    }
    if (m_name->text().isEmpty())
        m_name->setPlaceholderText(QFileInfo(m_file->text()).completeBaseName());
    showErrors(errors);
    rebuildMapping();
}

void ImportDialog::rebuildMapping()
{
    while (m_mappingForm->rowCount() > 0)
        m_mappingForm->removeRow(0);
    m_mappingCombos.clear();
    const std::optional<DatasetFormat> format = chosenFormat();
    if (!format) {
        m_mappingForm->addRow(new QLabel(tr("Choose a file and a format to map its columns.")));
        return;
    }
    for (const FieldSpec& field : fieldsOf(*format)) {
        auto* combo = new QComboBox;
        const QString name = qs(field.name);
        combo->setObjectName(QStringLiteral("importMap_") + name);
        combo->addItem(m_columns.contains(name) ? tr("%1 (same name)").arg(name) : tr("(none)"), QString());
        for (const QString& column : m_columns) {
            if (column != name)
                combo->addItem(column, column);
        }
        auto remembered = m_remembered.find(std::string(field.name));
        if (remembered != m_remembered.end()) {
            const int i = combo->findData(QString::fromStdString(remembered->second));
            if (i >= 0)
                combo->setCurrentIndex(i);
        }
        m_mappingForm->addRow(field.required ? tr("%1:").arg(name) : tr("%1 (optional):").arg(name), combo);
        m_mappingCombos[std::string(field.name)] = combo;
    }
}

void ImportDialog::showErrors(const std::vector<RecordError>& errors)
{
    m_errors->removeRows(0, m_errors->rowCount());
    const QString file = QFileInfo(m_file->text()).fileName();
    for (const RecordError& e : errors) {
        QList<QStandardItem*> row;
        row << new QStandardItem(file);
        auto* line = new QStandardItem;
        line->setData(static_cast<qlonglong>(e.line), Qt::DisplayRole);
        row << line << new QStandardItem(userText(e.field)) << new QStandardItem(userText(e.message));
        row.back()->setToolTip(userToolTip(e.message));
        m_errors->appendRow(row);
    }
    m_errorView->resizeColumnsToContents();
}

void ImportDialog::showStatus(const QString& text, bool error)
{
    m_status->setText(userText(text, /*multiLine=*/true));
    m_status->setStyleSheet(error ? QStringLiteral("color: #b42318;") : QString());
}

bool ImportDialog::runImport()
{
    Workspace* ws = m_session->workspace();
    if (!ws) {
        showStatus(tr("Open a workspace first."), true);
        return false;
    }
    if (m_file->text().isEmpty()) {
        showStatus(tr("Choose a file to import."), true);
        return false;
    }
    ImportOptions options;
    const QString formatName = m_format->currentData().toString();
    if (!formatName.isEmpty())
        options.format = datasetFormatFromString(formatName.toStdString());
    options.mapping = mapping();
    options.skipInvalid = m_skipInvalid->isChecked();
    options.name = m_name->text().toStdString();

    QProgressDialog progress(
        tr("Importing %1\u2026").arg(QFileInfo(m_file->text()).fileName()), tr("Cancel"), 0, 1000, this);
    progress.setWindowModality(Qt::WindowModal);
    progress.setMinimumDuration(500);
    options.progress = [&progress](std::uint64_t done, std::uint64_t total) {
        progress.setValue(
            total ? static_cast<int>(1000.0 * static_cast<double>(done) / static_cast<double>(total)) : 0);
        QApplication::processEvents();
        return !progress.wasCanceled();
    };
    try {
        m_result = importDataset(*ws, m_file->text().toStdString(), options);
    } catch (const std::exception& e) {
        m_result.reset();
        showStatus(QString::fromUtf8(e.what()), true);
        return false;
    }
    progress.reset();
    const ImportResult& r = *m_result;
    showErrors(r.errors);
    if (r.imported) {
        m_session->notifyChanged();
        m_importButton->setEnabled(false); // once is enough; choosing another file enables it again
        showStatus(r.invalid > 0
                ? tr("Imported dataset #%1 (%2): %3 records; %4 invalid records skipped, listed above.")
                      .arg(*r.id)
                      .arg(qs(toString(r.format)))
                      .arg(r.records)
                      .arg(r.invalid)
                : tr("Imported dataset #%1 (%2): %3 records.").arg(*r.id).arg(qs(toString(r.format))).arg(r.records),
            false);
        if (r.invalid == 0)
            accept();
        return true;
    }
    if (r.cancelled)
        showStatus(tr("Cancelled: nothing was imported."), true);
    else if (r.invalid > 0)
        showStatus(tr("%1 invalid record(s): nothing was imported. Fix the file or the mapping, or tick "
                      "\u201cSkip invalid records\u201d to import the %2 valid ones.")
                       .arg(r.invalid)
                       .arg(r.records),
            true);
    else
        showStatus(
            r.errors.empty() ? tr("Nothing was imported.") : QString::fromStdString(r.errors.front().message), true);
    return false;
}

} // namespace tunebench::ui
