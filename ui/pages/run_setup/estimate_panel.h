#pragma once

#include "core/train/run_estimate.h"

#include <QFutureWatcher>
#include <QTimer>
#include <QWidget>

#include <cstdint>
#include <functional>
#include <optional>

class QLabel;

namespace tunebench::ui {

struct ModelInspection;

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
    MemorySettings settings;
    QString key; // the model, the method and the seed: a count made for another key is stale
};

// The Run Setup page's Estimate box: the trainable parameters, counted off the GUI thread 300 ms after the
// model or method last changed, and the memory they need (core's estimateMemory, docs/architecture.md).
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

private:
    void start();
    void finished();

    InputSource m_inputs;
    QLabel* m_label;
    QTimer m_timer;
    QFutureWatcher<TrainableEstimate> m_watcher;
    QString m_requested;
    std::optional<TrainableEstimate> m_estimate;
    std::optional<MemoryEstimate> m_memory;
};

} // namespace tunebench::ui
