#pragma once

#include "core/train/run_estimate.h"

#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

class QLabel;

namespace tunebench::ui {

struct ModelInspection;
class WorkspaceSession;

// The token lengths of a dataset's examples encoded with a model's tokenizer and chat template.
struct DatasetLengths {
    QString key; // the model folder and the dataset they were counted for
    QString error;
    QString datasetName;
    std::vector<std::int64_t> lengths;
};

// Trainable parameters from attaching the adapter to the model for real (core's countTrainable).
struct TrainableEstimate {
    QString key; // what it was computed for
    QString error;
    TrainableCount count;
};

// What the estimate is of: the Run Setup form as it stands.
struct EstimateInputs {
    const ModelInspection* model = nullptr; // the last inspection of the model folder; null while none
    bool modelCurrent = false; // that inspection is of the folder now chosen, with none under way
    MethodChoice method;
    MemorySettings settings; // sequenceLen left at 0: the panel sets it from the dataset's lengths
    QString key; // the model, the method and the seed: a count made for another key is stale
    WorkspaceSession* session = nullptr;
    std::int64_t datasetId = 0; // a workspace dataset, 0 for none (or a file not imported yet)
};

// The Run Setup page's Estimate box: the trainable parameters, counted off the GUI thread 300 ms after the
// model or method last changed, and the memory they need (core's estimateMemory, docs/architecture.md), with
// activations at the sequence length the chosen dataset's examples give (their token lengths, counted off the
// GUI thread once per model and dataset: the longest example, capped at cutoff_len; full rows with packing),
// and the label says which length it used.
class EstimatePanel : public QWidget {
    Q_OBJECT

public:
    using InputSource = std::function<EstimateInputs()>;

    explicit EstimatePanel(InputSource inputs, QWidget* parent = nullptr);
    ~EstimatePanel() override;

    // Counts again once the form has been still for a moment (nothing happens when the count is current).
    void schedule();
    // Shows the current count and memory, or what they wait for.
    void refresh();
    bool pending() const;
    // The trainable parameters of the current adapter on the current model, once counted.
    std::optional<std::int64_t> trainableParameters() const;
    std::optional<MemoryEstimate> memoryEstimate() const { return m_memory; }
    // The sequence length the last memory estimate used.
    std::optional<EstimateSequenceLength> sequenceLength() const { return m_sequence; }

private:
    void start();
    void startLengths(const EstimateInputs& in);
    void finished();
    // The dataset lengths for the inputs, when counted.
    const DatasetLengths* currentLengths(const EstimateInputs& in) const;

    InputSource m_inputs;
    QLabel* m_label;
    QTimer m_timer;
    QFutureWatcher<TrainableEstimate> m_watcher;
    QString m_requested;
    std::optional<TrainableEstimate> m_estimate;
    std::optional<MemoryEstimate> m_memory;
    std::optional<EstimateSequenceLength> m_sequence;
    QFutureWatcher<DatasetLengths> m_lengthsWatcher;
    QString m_lengthsRequested;
    std::optional<DatasetLengths> m_lengths;
};

} // namespace tunebench::ui
