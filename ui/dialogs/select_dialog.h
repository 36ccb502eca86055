#pragma once

#include "core/store/datasets.h"

#include <QDialog>

#include <nlohmann/json.hpp>

#include <optional>

class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QSpinBox;

namespace tunebench::ui {

class WorkspaceSession;

// Derives a dataset from the selected one: a train/eval split or one of the
// selection methods (random sample, length filter, exact or MinHash
// de-duplication, k-means diversity, learnability), with the method's
// parameters. The result is a new dataset whose lineage names the parent,
// the method and the parameters.
class SelectDialog : public QDialog {
    Q_OBJECT

public:
    SelectDialog(WorkspaceSession* session, const DatasetRecord& parent, QWidget* parentWidget = nullptr);

    // "split" or a selection method (model_selection.h).
    void setMethod(const QString& method);
    QString method() const;
    // "100" keeps 100 records, "10%" a tenth.
    void setKeep(const QString& keep);
    void setModelFolder(const QString& dir);
    // The method's parameters as the dialog's fields give them.
    nlohmann::json parameters() const;
    // Runs the method; the new datasets (two for a split) or nothing with the
    // reason in the status line.
    bool run();
    const std::vector<DatasetRecord>& created() const { return m_created; }
    QString statusText() const;

private:
    WorkspaceSession* m_session;
    DatasetRecord m_parent;
    QComboBox* m_method;
    QWidget* m_parameters;
    QLineEdit* m_name;
    QLineEdit* m_keep;
    QSpinBox* m_seed;
    QDoubleSpinBox* m_ratio;
    QSpinBox* m_minLength;
    QSpinBox* m_maxLength;
    QLineEdit* m_tokenizer;
    QDoubleSpinBox* m_threshold;
    QSpinBox* m_permutations;
    QSpinBox* m_bands;
    QSpinBox* m_shingle;
    QLineEdit* m_model;
    QSpinBox* m_clusters;
    QSpinBox* m_steps;
    QDoubleSpinBox* m_lr;
    QLabel* m_help;
    QLabel* m_status;
    std::vector<DatasetRecord> m_created;
};

} // namespace tunebench::ui
