#pragma once

#include "core/data/dataset_stats.h"
#include "ui/widgets/qcustomplot_include.h"

namespace tunebench::ui {

// A token-length histogram as bars, with the cutoff length as a dashed line.
class LengthHistogram : public QCustomPlot {
    Q_OBJECT

public:
    explicit LengthHistogram(const QString& title, QWidget* parent = nullptr);

    void setHistogram(const Histogram& histogram, std::int64_t cutoffLen);
    void clearHistogram();
    int barCount() const;

private:
    QCPBars* m_bars;
    QCPItemStraightLine* m_cutoff;
    QCPTextElement* m_title;
};

} // namespace tunebench::ui
