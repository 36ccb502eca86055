#include "ui/dialogs/export_dialog.h"
#include "ui/widgets/user_text.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QProcess>
#include <QPushButton>
#include <QVBoxLayout>

namespace tunebench::ui {

namespace {

QListWidget* runChecklist(const QList<RunChoice>& runs)
{
    auto* list = new QListWidget;
    list->setObjectName(QStringLiteral("exportRuns"));
    for (const RunChoice& r : runs) {
        auto* item = new QListWidgetItem(r.label, list);
        item->setData(Qt::UserRole, r.id);
        item->setFlags(item->flags() | Qt::ItemIsUserCheckable);
        item->setCheckState(Qt::Unchecked);
    }
    list->setMinimumHeight(120);
    return list;
}

// "#3" or "#3, #5" for messages.
QString runList(const QList<qint64>& ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts << QStringLiteral("#%1").arg(id);
    return parts.join(QStringLiteral(", "));
}

QString joinIds(const QList<qint64>& ids)
{
    QStringList parts;
    for (qint64 id : ids)
        parts << QString::number(id);
    return parts.join(QLatin1Char(','));
}

} // namespace

ExportDialog::ExportDialog(Mode mode, const QList<RunChoice>& runs, const QString& workspace, QWidget* parent)
    : QDialog(parent)
    , m_mode(mode)
    , m_workspace(workspace)
    , m_problem(new QLabel)
{
    setObjectName(QStringLiteral("exportDialog"));
    auto* form = new QFormLayout;
    if (mode == ExportRun) {
        setWindowTitle(tr("Export Run"));
        m_run = new QComboBox;
        m_run->setObjectName(QStringLiteral("exportRun"));
        for (const RunChoice& r : runs)
            m_run->addItem(r.label, r.id);
        form->addRow(tr("&Run:"), m_run);
        m_format = new QComboBox;
        m_format->setObjectName(QStringLiteral("exportFormat"));
        m_format->addItem(tr("Merged model (Hugging Face folder)"), QStringLiteral("merged"));
        m_format->addItem(tr("PEFT adapter folder"), QStringLiteral("peft"));
        m_format->addItem(tr("GGUF (llama.cpp, Ollama)"), QStringLiteral("gguf"));
        form->addRow(tr("&Format:"), m_format);
        m_ggufType = new QComboBox;
        m_ggufType->setObjectName(QStringLiteral("exportGgufType"));
        for (const char* t : { "f16", "bf16", "q8_0", "f32" })
            m_ggufType->addItem(QString::fromLatin1(t), QString::fromLatin1(t));
        form->addRow(tr("GGUF &type:"), m_ggufType);
        connect(m_run, &QComboBox::currentIndexChanged, this, &ExportDialog::proposeOutput);
        connect(m_format, &QComboBox::currentIndexChanged, this, &ExportDialog::proposeOutput);
        connect(m_ggufType, &QComboBox::currentIndexChanged, this, &ExportDialog::proposeOutput);
    } else {
        setWindowTitle(mode == MergeRuns ? tr("Merge Runs") : tr("Export Metrics"));
        m_runs = runChecklist(runs);
        form->addRow(tr("&Runs:"), m_runs);
        connect(m_runs, &QListWidget::itemChanged, this, [this] {
            proposeOutput();
            updateState();
        });
        if (mode == MergeRuns) {
            m_method = new QComboBox;
            m_method->setObjectName(QStringLiteral("exportMergeMethod"));
            m_method->addItem(tr("Model soup (uniform or greedy)"), QStringLiteral("soup"));
            m_method->addItem(tr("Task arithmetic"), QStringLiteral("task_arithmetic"));
            m_method->addItem(tr("TIES"), QStringLiteral("ties"));
            m_method->addItem(tr("Model Breadcrumbs"), QStringLiteral("breadcrumbs"));
            m_method->addItem(tr("LiNeS"), QStringLiteral("lines"));
            form->addRow(tr("&Method:"), m_method);
            m_parameters = new QLineEdit;
            m_parameters->setObjectName(QStringLiteral("exportMergeParameters"));
            m_parameters->setPlaceholderText(tr("e.g. --density 0.2 --lambda 0.5"));
            m_parameters->setToolTip(tr("Passed to tunebench-cli merge as typed; see tunebench-cli merge --help"));
            form->addRow(tr("&Parameters:"), m_parameters);
        } else {
            m_format = new QComboBox;
            m_format->setObjectName(QStringLiteral("exportFormat"));
            m_format->addItem(tr("CSV"), QStringLiteral("csv"));
            m_format->addItem(tr("JSON"), QStringLiteral("json"));
            form->addRow(tr("&Format:"), m_format);
            connect(m_format, &QComboBox::currentIndexChanged, this, &ExportDialog::proposeOutput);
        }
    }
    if (mode != MergeRuns) {
        m_out = new QLineEdit;
        m_out->setObjectName(QStringLiteral("exportOut"));
        connect(m_out, &QLineEdit::textEdited, this, [this] { m_outEdited = true; });
        connect(m_out, &QLineEdit::textChanged, this, &ExportDialog::updateState);
        auto* browseButton = new QPushButton(tr("&Browse\u2026"));
        connect(browseButton, &QPushButton::clicked, this, &ExportDialog::browse);
        auto* row = new QHBoxLayout;
        row->addWidget(m_out, 1);
        row->addWidget(browseButton);
        auto* label = new QLabel(mode == ExportRun ? tr("&Output folder:") : tr("&Output file:"));
        label->setBuddy(m_out);
        form->addRow(label, row);
    }

    m_problem->setObjectName(QStringLiteral("exportProblem"));
    m_problem->setWordWrap(true);
    makePlainLabel(m_problem); // it quotes paths the user typed
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(mode == MergeRuns ? tr("&Merge") : tr("&Export"));
    connect(buttons, &QDialogButtonBox::accepted, this, [this] {
        if (problem().isEmpty())
            accept();
    });
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(m_problem);
    layout->addWidget(buttons);
    resize(520, sizeHint().height());
    proposeOutput();
    updateState();
}

void ExportDialog::setRunsChecked(const QList<qint64>& ids)
{
    if (m_run) {
        if (!ids.isEmpty())
            m_run->setCurrentIndex(std::max(0, m_run->findData(ids.first())));
        return;
    }
    for (int i = 0; i < m_runs->count(); ++i) {
        QListWidgetItem* item = m_runs->item(i);
        item->setCheckState(ids.contains(item->data(Qt::UserRole).toLongLong()) ? Qt::Checked : Qt::Unchecked);
    }
}

QList<qint64> ExportDialog::checkedRuns() const
{
    QList<qint64> ids;
    if (m_run) {
        if (m_run->currentIndex() >= 0)
            ids << m_run->currentData().toLongLong();
        return ids;
    }
    for (int i = 0; i < m_runs->count(); ++i) {
        if (m_runs->item(i)->checkState() == Qt::Checked)
            ids << m_runs->item(i)->data(Qt::UserRole).toLongLong();
    }
    return ids;
}

QString ExportDialog::problem() const
{
    const QList<qint64> ids = checkedRuns();
    if (ids.isEmpty())
        return m_mode == ExportRun ? tr("The workspace has no run to export.") : tr("Check at least one run.");
    if (m_mode == MergeRuns && ids.size() < 2)
        return tr("Check at least two runs to merge.");
    if (m_out && m_out->text().trimmed().isEmpty())
        return m_mode == ExportRun ? tr("Choose an output folder.") : tr("Choose an output file.");
    return {};
}

QStringList ExportDialog::arguments() const
{
    if (!problem().isEmpty())
        return {};
    const QString ids = joinIds(checkedRuns());
    switch (m_mode) {
    case ExportRun: {
        QStringList args { QStringLiteral("export"), QStringLiteral("--run"), ids, QStringLiteral("--format"),
            m_format->currentData().toString() };
        if (m_format->currentData().toString() == QLatin1String("gguf"))
            args << QStringLiteral("--gguf-type") << m_ggufType->currentData().toString();
        args << QStringLiteral("--out") << m_out->text().trimmed();
        return args;
    }
    case MergeRuns:
        return QStringList { QStringLiteral("merge"), QStringLiteral("--runs"), ids, QStringLiteral("--method"),
            m_method->currentData().toString() }
        + QProcess::splitCommand(m_parameters->text());
    case ExportMetrics:
        return { QStringLiteral("metrics"), QStringLiteral("--run"), ids, QStringLiteral("--format"),
            m_format->currentData().toString(), QStringLiteral("--out"), m_out->text().trimmed() };
    }
    return {};
}

QString ExportDialog::description() const
{
    const QList<qint64> ids = checkedRuns();
    switch (m_mode) {
    case ExportRun:
        return tr("Exporting run %1 as %2").arg(runList(ids), m_format->currentData().toString());
    case MergeRuns:
        return tr("Merging runs %1 (%2)").arg(runList(ids), m_method->currentData().toString());
    case ExportMetrics:
        return tr("Writing the metrics of %1 %2 as %3")
            .arg(ids.size() == 1 ? tr("run") : tr("runs"), runList(ids), m_format->currentData().toString());
    }
    return {};
}

void ExportDialog::updateState()
{
    const QString p = problem();
    m_problem->setText(p);
    m_problem->setVisible(!p.isEmpty());
}

void ExportDialog::proposeOutput()
{
    if (!m_out || m_outEdited)
        return;
    const QList<qint64> ids = checkedRuns();
    const QString exports = QDir(m_workspace).filePath(QStringLiteral("exports"));
    QString name;
    if (m_mode == ExportRun) {
        QString format = m_format->currentData().toString();
        if (format == QLatin1String("gguf"))
            format += QLatin1Char('-') + m_ggufType->currentData().toString();
        name = ids.isEmpty() ? QString() : QStringLiteral("run-%1-%2").arg(ids.first()).arg(format);
    } else {
        QStringList parts;
        for (qint64 id : ids)
            parts << QString::number(id);
        name = ids.isEmpty()
            ? QString()
            : QStringLiteral("metrics-%1.%2").arg(parts.join(QLatin1Char('-')), m_format->currentData().toString());
    }
    m_out->setText(name.isEmpty() ? QString() : QDir(exports).filePath(name));
}

void ExportDialog::browse()
{
    QString chosen;
    if (m_mode == ExportRun)
        chosen = QFileDialog::getExistingDirectory(this, tr("Output Folder"), m_out->text());
    else
        chosen = QFileDialog::getSaveFileName(this, tr("Metrics File"), m_out->text(),
            m_format->currentData().toString() == QLatin1String("csv") ? tr("CSV (*.csv)") : tr("JSON (*.json)"));
    if (chosen.isEmpty())
        return;
    m_outEdited = true;
    m_out->setText(chosen);
}

} // namespace tunebench::ui
