#include "ui/pages/run_setup/estimate_panel.h"

#include "core/method/plugin_registry.h"
#include "ui/pages/run_setup/model_folder_panel.h"

#include <QLabel>
#include <QLocale>
#include <QVBoxLayout>
#include <QtConcurrent/QtConcurrentRun>

#include <exception>

namespace tunebench::ui {

namespace {

constexpr int kDebounceMs = 300;

QString formatBytes(double bytes)
{
    return QLocale::system().formattedDataSize(static_cast<qint64>(bytes), 1, QLocale::DataSizeTraditionalFormat);
}

} // namespace

EstimatePanel::EstimatePanel(InputSource inputs, QWidget* parent)
    : QWidget(parent)
    , m_inputs(std::move(inputs))
{
    m_label = new QLabel;
    m_label->setObjectName(QStringLiteral("estimateLabel"));
    m_label->setWordWrap(true);
    m_label->setTextFormat(Qt::RichText);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_label);
    m_timer.setSingleShot(true);
    m_timer.setInterval(kDebounceMs);
    connect(&m_timer, &QTimer::timeout, this, &EstimatePanel::start);
    connect(&m_watcher, &QFutureWatcher<TrainableEstimate>::finished, this, &EstimatePanel::finished);
}

EstimatePanel::~EstimatePanel()
{
    // The job holds no pointer to the panel; its result is just dropped.
    m_watcher.disconnect(this);
}

void EstimatePanel::schedule()
{
    m_timer.start();
}

bool EstimatePanel::pending() const
{
    return m_timer.isActive() || m_watcher.isRunning();
}

std::optional<std::int64_t> EstimatePanel::trainableParameters() const
{
    if (!m_estimate || !m_estimate->error.isEmpty() || m_estimate->key != m_inputs().key)
        return std::nullopt;
    return m_estimate->count.trainable;
}

void EstimatePanel::start()
{
    const EstimateInputs in = m_inputs();
    if (!in.model || !in.model->error.isEmpty() || !in.modelCurrent)
        return;
    if (m_estimate && m_estimate->key == in.key)
        return;
    if (m_requested == in.key && m_watcher.isRunning())
        return;
    m_requested = in.key;
    const PluginRegistry& plugins = defaultPluginRegistry(); // loaded on the GUI thread, used read-only
    const ModelFolderFacts facts = *in.model;
    m_watcher.setFuture(
        QtConcurrent::run([&plugins, facts, key = in.key, dir = in.model->dir.toStdString(), method = in.method]() {
            TrainableEstimate out;
            out.key = key;
            try {
                out.count = countTrainable(dir, facts, method, plugins);
            } catch (const std::exception& e) {
                out.error = QString::fromUtf8(e.what());
            }
            return out;
        }));
    refresh();
}

void EstimatePanel::finished()
{
    const TrainableEstimate result = m_watcher.result();
    if (result.key != m_requested)
        return;
    m_estimate = result;
    refresh();
    if (m_estimate->key != m_inputs().key)
        schedule(); // the form moved on meanwhile
}

void EstimatePanel::refresh()
{
    m_memory.reset();
    const EstimateInputs in = m_inputs();
    if (!in.model) {
        m_label->setText(tr("Choose a model folder to see the trainable parameters and the memory needed."));
        return;
    }
    if (!in.model->error.isEmpty()) {
        m_label->setText(tr("The model folder does not load (see above)."));
        return;
    }
    if (!m_estimate || m_estimate->key != in.key) {
        m_label->setText(tr("Attaching the adapter to count its parameters\u2026"));
        return;
    }
    if (!m_estimate->error.isEmpty()) {
        m_label->setText(tr("Trainable parameters: %1").arg(m_estimate->error.toHtmlEscaped()));
        return;
    }
    const TrainableCount& count = m_estimate->count;
    const MemoryEstimate m = estimateMemory(in.model->config, count, in.settings);
    m_memory = m;
    const double share = count.total > 0 ? 100.0 * double(count.trainable) / double(count.total) : 0.0;
    m_label->setText(
        tr("<b>Trainable parameters: %1</b> of %2 (%3%)<br>"
           "<b>Memory \u2248 %4</b>: weights %5, gradients %6, optimiser state %7%8, activations %9 "
           "(batch %10 \u00d7 %11 tokens%12)")
            .arg(QLocale::system().toString(qlonglong(count.trainable)),
                QLocale::system().toString(qlonglong(count.total)))
            .arg(share, 0, 'g', 3)
            .arg(formatBytes(m.total()), formatBytes(m.weights), formatBytes(m.gradients), formatBytes(m.optimizer),
                m.reference > 0 ? tr(", reference copy %1").arg(formatBytes(m.reference)) : QString(),
                formatBytes(m.activations))
            .arg(in.settings.batchSize)
            .arg(in.settings.cutoffLen)
            .arg(count.pairwise ? tr(", chosen and rejected") : QString()));
}

} // namespace tunebench::ui
