#pragma once

#include "ui/dialogs/run_choice.h"

#include <QDialog>
#include <QStringList>

class QCheckBox;
class QComboBox;
class QLabel;
class QLineEdit;
class QListWidget;

namespace tunebench::ui {

// Asks which runs a report covers, its format and its file, and turns the
// answer into `tunebench-cli report --runs ... --out FILE [--force]`.
class ReportDialog : public QDialog {
    Q_OBJECT

public:
    ReportDialog(const QList<RunChoice>& runs, const QString& workspace, QWidget* parent = nullptr);

    void setRunsChecked(const QList<qint64>& ids);
    QList<qint64> checkedRuns() const;
    // The report file; its suffix follows the format.
    void setOutput(const QString& path);
    QString output() const;
    // "html", "pdf" or "md".
    void setFormat(const QString& format);
    QString format() const;

    QStringList arguments() const; // empty while incomplete
    QString problem() const;
    QString description() const;

private:
    void updateState();
    void formatChanged();
    void browse();

    QString m_workspace;
    QListWidget* m_runs;
    QComboBox* m_format;
    QLineEdit* m_out;
    QCheckBox* m_force;
    QLabel* m_problem;
    bool m_outEdited = false;
};

} // namespace tunebench::ui
