#pragma once

#include "core/store/metrics.h"

#include <QImage>
#include <QSize>
#include <QString>

#include <vector>

namespace tunebench::ui {

struct PlotSeries {
    QString label; // the run, e.g. "#3 lora-r8"
    const std::vector<MetricPoint>* points = nullptr;
};

// One metric drawn offscreen by the GUI's MetricPlot (same axes, pens, markers
// and headroom as on screen); further runs are overlaid as extra graphs with a
// legend. scale > 1 renders more pixels for print. Needs a QApplication.
QImage renderMetricPlot(const QString& metric, const std::vector<PlotSeries>& series, QSize size, double scale = 1.0);

} // namespace tunebench::ui
