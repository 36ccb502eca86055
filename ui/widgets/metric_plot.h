#pragma once

#include "core/store/metrics.h"
#include "ui/widgets/qcustomplot_include.h"

#include <QTimer>

#include <optional>
#include <vector>

namespace tunebench::ui {

// One metric of one run against the training step. Data changes take effect
// at once; the redraw is coalesced with a single-shot timer, so a burst of
// appends costs one replot.
class MetricPlot : public QCustomPlot {
    Q_OBJECT

public:
    explicit MetricPlot(QWidget* parent = nullptr);

    // Replaces the curve with these points (sorted by step, as MetricQuery returns them).
    void setSeries(const QString& metric, const std::vector<MetricPoint>& points);
    // Adds points newer than lastStep().
    void appendPoints(const std::vector<MetricPoint>& points);
    void clearSeries();

    int pointCount() const;
    // The step of the last point, to ask the store only for newer ones.
    std::optional<std::int64_t> lastStep() const { return m_lastStep; }
    // True while a replot is pending (for tests that want the drawn state).
    bool replotPending() const { return m_replotTimer.isActive(); }

private:
    void scheduleReplot();
    void redraw();

    QCPGraph* m_graph;
    QTimer m_replotTimer;
    std::optional<std::int64_t> m_lastStep;
};

} // namespace tunebench::ui
