#pragma once

#include "core/data/dataset_import.h"

#include <QDialog>

#include <map>
#include <optional>

class QCheckBox;
class QComboBox;
class QFormLayout;
class QLabel;
class QLineEdit;
class QPushButton;
class QStandardItemModel;
class QTableView;

namespace tunebench::ui {

class RecordPreviewModel;
class WorkspaceSession;

// Imports a file into the workspace: choose the file, see its first records,
// pick the format (detected by default) and map the file's columns to the
// format's fields, then import. Every bad record is listed with its line,
// field and what was expected; a file with bad records is refused as a whole
// unless "Skip invalid records" is ticked, and then the skipped ones stay
// listed. The mapping last used for a file is offered again for it.
class ImportDialog : public QDialog {
    Q_OBJECT

public:
    explicit ImportDialog(WorkspaceSession* session, QWidget* parent = nullptr);

    // Loads the file's first records and column names (also what Browse does).
    void setFile(const QString& path);
    // Empty: detect from the records.
    void setFormat(const QString& format);
    // Maps the format's field to a column of the file ("" = the field's own name).
    bool setMapping(const QString& field, const QString& column);
    ColumnMapping mapping() const;
    void setSkipInvalid(bool skip);
    // Runs the import; returns whether a dataset was stored.
    bool runImport();

    const std::optional<ImportResult>& lastResult() const { return m_result; }
    RecordPreviewModel* previewModel() const { return m_preview; }
    QStandardItemModel* errorModel() const { return m_errors; }
    QString statusText() const;

private:
    void loadPreview();
    void rebuildMapping();
    std::optional<DatasetFormat> chosenFormat() const;
    void showErrors(const std::vector<RecordError>& errors);
    void showStatus(const QString& text, bool error);

    WorkspaceSession* m_session;
    QLineEdit* m_file;
    QLineEdit* m_name;
    QComboBox* m_format;
    QLabel* m_detected;
    QFormLayout* m_mappingForm;
    QWidget* m_mappingBox;
    std::map<std::string, QComboBox*> m_mappingCombos;
    RecordPreviewModel* m_preview;
    QTableView* m_previewView;
    QStandardItemModel* m_errors;
    QTableView* m_errorView;
    QCheckBox* m_skipInvalid;
    QLabel* m_status;
    QPushButton* m_importButton;
    QStringList m_columns;
    std::optional<DatasetFormat> m_detectedFormat;
    ColumnMapping m_remembered;
    std::optional<ImportResult> m_result;
};

} // namespace tunebench::ui
