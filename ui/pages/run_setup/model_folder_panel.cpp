#include "ui/pages/run_setup/model_folder_panel.h"
#include "ui/widgets/user_text.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>

namespace tunebench::ui {

namespace {

constexpr int kDebounceMs = 400;

QString formatCount(std::int64_t n)
{
    if (n >= 1'000'000'000)
        return QStringLiteral("%1B").arg(double(n) / 1e9, 0, 'f', 2);
    if (n >= 1'000'000)
        return QStringLiteral("%1M").arg(double(n) / 1e6, 0, 'f', 2);
    if (n >= 10'000)
        return QStringLiteral("%1K").arg(double(n) / 1e3, 0, 'f', 1);
    return QString::number(n);
}

QString fromView(std::string_view s)
{
    return QString::fromUtf8(s.data(), qsizetype(s.size()));
}

ModelInspection inspectFolder(const QString& dir)
{
    ModelInspection out;
    out.dir = dir;
    try {
        static_cast<ModelFolderFacts&>(out) = inspectModelFolder(dir.toStdString());
    } catch (const std::exception& e) {
        out.error = QString::fromUtf8(e.what());
    }
    return out;
}

} // namespace

ModelFolderPanel::ModelFolderPanel(QWidget* parent)
    : QWidget(parent)
{
    m_edit = new QLineEdit;
    m_edit->setObjectName(QStringLiteral("modelPath"));
    m_edit->setPlaceholderText(tr("A Hugging Face model folder (config.json, *.safetensors, tokenizer.json)"));
    auto* browseButton = new QPushButton(tr("Browse\u2026"));
    connect(browseButton, &QPushButton::clicked, this, &ModelFolderPanel::browse);
    m_info = new QLabel(tr("No model chosen."));
    m_info->setObjectName(QStringLiteral("modelInfo"));
    m_info->setWordWrap(true);
    makePlainLabel(m_info); // it quotes the folder and its files' errors
    m_info->setTextInteractionFlags(Qt::TextSelectableByMouse);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    auto* row = new QHBoxLayout;
    row->addWidget(m_edit, 1);
    row->addWidget(browseButton);
    layout->addLayout(row);
    layout->addWidget(m_info);

    m_timer.setSingleShot(true);
    m_timer.setInterval(kDebounceMs);
    connect(&m_timer, &QTimer::timeout, this, &ModelFolderPanel::inspect);
    connect(m_edit, &QLineEdit::textChanged, this, [this] {
        m_timer.start();
        Q_EMIT pathChanged();
    });
    connect(&m_watcher, &QFutureWatcher<ModelInspection>::finished, this, &ModelFolderPanel::watcherFinished);
}

ModelFolderPanel::~ModelFolderPanel()
{
    // The job holds no pointer to the panel; its result is just dropped.
    m_watcher.disconnect(this);
}

QString ModelFolderPanel::path() const
{
    return m_edit->text().trimmed();
}

QString ModelFolderPanel::absolutePath() const
{
    const QString dir = path();
    return dir.isEmpty() ? QString() : QFileInfo(dir).absoluteFilePath();
}

void ModelFolderPanel::setPath(const QString& dir)
{
    m_edit->setText(dir);
}

bool ModelFolderPanel::inspectionCurrent() const
{
    return m_inspection && !m_watcher.isRunning() && m_inspection->dir == absolutePath();
}

bool ModelFolderPanel::checkPending() const
{
    return m_timer.isActive() || m_watcher.isRunning();
}

void ModelFolderPanel::browse()
{
    const QString dir = QFileDialog::getExistingDirectory(this, tr("Choose a model folder"), m_edit->text());
    if (!dir.isEmpty())
        setPath(dir);
}

void ModelFolderPanel::inspect()
{
    const QString absolute = absolutePath();
    if (absolute.isEmpty()) {
        m_inspection.reset();
        m_requested.clear();
        m_info->setText(tr("No model chosen."));
        m_info->setStyleSheet(QString());
        Q_EMIT inspected();
        return;
    }
    if (m_inspection && m_inspection->dir == absolute && !m_watcher.isRunning())
        return;
    m_requested = absolute;
    m_info->setText(tr("Checking %1\u2026").arg(QDir::toNativeSeparators(absolute)));
    m_info->setStyleSheet(QString());
    m_watcher.setFuture(QtConcurrent::run(inspectFolder, absolute));
}

void ModelFolderPanel::inspectNow()
{
    m_timer.stop();
    m_requested = absolutePath();
    showResult(inspectFolder(m_requested));
}

void ModelFolderPanel::watcherFinished()
{
    const ModelInspection result = m_watcher.result();
    if (result.dir != m_requested)
        return; // an older request
    showResult(result);
}

void ModelFolderPanel::showResult(const ModelInspection& result)
{
    m_inspection = result;
    if (!result.error.isEmpty()) {
        m_info->setText(userText(result.error, /*multiLine=*/true));
        m_info->setStyleSheet(QStringLiteral("color: #c62828;"));
    } else {
        const ModelConfig& c = result.config;
        m_info->setText(tr("%1 \u00b7 %2 parameters \u00b7 %3 \u00b7 vocabulary %4 \u00b7 %5 layers \u00b7 "
                           "hidden %6 \u00b7 %7 heads (%8 key/value)%9")
                            .arg(fromView(architectureClassName(c.architecture)), formatCount(result.parameters),
                                fromView(storageDtypeName(c.torchDtype)))
                            .arg(c.vocabSize)
                            .arg(c.numLayers)
                            .arg(c.hiddenSize)
                            .arg(c.numHeads)
                            .arg(c.numKvHeads)
                            .arg(result.chatTemplate ? tr(" \u00b7 chat template") : QString()));
        m_info->setStyleSheet(QString());
    }
    Q_EMIT inspected();
}

} // namespace tunebench::ui
