#include "ui/dialogs/report_dialog.h"
#include "ui/widgets/user_text.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QVBoxLayout>

namespace tunebench::ui {

ReportDialog::ReportDialog(const QList<RunChoice>& runs, const QString& workspace, QWidget* parent)
    : QDialog(parent)
    , m_workspace(workspace)
    , m_runs(new QListWidget)
    , m_format(new QComboBox)
    , m_out(new QLineEdit)
    , m_force(new QCheckBox(tr("&Replace an existing report")))
    , m_problem(new QLabel)
{
    setObjectName(QStringLiteral("reportDialog"));
    setWindowTitle(tr("Write Report"));
    m_runs->setObjectName(QStringLiteral("reportRuns"));
    for (const RunChoice& r : runs) {
        auto* item = new QListWidgetItem(r.label, m_runs);
        item->setData(Qt::UserRole, r.id);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(Qt::Unchecked);
    }
    m_runs->setMinimumHeight(120);
    m_runs->setToolTip(tr("One run gives a run report; several give a comparison with the keys that differ"));
    m_format->setObjectName(QStringLiteral("reportFormat"));
    m_format->addItem(tr("HTML (one self-contained file)"), QStringLiteral("html"));
    m_format->addItem(tr("PDF"), QStringLiteral("pdf"));
    m_format->addItem(tr("Markdown (with PNG files beside it)"), QStringLiteral("md"));
    m_out->setObjectName(QStringLiteral("reportOut"));
    m_force->setObjectName(QStringLiteral("reportForce"));
    auto* browseButton = new QPushButton(tr("&Browse\u2026"));
    auto* fileRow = new QHBoxLayout;
    fileRow->addWidget(m_out, 1);
    fileRow->addWidget(browseButton);

    auto* form = new QFormLayout;
    form->addRow(tr("&Runs:"), m_runs);
    form->addRow(tr("&Format:"), m_format);
    auto* fileLabel = new QLabel(tr("&File:"));
    fileLabel->setBuddy(m_out);
    form->addRow(fileLabel, fileRow);
    form->addRow(QString(), m_force);
    m_problem->setObjectName(QStringLiteral("reportProblem"));
    m_problem->setWordWrap(true);
    makePlainLabel(m_problem); // it quotes paths the user typed
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("&Write"));
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_problem);
    layout->addWidget(buttons);

    connect(m_runs, &QListWidget::itemChanged, this, [this] {
        formatChanged();
        updateState();
    });
    connect(m_format, &QComboBox::currentIndexChanged, this, &ReportDialog::formatChanged);
    connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
    connect(m_out, &QLineEdit::textChanged, this, &ReportDialog::updateState);
    connect(browseButton, &QPushButton::clicked, this, &ReportDialog::browse);
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        if (problem().isEmpty())
            accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    resize(520, sizeHint().height());
    updateState();
}

void ReportDialog::setRunsChecked(const QList<qint64>& ids)
{
    for (int i = 0; i < m_runs->count(); ++i) {
        QListWidgetItem* item = m_runs->item(i);
        item->setCheckState(ids.contains(item->data(Qt::UserRole).toLongLong()) ? Qt::Checked : Qt::Unchecked);
    }
}

QList<qint64> ReportDialog::checkedRuns() const
{
    QList<qint64> ids;
    for (int i = 0; i < m_runs->count(); ++i) {
        if (m_runs->item(i)->checkState() == Qt::Checked)
            ids << m_runs->item(i)->data(Qt::UserRole).toLongLong();
    }
    return ids;
}

void ReportDialog::setOutput(const QString& path)
{
    m_outEdited = true;
    m_out->setText(path);
    const int format = m_format->findData(QFileInfo(path).suffix().toLower());
    if (format >= 0) {
        const QSignalBlocker block(m_format);
        m_format->setCurrentIndex(format);
    }
}

QString ReportDialog::output() const
{
    return m_out->text().trimmed();
}

void ReportDialog::setFormat(const QString& format)
{
    m_format->setCurrentIndex(std::max(0, m_format->findData(format)));
}

QString ReportDialog::format() const
{
    return m_format->currentData().toString();
}

QString ReportDialog::problem() const
{
    if (checkedRuns().isEmpty())
        return tr("Check at least one run.");
    if (output().isEmpty())
        return tr("Choose the report file.");
    if (QFileInfo(output()).suffix().toLower() != format())
        return tr("A %1 report's file ends in .%1.").arg(format());
    if (QFileInfo::exists(output()) && !m_force->isChecked())
        return tr("%1 exists: check \u201cReplace\u201d or choose another file.")
            .arg(QDir::toNativeSeparators(output()));
    return {};
}

QStringList ReportDialog::arguments() const
{
    if (!problem().isEmpty())
        return {};
    QStringList ids;
    for (qint64 id : checkedRuns())
        ids << QString::number(id);
    QStringList args { QStringLiteral("report"), QStringLiteral("--runs"), ids.join(QLatin1Char(',')),
        QStringLiteral("--out"), output() };
    if (m_force->isChecked())
        args << QStringLiteral("--force");
    return args;
}

QString ReportDialog::description() const
{
    const QList<qint64> ids = checkedRuns();
    return ids.size() == 1 ? tr("Writing the report on run #%1").arg(ids.first())
                           : tr("Writing the comparison report on %1 runs").arg(ids.size());
}

void ReportDialog::updateState()
{
    const QString p = problem();
    m_problem->setText(p);
    m_problem->setVisible(!p.isEmpty());
}

void ReportDialog::formatChanged()
{
    if (m_outEdited && !output().isEmpty()) {
        // Keep the chosen name, follow the format's suffix.
        const QFileInfo info(output());
        m_out->setText(info.dir().filePath(info.completeBaseName() + QLatin1Char('.') + format()));
        return;
    }
    QStringList parts;
    for (qint64 id : checkedRuns())
        parts << QString::number(id);
    if (parts.isEmpty())
        return;
    const QString name = (parts.size() == 1 ? QStringLiteral("report-run-%1") : QStringLiteral("report-runs-%1"))
                             .arg(parts.join(QLatin1Char('-')));
    m_out->setText(
        QDir(QDir(m_workspace).filePath(QStringLiteral("exports"))).filePath(name + QLatin1Char('.') + format()));
}

void ReportDialog::browse()
{
    const QString filter = format() == QLatin1String("html") ? tr("HTML (*.html)")
        : format() == QLatin1String("pdf")                   ? tr("PDF (*.pdf)")
                                                             : tr("Markdown (*.md)");
    const QString chosen = QFileDialog::getSaveFileName(this, tr("Report File"), output(), filter);
    if (chosen.isEmpty())
        return;
    // The file dialog has asked whether to replace it.
    m_force->setChecked(QFileInfo::exists(chosen));
    setOutput(chosen);
}

} // namespace tunebench::ui
