#include "ui/pages/run_setup/estimate_panel.h"

#include "core/data/dataset_select.h"
#include "core/method/plugin_registry.h"
#include "core/tokenizer/chat_template.h"
#include "core/tokenizer/tokenizer.h"
#include "ui/pages/run_setup/model_folder_panel.h"
#include "ui/widgets/user_text.h"
#include "ui/workspace_session.h"

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

QString lengthsKey(const EstimateInputs& in)
{
    return in.model && in.datasetId > 0 ? in.model->dir + QLatin1Char('|') + QString::number(in.datasetId) : QString();
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
    connect(&m_lengthsWatcher, &QFutureWatcher<DatasetLengths>::finished, this, [this] {
        DatasetLengths result = m_lengthsWatcher.result();
        if (result.key != m_lengthsRequested)
            return;
        m_lengths = std::move(result);
        refresh();
    });
}

EstimatePanel::~EstimatePanel()
{
    // The jobs hold no pointer to the panel; their results are just dropped.
    m_watcher.disconnect(this);
    m_lengthsWatcher.disconnect(this);
}

const DatasetLengths* EstimatePanel::currentLengths(const EstimateInputs& in) const
{
    const QString key = lengthsKey(in);
    return !key.isEmpty() && m_lengths && m_lengths->key == key ? &*m_lengths : nullptr;
}

void EstimatePanel::startLengths(const EstimateInputs& in)
{
    const QString key = lengthsKey(in);
    if (key.isEmpty() || currentLengths(in) || (m_lengthsRequested == key && m_lengthsWatcher.isRunning()))
        return;
    Workspace* ws = in.session ? in.session->workspace() : nullptr;
    if (!ws)
        return;
    m_lengthsRequested = key;
    DatasetLengths failed;
    failed.key = key;
    LoadedDataset dataset;
    try {
        dataset = loadDataset(*ws, in.datasetId); // the store is read here, on its own thread
    } catch (const std::exception& e) {
        failed.error = QString::fromUtf8(e.what());
        m_lengths = failed;
        return;
    }
    m_lengthsWatcher.setFuture(QtConcurrent::run([key, dir = in.model->dir.toStdString(), d = std::move(dataset)] {
        DatasetLengths out;
        out.key = key;
        out.datasetName = QString::fromStdString(d.name);
        try {
            const Tokenizer tokenizer = Tokenizer::fromFolder(dir);
            const std::optional<ChatTemplate> chat = ChatTemplate::fromFolderIfPresent(dir);
            out.lengths = encodedExampleLengths(d.records, d.format, tokenizer, chat ? &*chat : nullptr);
        } catch (const std::exception& e) {
            out.error = QString::fromUtf8(e.what());
        }
        return out;
    }));
}

void EstimatePanel::schedule()
{
    m_timer.start();
}

bool EstimatePanel::pending() const
{
    return m_timer.isActive() || m_watcher.isRunning() || m_lengthsWatcher.isRunning();
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
    startLengths(in);
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
    m_sequence.reset();
    EstimateInputs in = m_inputs();
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
    // The sequence length: from the dataset's examples when they are counted, else cutoff_len, said which.
    const DatasetLengths* lengths = currentLengths(in);
    const bool counted = lengths && lengths->error.isEmpty();
    const EstimateSequenceLength sequence = sequenceLengthForEstimate(
        counted ? lengths->lengths : std::vector<std::int64_t> {}, in.settings.cutoffLen, in.settings.packing);
    in.settings.sequenceLen = sequence.tokens;
    m_sequence = sequence;
    QString basis;
    switch (sequence.basis) {
    case EstimateSequenceLength::Basis::LongestExample:
        basis = sequence.longest > in.settings.cutoffLen
            ? tr("the longest example of %1 (%2 tokens) cut at cutoff_len")
                  .arg(userText(lengths->datasetName).toHtmlEscaped())
                  .arg(sequence.longest)
            : tr("the longest example of %1").arg(userText(lengths->datasetName).toHtmlEscaped());
        break;
    case EstimateSequenceLength::Basis::Packed:
        basis = tr("packing fills rows of cutoff_len with %1").arg(userText(lengths->datasetName).toHtmlEscaped());
        break;
    case EstimateSequenceLength::Basis::CutoffLen:
        if (in.datasetId <= 0)
            basis = tr("cutoff_len: choose a workspace dataset to use its lengths");
        else if (lengths && !lengths->error.isEmpty())
            basis = tr("cutoff_len: the dataset's lengths could not be counted: %1")
                        .arg(userText(lengths->error).toHtmlEscaped());
        else
            basis = tr("cutoff_len, while the dataset's lengths are counted");
        break;
    }
    const MemoryEstimate m = estimateMemory(in.model->config, count, in.settings);
    m_memory = m;
    const double share = count.total > 0 ? 100.0 * double(count.trainable) / double(count.total) : 0.0;
    m_label->setText(
        tr("<b>Trainable parameters: %1</b> of %2 (%3%)<br>"
           "<b>Memory \u2248 %4</b>: weights %5, gradients %6, optimiser state %7%8, activations %9%14 "
           "(batch %10 \u00d7 %11 tokens%12; sequence length from %13)")
            .arg(QLocale::system().toString(qlonglong(count.trainable)),
                QLocale::system().toString(qlonglong(count.total)))
            .arg(share, 0, 'g', 3)
            .arg(formatBytes(m.total()), formatBytes(m.weights), formatBytes(m.gradients), formatBytes(m.optimizer),
                m.reference > 0 ? tr(", reference copy %1").arg(formatBytes(m.reference)) : QString(),
                formatBytes(m.activations))
            .arg(in.settings.batchSize)
            .arg(sequence.tokens)
            .arg(count.pairwise ? tr(", chosen and rejected") : QString(), basis,
                m.teacher > 0 ? tr(", teacher %1").arg(formatBytes(m.teacher)) : QString()));
}

} // namespace tunebench::ui
